import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EchoBody } from '../../helpers/upstream.js';
import {
  ALICE,
  CLIENT,
  CLIENT_ONLY,
  type ExpectedIdentity,
  expectForwarded,
  expectIdentity,
  RSA_CLIENT,
  RSA_KEYS,
  RSA_TOKEN,
  TOKEN,
  UNICODE_CLIENT,
  UNICODE_TOKEN,
  useWorld,
} from './world.js';

/**
 * `oauth-gateway sign` (DESIGN "CLI contract") from the built CLI, dist/main.js: the header it
 * prints, and the curl command it prints (run through bash), must both get a 200 from the
 * running gateway. `npm test` builds first; run `npm run build` before running this file alone.
 */

const MAIN = fileURLToPath(new URL('../../../dist/main.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment without any OAUTH_* secrets the developer may have exported. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('OAUTH_')) env[name] = value;
  return { ...env, ...extra };
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function sign(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run> {
  return run(process.execPath, [MAIN, 'sign', ...args], env);
}

const ALICE_ARGS = [
  '--consumer-key',
  CLIENT.clientId,
  '--consumer-secret',
  CLIENT.clientSecret,
  '--token',
  TOKEN.token,
  '--token-secret',
  TOKEN.tokenSecret,
];

const interop = useWorld();
let dir: string;
let privateKeyPath: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = await mkdtemp(join(tmpdir(), 'oauth1-sign-cli-'));
  privateKeyPath = join(dir, 'rsa-private.pem');
  await writeFile(privateKeyPath, RSA_KEYS.privateKey, { mode: 0o600 });
});
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** `Authorization: OAuth …` on one line, nothing else. */
function headerFrom(result: Run): string {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const match = /^Authorization: (OAuth .+)\n$/.exec(result.stdout);
  expect(match, result.stdout).not.toBeNull();
  return match![1]!;
}

describe('sign prints a header the gateway accepts', () => {
  test.each([
    ['HMAC-SHA1 with token', ALICE_ARGS, 'GET', '/photos?size=original&file=vacation.jpg', ALICE],
    ['HMAC-SHA256', [...ALICE_ARGS, '--signature-method', 'HMAC-SHA256'], 'GET', '/photos', ALICE],
    ['realm', [...ALICE_ARGS, '--realm', 'Photos "Example" API'], 'GET', '/photos?realm=1', ALICE],
    ['method in lower case', ALICE_ARGS, 'delete', '/photos/42', ALICE],
    [
      'two-legged',
      ['--consumer-key', CLIENT.clientId, '--consumer-secret', CLIENT.clientSecret],
      'GET',
      '/photos/public',
      CLIENT_ONLY,
    ],
    [
      'unicode secrets and query',
      [
        '--consumer-key',
        UNICODE_CLIENT.clientId,
        '--consumer-secret',
        UNICODE_CLIENT.clientSecret,
        '--token',
        UNICODE_TOKEN.token,
        '--token-secret',
        UNICODE_TOKEN.tokenSecret,
      ],
      'GET',
      "/photos?title=caf%C3%A9&mood=%F0%9F%98%80&r=!*'()&sp=a+b",
      { user: 'bob', clientId: UNICODE_CLIENT.clientId, scope: 'photos:read' },
    ],
  ] as [string, string[], string, string, ExpectedIdentity][])(
    '%s',
    async (_label, args, method, target, identity) => {
      const header = headerFrom(await sign([...args, method, `${interop.world.origin}${target}`]));
      const before = interop.world.upstream.requests.length;
      const reply = await interop.world.send(target, {
        method: method.toUpperCase(),
        headers: { authorization: header },
      });
      const record = expectForwarded(reply, interop.world.upstream, before + 1);
      expect(record.url).toBe(target);
      expect(record.method).toBe(method.toUpperCase());
      expectIdentity(record, identity);
    },
  );

  test('RSA-SHA1 with --private-key', async () => {
    const header = headerFrom(
      await sign([
        '--consumer-key',
        RSA_CLIENT.clientId,
        '--consumer-secret',
        'unused',
        '--token',
        RSA_TOKEN.token,
        '--token-secret',
        'unused',
        '--signature-method',
        'RSA-SHA1',
        '--private-key',
        privateKeyPath,
        'GET',
        `${interop.world.origin}/photos/rsa`,
      ]),
    );
    expect(header).toContain('oauth_signature_method="RSA-SHA1"');
    const before = interop.world.upstream.requests.length;
    const record = expectForwarded(
      await interop.world.send('/photos/rsa', { headers: { authorization: header } }),
      interop.world.upstream,
      before + 1,
    );
    expectIdentity(record, { user: 'carol', clientId: RSA_CLIENT.clientId, scope: 'photos:read' });
  });

  test('secrets from OAUTH_CONSUMER_SECRET / OAUTH_TOKEN_SECRET instead of flags', async () => {
    const header = headerFrom(
      await sign(
        [
          '--consumer-key',
          CLIENT.clientId,
          '--token',
          TOKEN.token,
          'GET',
          `${interop.world.origin}/photos/env`,
        ],
        cleanEnv({ OAUTH_CONSUMER_SECRET: CLIENT.clientSecret, OAUTH_TOKEN_SECRET: TOKEN.tokenSecret }),
      ),
    );
    const before = interop.world.upstream.requests.length;
    const record = expectForwarded(
      await interop.world.send('/photos/env', { headers: { authorization: header } }),
      interop.world.upstream,
      before + 1,
    );
    expectIdentity(record, ALICE);
  });

  test('each run uses a fresh nonce (two prints of the same request both work)', async () => {
    const args = [...ALICE_ARGS, 'GET', `${interop.world.origin}/photos/twice`];
    const [a, b] = [headerFrom(await sign(args)), headerFrom(await sign(args))];
    expect(a).not.toBe(b);
    for (const header of [a, b]) {
      expect((await interop.world.send('/photos/twice', { headers: { authorization: header } })).status).toBe(
        200,
      );
    }
  });
});

describe('sign --curl prints a command that works', () => {
  async function curl(args: readonly string[]): Promise<{ echo: EchoBody; body: string }> {
    const printed = await sign(['--curl', ...args]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(/^curl /);
    const before = interop.world.upstream.requests.length;
    const result = await run('bash', ['-c', printed.stdout.trim()]);
    expect(result.code, result.stderr).toBe(0);
    const echo = JSON.parse(result.stdout) as EchoBody;
    const record = expectForwarded(
      { status: 200, headers: {}, text: result.stdout },
      interop.world.upstream,
      before + 1,
    );
    return { echo, body: record.body.toString('utf8') };
  }

  test('GET', async () => {
    const { echo } = await curl([...ALICE_ARGS, 'GET', `${interop.world.origin}/photos?size=large`]);
    expect(echo.method).toBe('GET');
    expect(echo.url).toBe('/photos?size=large');
    expectIdentity(interop.world.upstream.requests.at(-1)!, ALICE);
  });

  test('POST with --data (form body, signed parameter by parameter) and shell-hostile characters', async () => {
    const data = "caption=it's+a+caf%C3%A9+%F0%9F%98%80&tag=a&tag=b&empty=&q=$(whoami)`id`";
    const { echo, body } = await curl([
      ...ALICE_ARGS,
      '--realm',
      "O'Reilly photos",
      '--data',
      data,
      'POST',
      `${interop.world.origin}/photos/upload?album=it's`,
    ]);
    expect(echo.method).toBe('POST');
    expect(echo.url).toBe("/photos/upload?album=it's");
    expect(echo.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(body).toBe(data);
    expectIdentity(interop.world.upstream.requests.at(-1)!, ALICE);
  });
});

describe('bad arguments: exit 1 with a message, nothing on stdout', () => {
  test.each([
    ['no arguments', [], /METHOD URL/],
    ['missing URL', ['--consumer-key', 'k', '--consumer-secret', 's', 'GET'], /METHOD URL/],
    ['missing consumer key', ['--consumer-secret', 's', 'GET', 'http://h/'], /--consumer-key/],
    ['missing consumer secret', ['--consumer-key', 'k', 'GET', 'http://h/'], /--consumer-secret/],
    [
      'unknown signature method',
      ['--consumer-key', 'k', '--consumer-secret', 's', '--signature-method', 'HMAC-MD5', 'GET', 'http://h/'],
      /--signature-method/,
    ],
    [
      'RSA without a private key',
      ['--consumer-key', 'k', '--consumer-secret', 's', '--signature-method', 'RSA-SHA1', 'GET', 'http://h/'],
      /--private-key/,
    ],
    ['relative URL', ['--consumer-key', 'k', '--consumer-secret', 's', 'GET', '/photos'], /URL/],
    [
      'unknown flag',
      ['--consumer-key', 'k', '--consumer-secret', 's', '--bogus', 'GET', 'http://h/'],
      /bogus/,
    ],
    [
      'extra positional',
      ['--consumer-key', 'k', '--consumer-secret', 's', 'GET', 'http://h/', 'extra'],
      /METHOD URL/,
    ],
  ] as [string, string[], RegExp][])('%s', { concurrent: true }, async (_label, args, message) => {
    const result = await sign(args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});
