import fc from 'fast-check';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { signOAuth1Params } from '../../src/oauth1-client/sign.js';
import { normaliseTarget } from '../../src/proxy/router.js';
import { MemoryNonceStore } from '../../src/store/memory.js';
import type { OAuth1Client, OAuth1Token } from '../../src/store/types.js';
import { percentEncode } from '../../src/verify/oauth1/encoding.js';
import type { Param } from '../../src/verify/oauth1/params.js';
import { type OAuth1VerifyContext, verifyOAuth1Request } from '../../src/verify/oauth1/verify.js';
import { extractBearerToken } from '../../src/verify/oauth2/bearer.js';
import type { RequestFacts } from '../../src/verify/request-facts.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { receivedHeader, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { BEARER, CONSUMER, credentialsFile, TOKEN } from './helpers/credentials.js';
import { FULL, Tally } from './helpers/tally.js';

/**
 * Fuzzing with fast-check (fixed seed): Authorization headers (random, OAuth-shaped,
 * Bearer-shaped), mutated sets of real signed OAuth1 parameters, bearer tokens and
 * request-targets, through the real gateway; plus the bulk of the cases at verifier level.
 * Properties: no 5xx, no socket error, no throw other than a GatewayError, and no forged request
 * accepted (the protected upstream sees nothing that was not a legitimately signed request).
 *
 * CI runs a few hundred cases per property; SECURITY_FULL=1 runs ≥ 100 000 in total.
 */

const SEED = 20_240_601;
const GATEWAY_RUNS = FULL ? 2_000 : 120;
const PURE_RUNS = FULL ? 30_000 : 400;

const agent = new Agent({ keepAliveTimeout: 2_000, connections: 16 });
afterAll(() => agent.close());

// ── arbitraries ────────────────────────────────────────────────────────────────────────────────

/** Header-safe text: visible ASCII, space and tab (what a client library lets through). */
const headerText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.constantFrom('\t', '"', ',', '=', '%', '\\', ' '),
  ),
  maxLength: 300,
});

const OAUTH_NAMES = [
  'oauth_consumer_key',
  'oauth_token',
  'oauth_signature_method',
  'oauth_signature',
  'oauth_timestamp',
  'oauth_nonce',
  'oauth_version',
  'oauth_body_hash',
  'oauth_callback',
  'oauth_verifier',
  'realm',
];

const oauthShaped = fc
  .tuple(
    fc.constantFrom('OAuth', 'oauth', 'OAUTH', 'OAuth  ', 'OAuth\t'),
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...OAUTH_NAMES), headerText),
        fc.oneof(
          headerText,
          fc.constantFrom(CONSUMER.clientId, TOKEN.token, 'HMAC-SHA1', 'PLAINTEXT', 'RSA-SHA1', '1.0', '0'),
        ),
        fc.constantFrom('"', '', "'"),
        fc.constantFrom(', ', ',', ' ', ',,'),
      ),
      { maxLength: 10 },
    ),
  )
  .map(
    ([scheme, params]) => `${scheme} ${params.map(([n, v, q, sep]) => `${n}=${q}${v}${q}${sep}`).join('')}`,
  );

const b64token = fc.string({
  unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/='),
  maxLength: 80,
});

/** Bearer tokens near the real one: prefixes, suffixes, one character changed, case changed. */
const nearBearer = fc.oneof(
  fc.nat({ max: BEARER.accessToken.length - 1 }).map((n) => BEARER.accessToken.slice(0, n)),
  b64token.map((tail) => `${BEARER.accessToken}${tail === '' ? 'x' : tail}`),
  fc
    .tuple(fc.nat({ max: BEARER.accessToken.length - 1 }), fc.constantFrom(...'aZ09-._~+/'))
    .map(([at, c]) => {
      const changed = BEARER.accessToken.slice(0, at) + c + BEARER.accessToken.slice(at + 1);
      return changed === BEARER.accessToken ? `${changed}x` : changed;
    }),
  fc.constant(BEARER.accessToken.toLowerCase()),
  fc.constant(BEARER.accessToken.toUpperCase()),
  b64token,
);

const bearerShaped = fc
  .tuple(
    fc.constantFrom(
      'Bearer ',
      'bearer ',
      'BEARER ',
      'Bearer  ',
      'Bearer\t',
      'Bearer',
      'Bearer =',
      'Bearer x ',
    ),
    nearBearer,
  )
  .map(([scheme, token]) => `${scheme}${token}`);

const anyAuthorization = fc.oneof(headerText, oauthShaped, bearerShaped);

type Mutation =
  | { kind: 'drop'; index: number }
  | { kind: 'duplicate'; index: number }
  | { kind: 'change'; index: number; char: string }
  | { kind: 'rename'; index: number }
  | { kind: 'extra-query' }
  | { kind: 'method' }
  | { kind: 'path' }
  | { kind: 'encode-differently'; index: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('change' as const), index: fc.nat(), char: fc.constantFrom(...'aZ9+/=%.') }),
  fc.record({ kind: fc.constant('rename' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('extra-query' as const) }),
  fc.record({ kind: fc.constant('method' as const) }),
  fc.record({ kind: fc.constant('path' as const) }),
  fc.record({ kind: fc.constant('encode-differently' as const), index: fc.nat() }),
);

interface Forged {
  readonly method: string;
  readonly target: string;
  readonly authorization: string;
  /** A semantic no-op (another spelling of the same parameters): may verify once. */
  readonly harmless: boolean;
}

/** Sign a real request, then change it so that (unless `harmless`) the signature no longer covers it. */
function forge(mutations: readonly Mutation[], host: string, nonce: string): Forged {
  let method = 'GET';
  let target = '/signed/photos?size=original';
  const params: Param[] = signOAuth1Params({
    method,
    url: `http://${host}${target}`,
    consumerKey: CONSUMER.clientId,
    consumerSecret: CONSUMER.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
    nonce,
  }).map(([n, v]) => [n, v] as Param);
  let encoded: [string, string][] = params.map(([n, v]) => [percentEncode(n), percentEncode(v)]);
  let requestChanged = false;
  for (const m of mutations) {
    const i = encoded.length === 0 ? 0 : ('index' in m ? m.index : 0) % encoded.length;
    const entry = encoded[i];
    switch (m.kind) {
      case 'drop':
        if (entry === undefined) break;
        encoded = encoded.filter((_, j) => j !== i);
        break;
      case 'duplicate':
        if (entry === undefined) break;
        encoded.push([entry[0], entry[1]]);
        break;
      case 'change':
        if (entry === undefined || entry[1] === '') break;
        if (entry[1].endsWith(m.char)) break;
        encoded[i] = [entry[0], entry[1].slice(0, -1) + percentEncode(m.char)];
        break;
      case 'rename':
        if (entry === undefined) break;
        encoded[i] = [entry[0].toUpperCase(), entry[1]];
        break;
      case 'extra-query':
        requestChanged = true;
        target += '&admin=true';
        break;
      case 'method':
        requestChanged = true;
        method = 'DELETE';
        break;
      case 'path':
        requestChanged = true;
        target = target.replace('/photos', '/photos2');
        break;
      case 'encode-differently':
        // Percent-encode one unreserved character of the value: the decoded value is the same.
        if (entry === undefined) break;
        encoded[i] = [
          entry[0],
          entry[1].replace(/[A-Za-z0-9]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
        ];
        break;
    }
  }
  const authorization = `OAuth ${encoded.map(([n, v]) => `${n}="${v}"`).join(', ')}`;
  // Harmless iff the request and the decoded parameter multiset are what was signed (a duplicate
  // followed by dropping the other copy is a reordering; oauth_version is optional, RFC 5849 §3.1).
  const canonical = (list: readonly (readonly [string, string])[]) =>
    list
      .map(([n, v]) => `${n}=${decodeURIComponent(v)}`)
      .filter((p) => p !== 'oauth_version=1.0')
      .sort()
      .join('&');
  let harmless = !requestChanged;
  try {
    harmless &&= canonical(encoded) === canonical(params.map(([n, v]) => [n, percentEncode(v)] as const));
  } catch {
    harmless = false;
  }
  return { method, target, authorization, harmless };
}

// ── through the gateway ────────────────────────────────────────────────────────────────────────

describe('fuzzing through the real gateway', () => {
  let publicUpstream: TestUpstream;
  let protectedUpstream: TestUpstream;
  let gw: TestGateway;
  let host: string;

  beforeAll(async () => {
    publicUpstream = await startUpstream();
    protectedUpstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        oauth2: { allowQueryToken: true },
        routes: [
          {
            name: 'signed',
            match: { pathPrefix: '/signed' },
            upstream: protectedUpstream.url,
            auth: 'oauth1',
          },
          {
            name: 'bearer',
            match: { pathPrefix: '/bearer' },
            upstream: protectedUpstream.url,
            auth: 'oauth2',
          },
          { name: 'either', match: { pathPrefix: '/either' }, upstream: protectedUpstream.url, auth: 'any' },
          { name: 'public', match: { pathPrefix: '/public' }, upstream: publicUpstream.url, auth: 'none' },
        ],
      },
      credentials: credentialsFile(),
    });
    host = `127.0.0.1:${gw.port}`;
  });
  afterAll(async () => {
    await gw?.stop();
    await publicUpstream?.close();
    await protectedUpstream?.close();
  });

  async function send(method: string, path: string, authorization?: string): Promise<number> {
    const res = await agent.request({
      origin: gw.url,
      path,
      method: method as 'GET',
      headers: authorization === undefined ? {} : { authorization },
    });
    await res.body.dump();
    return res.statusCode;
  }

  it('random / OAuth-shaped / Bearer-shaped Authorization headers: no 5xx, nothing forged accepted', async () => {
    const tally = new Tally('fuzzing:authorization');
    const before = protectedUpstream.requests.length;
    await fc.assert(
      fc.asyncProperty(
        anyAuthorization,
        fc.constantFrom('/signed/x', '/bearer/x', '/either/x'),
        async (auth, path) => {
          const status = await send('GET', path, auth);
          if (status >= 500) tally.bypass(`${status} for ${JSON.stringify(auth)}`);
          else if (status === 200) tally.bypass(`accepted ${JSON.stringify(auth)}`);
          else tally.reject();
          return status < 500 && status !== 200;
        },
      ),
      { seed: SEED, numRuns: GATEWAY_RUNS },
    );
    tally.report();
    expect(protectedUpstream.requests.length - before).toBe(0);
  });

  it('mutated real OAuth1 parameter sets: only harmless re-spellings may pass, each once', async () => {
    const tally = new Tally('fuzzing:oauth1-params');
    let nonce = 0;
    let harmlessAccepted = 0;
    const before = protectedUpstream.requests.length;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const forged = forge(mutations, host, `fuzz-nonce-${SEED}-${nonce++}`);
        const status = await send(forged.method, forged.target, forged.authorization);
        if (status >= 500) {
          tally.bypass(`${status} for ${JSON.stringify(mutations)}`);
          return false;
        }
        if (status === 200 && !forged.harmless) {
          tally.bypass(`forged request accepted: ${JSON.stringify(mutations)}`);
          return false;
        }
        if (status === 200) {
          harmlessAccepted++;
          tally.pass();
          // …and a replay of exactly the same request is refused (RFC 5849 §3.3 nonce).
          const replay = await send(forged.method, forged.target, forged.authorization);
          if (replay !== 401) {
            tally.bypass(`replay got ${replay}`);
            return false;
          }
        } else tally.reject();
        return true;
      }),
      { seed: SEED, numRuns: GATEWAY_RUNS },
    );
    tally.report({ harmlessAccepted });
    // Only the harmless ones reached the upstream, each once, as the real user.
    const seen = protectedUpstream.requests.slice(before);
    expect(seen).toHaveLength(harmlessAccepted);
    for (const record of seen) expect(receivedHeader(record, 'x-oauth-user')).toEqual([TOKEN.userId]);
    expect(tally.rejected).toBeGreaterThan(GATEWAY_RUNS / 2);
  });

  it('bearer tokens near the real one, in header and query: never accepted', async () => {
    const tally = new Tally('fuzzing:bearer');
    const before = protectedUpstream.requests.length;
    await fc.assert(
      fc.asyncProperty(nearBearer, fc.boolean(), async (token, inQuery) => {
        const status = inQuery
          ? await send('GET', `/bearer/x?access_token=${encodeURIComponent(token)}`)
          : await send('GET', '/bearer/x', `Bearer ${token}`);
        if (status >= 500 || status === 200) {
          tally.bypass(`${status} for ${JSON.stringify(token)} (query=${inQuery})`);
          return false;
        }
        tally.reject();
        return true;
      }),
      { seed: SEED, numRuns: GATEWAY_RUNS },
    );
    tally.report();
    expect(protectedUpstream.requests.length - before).toBe(0);
    // The real token does pass (so the 401s above are not a broken route).
    expect(await send('GET', '/bearer/x', `Bearer ${BEARER.accessToken}`)).toBe(200);
  });

  it('request-targets: no 5xx, protected routes unreached, upstream path = routed path', async () => {
    const tally = new Tally('fuzzing:request-target');
    const segment = fc.constantFrom(
      'public',
      'signed',
      'bearer',
      'x',
      '',
      '.',
      '..',
      '%2e',
      '%2E%2e',
      '%2f',
      '%5c',
      ';',
      '..;',
      '%00',
      '%25',
      '%',
      '%zz',
      '%41',
      '~',
      '%7e',
      'a%20b',
      '?',
      '?a=/../signed',
      '#',
    );
    const target = fc.array(segment, { minLength: 1, maxLength: 8 }).map((parts) => `/${parts.join('/')}`);
    const before = protectedUpstream.requests.length;
    await fc.assert(
      fc.asyncProperty(target, async (path) => {
        const seenBefore = publicUpstream.requests.length;
        let status: number;
        try {
          status = await send('GET', path);
        } catch (error) {
          // undici refuses some targets itself (e.g. `#`): nothing was sent.
          if ((error as { code?: string }).code === 'UND_ERR_INVALID_ARG') return true;
          throw error;
        }
        if (status >= 500) {
          tally.bypass(`${status} for ${path}`);
          return false;
        }
        const record = publicUpstream.requests[seenBefore];
        if (record !== undefined) {
          const routed = normaliseTarget(path);
          if (record.url !== routed.path + routed.query) {
            tally.bypass(`routed ${routed.path}${routed.query}, upstream saw ${record.url}`);
            return false;
          }
          tally.pass();
        } else tally.reject();
        return true;
      }),
      { seed: SEED, numRuns: GATEWAY_RUNS * 2 },
    );
    tally.report();
    expect(protectedUpstream.requests.length - before).toBe(0);
  });

  it('upgrade-shaped requests with bodies and a request behind them: nothing smuggled, no 5xx', async () => {
    const tally = new Tally('fuzzing:upgrade');
    const smuggled = 'GET /signed/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const shape = fc.record({
      method: fc.constantFrom('GET', 'POST', 'OPTIONS', 'PUT'),
      version: fc.constantFrom('1.1', '1.0'),
      upgrade: fc.constantFrom('websocket', 'WebSocket', 'h2c', 'websocket, h2c', 'TLS/1.0', ''),
      connection: fc.constantFrom(
        'Upgrade',
        'upgrade, keep-alive',
        'keep-alive, Upgrade, Host',
        'close, Upgrade',
      ),
      framing: fc.constantFrom('none', 'cl0', 'cl', 'chunked'),
      padding: fc.nat({ max: 64 }),
    });
    const before = protectedUpstream.requests.length;
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const body = 'A'.repeat(s.padding);
        const framing =
          s.framing === 'cl0'
            ? 'Content-Length: 0\r\n\r\n'
            : s.framing === 'cl'
              ? `Content-Length: ${body.length + smuggled.length}\r\n\r\n${body}`
              : s.framing === 'chunked'
                ? `Transfer-Encoding: chunked\r\n\r\n${(body.length + 1).toString(16)}\r\n${body}B\r\n0\r\n\r\n`
                : '\r\n';
        const upgrade = s.upgrade === '' ? '' : `Upgrade: ${s.upgrade}\r\n`;
        const text = `${s.method} /public/up HTTP/${s.version}\r\nHost: ${host}\r\nConnection: ${s.connection}\r\n${upgrade}${framing}${smuggled}`;
        const seenBefore = publicUpstream.requests.length;
        const reply = await rawRequest(gw.port, text, { closeGraceMs: 50, timeoutMs: 3_000 });
        const forwarded = publicUpstream.requests.slice(seenBefore);
        if (reply.status >= 500 || reply.timedOut) {
          tally.bypass(`${reply.status || 'timeout'} for ${JSON.stringify(s)}`);
          return false;
        }
        if (forwarded.some((r) => r.url !== '/public/up')) {
          tally.bypass(`upstream saw ${forwarded.map((r) => r.url).join(', ')} for ${JSON.stringify(s)}`);
          return false;
        }
        if (reply.status === 200) tally.pass();
        else tally.reject();
        return true;
      }),
      { seed: SEED, numRuns: GATEWAY_RUNS },
    );
    tally.report();
    expect(protectedUpstream.requests.length - before).toBe(0);
  });
});

// ── verifier level: the bulk of the cases ──────────────────────────────────────────────────────

describe('fuzzing the verifiers directly', () => {
  const client: OAuth1Client = { clientId: CONSUMER.clientId, clientSecret: CONSUMER.clientSecret };
  const token: OAuth1Token = {
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
    clientId: TOKEN.clientId,
    userId: TOKEN.userId,
    scopes: [TOKEN.scope],
  };
  const context = (): OAuth1VerifyContext => ({
    policy: {
      realm: 'r',
      signatureMethods: new Set(['HMAC-SHA1', 'HMAC-SHA256', 'RSA-SHA1']),
      timestampWindowMs: 300_000,
      bodyHash: 'optional',
    },
    now: Date.now,
    credentials: {
      getClient: async (id) => (id === client.clientId ? client : undefined),
      getToken: async (t) => (t === token.token ? token : undefined),
    },
    nonces: new MemoryNonceStore(),
  });
  const facts = (
    authorization: string | undefined,
    method = 'GET',
    target = '/signed/photos?size=original',
  ): RequestFacts => ({
    method,
    scheme: 'http',
    host: 'gw.example',
    target,
    authorization,
    contentType: undefined,
    body: undefined,
  });

  function onlyGatewayErrors(error: unknown): boolean {
    return error instanceof GatewayError && error.status >= 400 && error.status < 500;
  }

  it('verifyOAuth1Request: arbitrary headers never verify and only throw 4xx GatewayErrors', async () => {
    const tally = new Tally('fuzzing:verify-oauth1');
    const ctx = context();
    await fc.assert(
      fc.asyncProperty(anyAuthorization, fc.string({ maxLength: 40 }), async (auth, target) => {
        try {
          await verifyOAuth1Request(facts(auth, 'GET', `/${target}`), ctx);
          tally.bypass(`verified ${JSON.stringify(auth)}`);
          return false;
        } catch (error) {
          if (!onlyGatewayErrors(error)) {
            tally.bypass(`threw ${String(error)}`);
            return false;
          }
          tally.reject();
          return true;
        }
      }),
      { seed: SEED, numRuns: PURE_RUNS * 2 },
    );
    tally.report();
  });

  it('verifyOAuth1Request: mutated real parameter sets verify only when harmless, once', async () => {
    const tally = new Tally('fuzzing:verify-oauth1-mutations');
    const ctx = context();
    let nonce = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        const forged = forge(mutations, 'gw.example', `pure-${nonce++}`);
        const f = facts(forged.authorization, forged.method, forged.target);
        try {
          const identity = await verifyOAuth1Request(f, ctx);
          if (!forged.harmless || identity.user !== TOKEN.userId) {
            tally.bypass(`forged verified: ${JSON.stringify(mutations)}`);
            return false;
          }
          tally.pass();
          try {
            await verifyOAuth1Request(f, ctx);
            tally.bypass('replay verified');
            return false;
          } catch (error) {
            return onlyGatewayErrors(error);
          }
        } catch (error) {
          if (!onlyGatewayErrors(error)) {
            tally.bypass(`threw ${String(error)}`);
            return false;
          }
          tally.reject();
          return true;
        }
      }),
      { seed: SEED, numRuns: PURE_RUNS * 2 },
    );
    tally.report();
  });

  it('extractBearerToken: returns a b64token or undefined, or throws a 400 GatewayError', () => {
    const tally = new Tally('fuzzing:extract-bearer');
    const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
    fc.assert(
      fc.property(
        fc.option(anyAuthorization, { nil: undefined }),
        fc.string({ maxLength: 60 }),
        fc.boolean(),
        (auth, query, allowQuery) => {
          try {
            const token = extractBearerToken(facts(auth, 'GET', `/x?${query}`), {
              allowQueryToken: allowQuery,
              allowFormToken: false,
            });
            const fromHeader = auth !== undefined && /^bearer/i.test(auth);
            if (token !== undefined && fromHeader && !B64TOKEN.test(token)) {
              tally.bypass(`extracted ${JSON.stringify(token)} from ${JSON.stringify(auth)}`);
              return false;
            }
            if (token !== undefined && !fromHeader && !allowQuery) {
              tally.bypass(`query token used while disabled: ${JSON.stringify(query)}`);
              return false;
            }
            tally.pass();
            return true;
          } catch (error) {
            if (!(error instanceof GatewayError && error.status === 400)) {
              tally.bypass(`threw ${String(error)}`);
              return false;
            }
            tally.reject();
            return true;
          }
        },
      ),
      { seed: SEED, numRuns: PURE_RUNS * 4 },
    );
    tally.report();
  });

  it('normaliseTarget: never yields a dot segment, an encoded slash or a path outside the root', () => {
    const tally = new Tally('fuzzing:normalise-target');
    fc.assert(
      fc.property(
        fc
          .array(
            fc.oneof(
              fc.constantFrom(
                '..',
                '.',
                '%2e',
                '%2E%2e',
                '.%2e',
                '%2f',
                '%5C',
                '%00',
                ';',
                '..;',
                '',
                'a',
                '%25',
                '%%',
                '%2',
              ),
              fc.string({ maxLength: 6 }),
            ),
            { maxLength: 10 },
          )
          .map((parts) => `/${parts.join('/')}`),
        (target) => {
          try {
            const { path } = normaliseTarget(target);
            const segments = path.split('/').slice(1);
            const bad = segments.some((s) => s === '.' || s === '..' || /%2f|%5c|%00/i.test(s));
            if (!path.startsWith('/') || bad || path.includes('//')) {
              tally.bypass(`${target} → ${path}`);
              return false;
            }
            tally.pass();
            return true;
          } catch (error) {
            if (!(error instanceof GatewayError && error.status === 400)) {
              tally.bypass(`threw ${String(error)}`);
              return false;
            }
            tally.reject();
            return true;
          }
        },
      ),
      { seed: SEED, numRuns: PURE_RUNS * 4 },
    );
    tally.report();
  });

  it(`runs ≥ 100 000 cases in total when SECURITY_FULL=1 (now: ${FULL ? 'full' : 'CI size'})`, () => {
    const total = GATEWAY_RUNS * 5 + PURE_RUNS * 12;
    console.log('[fuzzing] mode=%s totalCases=%d', FULL ? 'full' : 'ci', total);
    if (FULL) expect(total).toBeGreaterThanOrEqual(100_000);
  });
});
