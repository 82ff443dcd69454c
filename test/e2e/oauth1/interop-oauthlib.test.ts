import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  ALICE,
  CLIENT,
  CLIENT_ONLY,
  type ExpectedIdentity,
  expectForwarded,
  expectIdentity,
  expectRejected,
  RSA_CLIENT,
  RSA_KEYS,
  RSA_TOKEN,
  sendTo,
  startWorld,
  TOKEN,
  UNICODE_CLIENT,
  UNICODE_TOKEN,
  useWorld,
} from './world.js';

/**
 * Python oauthlib (the library behind requests-oauthlib and Authlib's predecessors) signs; Node
 * sends exactly what it produced to the running gateway. oauthlib comes from Debian
 * (python3-oauthlib; RSA also needs python3-cryptography and python3-jwt), so the system
 * interpreter is used, never whatever `python3` is first on PATH. A missing module fails the run:
 * interop that silently skips proves nothing.
 */

const PYTHON = '/usr/bin/python3';
const SIGNER = fileURLToPath(new URL('./python/sign_oauthlib.py', import.meta.url));

type SignatureType = 'AUTH_HEADER' | 'QUERY' | 'BODY';

interface OauthlibSpec {
  client_key: string;
  client_secret: string;
  resource_owner_key?: string;
  resource_owner_secret?: string;
  signature_method: string;
  signature_type: SignatureType;
  rsa_key?: string;
  realm?: string;
  method: string;
  url: string;
  body?: string;
  headers?: Record<string, string>;
}

interface Signed {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

function requirePythonModules(): void {
  const checks: [module: string, debianPackage: string][] = [
    ['oauthlib', 'python3-oauthlib'],
    ['cryptography', 'python3-cryptography'],
    ['jwt', 'python3-jwt'],
  ];
  const missing: string[] = [];
  for (const [module, pkg] of checks) {
    const run = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (run.error !== undefined || run.status !== 0) missing.push(`${module} (apt-get install ${pkg})`);
  }
  if (missing.length > 0) {
    throw new Error(
      `oauthlib interop needs ${PYTHON} with: ${missing.join(', ')}. ` +
        'These tests never skip; install the Debian packages (.ci/run does).',
    );
  }
}

function signWithOauthlib(specs: readonly OauthlibSpec[]): Promise<Signed[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SIGNER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) {
        reject(new Error(`oauthlib signer exited ${code}: ${stderr}`));
        return;
      }
      resolve((JSON.parse(stdout) as { signed: Signed[] }).signed);
    });
    child.stdin.end(JSON.stringify(specs));
  });
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

const ALICE_CREDS = {
  client_key: CLIENT.clientId,
  client_secret: CLIENT.clientSecret,
  resource_owner_key: TOKEN.token,
  resource_owner_secret: TOKEN.tokenSecret,
};
const RSA_CREDS = {
  client_key: RSA_CLIENT.clientId,
  client_secret: '',
  resource_owner_key: RSA_TOKEN.token,
  resource_owner_secret: '',
  rsa_key: RSA_KEYS.privateKey,
};
const UNICODE_CREDS = {
  client_key: UNICODE_CLIENT.clientId,
  client_secret: UNICODE_CLIENT.clientSecret,
  resource_owner_key: UNICODE_TOKEN.token,
  resource_owner_secret: UNICODE_TOKEN.tokenSecret,
};
const CAROL: ExpectedIdentity = { user: 'carol', clientId: RSA_CLIENT.clientId, scope: 'photos:read' };
const BOB: ExpectedIdentity = { user: 'bob', clientId: UNICODE_CLIENT.clientId, scope: 'photos:read' };

/** Query and form values with everything §3.6 and form decoding disagree on. */
const TRICKY_QUERY =
  "title=caf%C3%A9&mood=%F0%9F%98%80&r=!*'()&enc=%21%2A%27%28%29&sp=a+b&sp2=a%20b&plus=1%2B1&pct=100%25&tag=b&tag=a&tag=b&empty=&flag";
const TRICKY_BODY =
  'caption=caf%C3%A9+%F0%9F%98%80&r=%21%2A%27%28%29&plus=1%2B1&pct=100%25&tag=z&tag=a&empty=&note=hello+world';

interface Case {
  readonly name: string;
  /** Built once the gateway's origin is known. */
  readonly spec: (origin: string) => OauthlibSpec;
  readonly identity: ExpectedIdentity;
}

function get(
  name: string,
  creds: Partial<OauthlibSpec> & Pick<OauthlibSpec, 'client_key' | 'client_secret'>,
  method: string,
  type: SignatureType,
  target: string,
  identity: ExpectedIdentity,
  extra: Partial<OauthlibSpec> = {},
): Case {
  return {
    name,
    identity,
    spec: (origin) => ({
      ...creds,
      signature_method: method,
      signature_type: type,
      method: 'GET',
      url: `${origin}${target}`,
      ...extra,
    }),
  };
}

function post(
  name: string,
  creds: Partial<OauthlibSpec> & Pick<OauthlibSpec, 'client_key' | 'client_secret'>,
  method: string,
  type: SignatureType,
  target: string,
  body: string,
  identity: ExpectedIdentity,
): Case {
  return {
    name,
    identity,
    spec: (origin) => ({
      ...creds,
      signature_method: method,
      signature_type: type,
      method: 'POST',
      url: `${origin}${target}`,
      body,
      headers: { ...FORM },
    }),
  };
}

const ACCEPTED: readonly Case[] = [
  // Signature methods, header placement.
  get('AUTH_HEADER HMAC-SHA1', ALICE_CREDS, 'HMAC-SHA1', 'AUTH_HEADER', '/photos?size=original', ALICE),
  get('AUTH_HEADER HMAC-SHA256', ALICE_CREDS, 'HMAC-SHA256', 'AUTH_HEADER', '/photos?size=original', ALICE),
  get('AUTH_HEADER HMAC-SHA512', ALICE_CREDS, 'HMAC-SHA512', 'AUTH_HEADER', '/photos?size=original', ALICE),
  get('AUTH_HEADER RSA-SHA1', RSA_CREDS, 'RSA-SHA1', 'AUTH_HEADER', '/photos/rsa?size=small', CAROL),
  get('AUTH_HEADER RSA-SHA256', RSA_CREDS, 'RSA-SHA256', 'AUTH_HEADER', '/photos/rsa?size=small', CAROL),
  get('AUTH_HEADER with realm', ALICE_CREDS, 'HMAC-SHA1', 'AUTH_HEADER', '/photos?size=large', ALICE, {
    // oauthlib does not escape `"` in the realm, so keep to characters it writes correctly.
    realm: 'Photos API, https://photos.example.net/ (v1)',
  }),
  get(
    'AUTH_HEADER two-legged',
    { client_key: CLIENT.clientId, client_secret: CLIENT.clientSecret },
    'HMAC-SHA1',
    'AUTH_HEADER',
    '/photos/public',
    CLIENT_ONLY,
  ),
  get(
    'AUTH_HEADER tricky query',
    ALICE_CREDS,
    'HMAC-SHA256',
    'AUTH_HEADER',
    `/photos?${TRICKY_QUERY}`,
    ALICE,
  ),
  get(
    'AUTH_HEADER unicode path',
    ALICE_CREDS,
    'HMAC-SHA1',
    'AUTH_HEADER',
    '/albums/%C3%A9t%C3%A9/%F0%9F%8C%9E',
    ALICE,
  ),
  get('AUTH_HEADER unicode secrets', UNICODE_CREDS, 'HMAC-SHA1', 'AUTH_HEADER', '/photos?who=%C3%A9', BOB),
  post(
    'AUTH_HEADER form body',
    ALICE_CREDS,
    'HMAC-SHA1',
    'AUTH_HEADER',
    '/photos/upload?album=summer',
    TRICKY_BODY,
    ALICE,
  ),
  // Query placement.
  get('QUERY HMAC-SHA1', ALICE_CREDS, 'HMAC-SHA1', 'QUERY', '/photos?size=original', ALICE),
  get('QUERY HMAC-SHA256', ALICE_CREDS, 'HMAC-SHA256', 'QUERY', '/photos?size=original', ALICE),
  get('QUERY RSA-SHA1', RSA_CREDS, 'RSA-SHA1', 'QUERY', '/photos/rsa', CAROL),
  get('QUERY tricky query', ALICE_CREDS, 'HMAC-SHA1', 'QUERY', `/photos?${TRICKY_QUERY}`, ALICE),
  get(
    'QUERY two-legged',
    { client_key: CLIENT.clientId, client_secret: CLIENT.clientSecret },
    'HMAC-SHA256',
    'QUERY',
    '/photos',
    CLIENT_ONLY,
  ),
  get('QUERY unicode secrets', UNICODE_CREDS, 'HMAC-SHA256', 'QUERY', '/photos', BOB),
  // Body placement.
  post('BODY HMAC-SHA1', ALICE_CREDS, 'HMAC-SHA1', 'BODY', '/photos/upload', 'caption=sunset', ALICE),
  post(
    'BODY HMAC-SHA256',
    ALICE_CREDS,
    'HMAC-SHA256',
    'BODY',
    '/photos/upload?album=summer',
    'caption=sunset',
    ALICE,
  ),
  post('BODY RSA-SHA1', RSA_CREDS, 'RSA-SHA1', 'BODY', '/photos/upload', 'caption=sunset', CAROL),
  post(
    'BODY tricky body',
    ALICE_CREDS,
    'HMAC-SHA1',
    'BODY',
    `/photos/upload?${TRICKY_QUERY}`,
    TRICKY_BODY,
    ALICE,
  ),
  post('BODY unicode secrets', UNICODE_CREDS, 'HMAC-SHA1', 'BODY', '/photos/upload', TRICKY_BODY, BOB),
];

// 127.0.0.1 is the "ingress": its X-Forwarded-Proto/Host/Port are believed.
const interop = useWorld({ config: { trustedProxies: ['127.0.0.1/32'] } });
const signed = new Map<string, Signed>();

beforeAll(async () => {
  requirePythonModules();
  const origin = interop.world.origin;
  const extra: [string, OauthlibSpec][] = [
    [
      'PLAINTEXT',
      {
        ...ALICE_CREDS,
        signature_method: 'PLAINTEXT',
        signature_type: 'AUTH_HEADER',
        method: 'GET',
        url: `${origin}/photos/plain`,
      },
    ],
    [
      'https ingress',
      {
        ...ALICE_CREDS,
        signature_method: 'HMAC-SHA1',
        signature_type: 'AUTH_HEADER',
        method: 'GET',
        url: 'https://API.Example.com:443/photos/ingress?x=1',
      },
    ],
  ];
  const all: [string, OauthlibSpec][] = [
    ...ACCEPTED.map((c): [string, OauthlibSpec] => [c.name, c.spec(origin)]),
    ...extra,
  ];
  const results = await signWithOauthlib(all.map(([, spec]) => spec));
  for (const [index, [name]] of all.entries()) signed.set(name, results[index]!);
}, 60_000);

function targetOf(url: string, origin: string): string {
  expect(url.startsWith(origin)).toBe(true);
  return url.slice(origin.length);
}

describe('oauthlib signs, the gateway accepts', () => {
  test.each(ACCEPTED.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const request = signed.get(testCase.name)!;
    const target = targetOf(request.url, interop.world.origin);
    const before = interop.world.upstream.requests.length;
    const reply = await sendTo(interop.world.origin, target, {
      method: request.method,
      headers: request.headers,
      ...(request.body === null ? {} : { body: request.body }),
    });
    const record = expectForwarded(reply, interop.world.upstream, before + 1);
    expect(record.method).toBe(request.method);
    expect(record.url).toBe(target);
    expect(record.body.toString('utf8')).toBe(request.body ?? '');
    expectIdentity(record, testCase.identity);
    if (request.headers['Authorization'] !== undefined) {
      expect(request.headers['Authorization']).toMatch(/^OAuth /);
    } else {
      expect(`${target}${request.body ?? ''}`).toContain('oauth_signature=');
    }
  });
});

describe('PLAINTEXT (§3.4.4) only over TLS', () => {
  test('over plain http it is refused with 400, and the refusal does not burn the nonce', async () => {
    const request = signed.get('PLAINTEXT')!;
    const target = targetOf(request.url, interop.world.origin);
    expect(request.headers['Authorization']).toContain('oauth_signature_method="PLAINTEXT"');
    const before = interop.world.upstream.requests.length;

    const overHttp = await sendTo(interop.world.origin, target, { headers: request.headers });
    expectRejected(overHttp, 400, 'invalid_request', 'signature_method_rejected');
    const claimedHttp = await sendTo(interop.world.origin, target, {
      headers: { ...request.headers, 'X-Forwarded-Proto': 'http' },
    });
    expectRejected(claimedHttp, 400, 'invalid_request', 'signature_method_rejected');
    expect(interop.world.upstream.requests).toHaveLength(before);

    // Same signed request, now as a TLS-terminating proxy on a trusted address forwards it.
    const overHttps = await sendTo(interop.world.origin, target, {
      headers: { ...request.headers, 'X-Forwarded-Proto': 'https' },
    });
    const record = expectForwarded(overHttps, interop.world.upstream, before + 1);
    expectIdentity(record, ALICE);
  });

  test('X-Forwarded-Proto from an untrusted peer does not make http count as TLS', async () => {
    const untrusted = await startWorld({ config: { trustedProxies: ['10.0.0.0/8'] } });
    try {
      const [request] = await signWithOauthlib([
        {
          ...ALICE_CREDS,
          signature_method: 'PLAINTEXT',
          signature_type: 'AUTH_HEADER',
          method: 'GET',
          url: `${untrusted.origin}/photos`,
        },
      ]);
      const reply = await untrusted.send('/photos', {
        headers: { ...request!.headers, 'X-Forwarded-Proto': 'https' },
      });
      expectRejected(reply, 400, 'invalid_request', 'signature_method_rejected');
      expect(untrusted.upstream.requests).toHaveLength(0);
    } finally {
      await untrusted.close();
    }
  });
});

describe('behind a trusted ingress, the base string URI uses X-Forwarded-* (§3.4.1.2)', () => {
  test('signed for https://api.example.com (mixed case, default port) is accepted', async () => {
    const request = signed.get('https ingress')!;
    const target = '/photos/ingress?x=1';
    const forwardedHeaders = {
      ...request.headers,
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'api.example.com',
      'X-Forwarded-Port': '443',
    };
    const before = interop.world.upstream.requests.length;
    // Without the forwarded headers the gateway sees http://127.0.0.1:<port>: a different base string.
    const direct = await sendTo(interop.world.origin, target, { headers: request.headers });
    expectRejected(direct, 401, 'invalid_signature', 'signature_invalid');
    const reply = await sendTo(interop.world.origin, target, { headers: forwardedHeaders });
    const record = expectForwarded(reply, interop.world.upstream, before + 1);
    expect(record.url).toBe(target);
    expectIdentity(record, ALICE);
  });
});
