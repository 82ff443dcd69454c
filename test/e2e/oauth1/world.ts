import { generateKeyPairSync } from 'node:crypto';
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../../helpers/upstream.js';

/**
 * The world every OAuth1 e2e test runs in: a real gateway (in-process, real listeners) in front of
 * a recording upstream, with a fixed set of clients and token credentials. Requests are sent with
 * undici's Agent.request, which puts `path` on the wire byte for byte (undici's top-level
 * `request(url, { path })` re-parses it through WHATWG URL, which would re-escape `'` in a query).
 */

export const RSA_KEYS = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

export const REALM = 'photos-api';

/** The RFC 5849 §1.2 example consumer, with a token that grants two scopes. */
export const CLIENT = { clientId: 'dpf43f3p2l4k3l03', clientSecret: 'kd94hf93k423kf44' } as const;
export const TOKEN = {
  token: 'nnch734d00sl2jdk',
  tokenSecret: 'pfkkdhi9sl3r4s00',
  clientId: CLIENT.clientId,
  userId: 'alice',
  scope: 'photos:read photos:write',
} as const;

/** Secrets full of characters §3.6 must encode (and that naive clients get wrong). */
export const UNICODE_CLIENT = { clientId: 'unicode-app', clientSecret: "s3cr!t *'() é+&=%" } as const;
export const UNICODE_TOKEN = {
  token: 'unicode-token',
  tokenSecret: 'tök€n sécret&+=%',
  clientId: UNICODE_CLIENT.clientId,
  userId: 'bob',
  scope: 'photos:read',
} as const;

export const RSA_CLIENT = {
  clientId: 'rsa-app',
  clientSecret: 'rsa-app-unused-secret',
  rsaPublicKey: RSA_KEYS.publicKey,
} as const;
export const RSA_TOKEN = {
  token: 'rsa-token',
  tokenSecret: 'rsa-token-unused-secret',
  clientId: RSA_CLIENT.clientId,
  userId: 'carol',
  scope: 'photos:read',
} as const;

/** A second consumer, so "token issued to someone else" can be tested. */
export const OTHER_CLIENT = { clientId: 'other-app', clientSecret: 'other-app-secret' } as const;
export const OTHER_TOKEN = {
  token: 'other-token',
  tokenSecret: 'other-token-secret',
  clientId: OTHER_CLIENT.clientId,
  userId: 'dave',
  scope: 'photos:read',
} as const;

/** Every secret in the world: none may ever appear in a response. */
export const ALL_SECRETS: readonly string[] = [
  CLIENT.clientSecret,
  TOKEN.tokenSecret,
  UNICODE_CLIENT.clientSecret,
  UNICODE_TOKEN.tokenSecret,
  OTHER_CLIENT.clientSecret,
  OTHER_TOKEN.tokenSecret,
];

export function credentialsFile(): Record<string, unknown> {
  return {
    clients: [CLIENT, UNICODE_CLIENT, RSA_CLIENT, OTHER_CLIENT],
    tokens: [TOKEN, UNICODE_TOKEN, RSA_TOKEN, OTHER_TOKEN],
  };
}

export const ALL_SIGNATURE_METHODS = [
  'HMAC-SHA1',
  'HMAC-SHA256',
  'HMAC-SHA512',
  'RSA-SHA1',
  'RSA-SHA256',
  'PLAINTEXT',
] as const;

export interface WorldOptions {
  /** Merged over the default oauth1 block (realm, every signature method, 300 s window). */
  readonly oauth1?: Record<string, unknown>;
  /** Extra top-level gateway.yaml keys (limits, trustedProxies, redis, credentials, …). */
  readonly config?: Record<string, unknown>;
  readonly credentials?: Record<string, unknown>;
  /** Reuse an upstream (two gateways in front of one upstream). */
  readonly upstream?: TestUpstream;
  /** Captured log level; default `warn` (use `info` to inspect access logs). */
  readonly logLevel?: string;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

export interface SendInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export interface World {
  readonly gw: TestGateway;
  readonly upstream: TestUpstream;
  /** `http://127.0.0.1:<port>`: what clients sign against. */
  readonly origin: string;
  /** Send `target` (origin-form, byte-exact) to the gateway. */
  send(target: string, init?: SendInit): Promise<Reply>;
  close(): Promise<void>;
}

const agent = new Agent({ keepAliveTimeout: 1_000 });

/** Sends exactly `target` to `origin` and reads the whole response. */
export async function sendTo(origin: string, target: string, init: SendInit = {}): Promise<Reply> {
  const res = await agent.request({
    origin,
    path: target,
    method: (init.method ?? 'GET') as 'GET',
    headers: { ...init.headers },
    body: init.body ?? null,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

/**
 * Routes: `/admin` needs scope `photos:admin` (nobody has it); everything else needs OAuth1 and no
 * scope. Both forward to one recording upstream.
 */
export function routesFor(upstreamUrl: string): Record<string, unknown>[] {
  return [
    {
      name: 'admin',
      match: { pathPrefix: '/admin' },
      upstream: upstreamUrl,
      auth: 'oauth1',
      scopes: ['photos:admin'],
    },
    { name: 'api', match: { pathPrefix: '/' }, upstream: upstreamUrl, auth: 'oauth1' },
  ];
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const upstream = options.upstream ?? (await startUpstream());
  const ownsUpstream = options.upstream === undefined;
  let gw: TestGateway;
  try {
    gw = await startTestGateway({
      config: {
        oauth1: {
          realm: REALM,
          signatureMethods: [...ALL_SIGNATURE_METHODS],
          timestampWindow: '300s',
          ...options.oauth1,
        },
        routes: routesFor(upstream.url),
        ...options.config,
      },
      credentials: options.credentials ?? credentialsFile(),
      logLevel: options.logLevel ?? 'warn',
    });
  } catch (error) {
    if (ownsUpstream) await upstream.close();
    throw error;
  }
  return {
    gw,
    upstream,
    origin: gw.url,
    send: (target, init) => sendTo(gw.url, target, init),
    async close() {
      await gw.stop();
      if (ownsUpstream) await upstream.close();
    },
  };
}

/** The single value of a response header (WWW-Authenticate may come as a list). */
export function headerValue(reply: Reply, name: string): string | undefined {
  const value = reply.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

export interface ExpectedIdentity {
  readonly user: string | undefined;
  readonly clientId: string;
  readonly scope: string;
}

/**
 * The upstream got the identity headers exactly once each (nothing a client could have injected),
 * with `X-OAuth-Method: oauth1`, and no Authorization header (passAuthorization is off).
 */
export function expectIdentity(record: RecordedRequest, expected: ExpectedIdentity): void {
  expect(receivedHeader(record, 'x-oauth-user')).toEqual(expected.user === undefined ? [] : [expected.user]);
  expect(receivedHeader(record, 'x-oauth-client-id')).toEqual([expected.clientId]);
  expect(receivedHeader(record, 'x-oauth-scope')).toEqual([expected.scope]);
  expect(receivedHeader(record, 'x-oauth-method')).toEqual(['oauth1']);
  expect(receivedHeader(record, 'authorization')).toEqual([]);
}

export const ALICE: ExpectedIdentity = {
  user: TOKEN.userId,
  clientId: CLIENT.clientId,
  scope: TOKEN.scope,
};

/** Two-legged (no oauth_token): the client alone, no user, no scope. */
export const CLIENT_ONLY: ExpectedIdentity = { user: undefined, clientId: CLIENT.clientId, scope: '' };

/** The last request the upstream recorded (fails the test if there is none). */
export function lastReceived(upstream: TestUpstream): RecordedRequest {
  const record = upstream.requests.at(-1);
  expect(record, 'the upstream received no request').toBeDefined();
  return record!;
}

/** Asserts a 200 that reached the upstream as the `expectedCount`-th request, and returns that record. */
export function expectForwarded(
  reply: Reply,
  upstream: TestUpstream,
  expectedCount: number,
): RecordedRequest {
  expect(reply.status, reply.text).toBe(200);
  expect(upstream.requests).toHaveLength(expectedCount);
  return lastReceived(upstream);
}

/** Asserts the gateway's rejection: status, JSON `error`, and the OAuth challenge. */
export function expectRejected(
  reply: Reply,
  status: number,
  error: string,
  oauthProblem: string | undefined,
): void {
  expect({ status: reply.status, body: reply.text }).toMatchObject({ status });
  expect(headerValue(reply, 'content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(reply.text) as Record<string, unknown>;
  expect(body['error']).toBe(error);
  expect(typeof body['error_description']).toBe('string');
  const expectedChallenge =
    oauthProblem === undefined
      ? `OAuth realm="${REALM}"`
      : `OAuth realm="${REALM}", oauth_problem="${oauthProblem}"`;
  expect(headerValue(reply, 'www-authenticate')).toBe(expectedChallenge);
  expectNoSecrets(reply);
}

/** No secret (raw or §3.6-encoded) in the body or any header. */
export function expectNoSecrets(reply: Reply): void {
  const everything = `${reply.text}\n${JSON.stringify(reply.headers)}`;
  for (const secret of ALL_SECRETS) {
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(encodeURIComponent(secret));
  }
}

/** One world per test file and the assertions the interop files share (see useWorld). */
export interface WorldFixture {
  /** The running world; available in tests and in hooks registered after useWorld(). */
  readonly world: World;
  /** How many requests the upstream should have received so far (the accepted ones). */
  readonly forwarded: number;
  /** The reply is a 200 and the upstream got exactly one more request; returns that request. */
  expectNextForwarded(reply: Reply): RecordedRequest;
  /** expectNextForwarded, and the upstream saw `method`, `target` byte for byte and `identity`. */
  expectAccepted(reply: Reply, identity: ExpectedIdentity, method: string, target: string): RecordedRequest;
}

/**
 * Starts a world before the file's tests and closes it after; before each test, takes the
 * upstream's request count so each test asserts exactly what it forwarded.
 */
export function useWorld(options: WorldOptions = {}): WorldFixture {
  let started: World | undefined;
  let forwarded = 0;
  const world = (): World => {
    if (started === undefined)
      throw new Error('the world is not started (use it inside tests or later hooks)');
    return started;
  };
  beforeAll(async () => {
    started = await startWorld(options);
  });
  afterAll(async () => {
    await started?.close();
  });
  beforeEach(() => {
    forwarded = world().upstream.requests.length;
  });
  const expectNextForwarded = (reply: Reply): RecordedRequest => {
    forwarded++;
    return expectForwarded(reply, world().upstream, forwarded);
  };
  return {
    get world() {
      return world();
    },
    get forwarded() {
      return forwarded;
    },
    expectNextForwarded,
    expectAccepted(reply, identity, method, target) {
      const record = expectNextForwarded(reply);
      expect(record.method).toBe(method);
      expect(record.url).toBe(target);
      expectIdentity(record, identity);
      return record;
    },
  };
}
