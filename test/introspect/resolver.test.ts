import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFileSchema } from '../../src/config/credentials-schema.js';
import { parseGatewayConfig } from '../../src/config/load.js';
import {
  type GatewayError,
  InsufficientScope,
  InvalidRequest,
  InvalidToken,
  TemporarilyUnavailable,
} from '../../src/errors.js';
import { createTokenResolver, type TokenResolver } from '../../src/introspect/resolver.js';
import { buildRouteTable, matchRoute } from '../../src/proxy/router.js';
import { createOAuth2Scheme } from '../../src/proxy/schemes.js';
import { FileCredentialStore } from '../../src/store/file.js';
import type { Identity } from '../../src/verify/identity.js';
import type { BearerOptions } from '../../src/verify/oauth2/bearer.js';
import type { TokenRequirement } from '../../src/verify/oauth2/token-check.js';
import type { RequestFacts } from '../../src/verify/request-facts.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  RESOURCES,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from './helpers/authorization-server.js';
import { oauth2Config } from './helpers/config.js';

const INTROSPECT = '/token/introspection';
/**
 * The identity of the AS's client_credentials tokens (as.getToken): the service client, no user
 * (RFC 9068 §2.2: sub = client_id means no resource owner), exactly the granted scope.
 */
const SERVICE_READ: Identity = { method: 'oauth2', clientId: SERVICE_CLIENT.clientId, scopes: ['read'] };
let as: AuthorizationServer;
const resolvers: TokenResolver[] = [];

const nowS = () => Math.floor(Date.now() / 1000);
const store = new FileCredentialStore(
  credentialsFileSchema.parse({
    bearerTokens: [
      {
        accessToken: 'file-live',
        clientId: 'demo',
        userId: 'alice',
        scope: 'read',
        issuedAt: nowS(),
        expiresIn: 3600,
      },
      {
        accessToken: 'file-revoked',
        clientId: 'demo',
        userId: 'alice',
        scope: 'read',
        issuedAt: nowS(),
        expiresIn: 3600,
        revoked: true,
      },
      {
        accessToken: 'file-expired',
        clientId: 'demo',
        scope: 'read',
        issuedAt: nowS() - 7200,
        expiresIn: 3600,
      },
    ],
  }),
);

/** A resolver over the real AS; `skewMs` moves the gateway's clock relative to the AS's. */
function resolver(options: { skew?: { ms: number }; tokenSources?: string[]; negativeTtl?: string } = {}) {
  const skew = options.skew ?? { ms: 0 };
  const config = oauth2Config({
    tokenSources: options.tokenSources ?? ['store', 'introspection', 'jwt'],
    introspection: {
      url: as.introspectionUrl,
      clientId: GATEWAY_CLIENT.clientId,
      clientSecret: GATEWAY_CLIENT.clientSecret,
      timeout: '2s',
      cache: { maxTtl: '5m', negativeTtl: options.negativeTtl ?? '10s' },
    },
    jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: [RESOURCES.jwt], algorithms: ['RS256'] },
  });
  const created = createTokenResolver(config, {
    credentials: store,
    now: () => Date.now() + skew.ms,
    jwks: { cooldownMs: 0 },
  });
  resolvers.push(created);
  return created;
}

/**
 * The proxy's real OAuth 2.0 seam (proxy/schemes.ts createOAuth2Scheme, as the runtime builds it)
 * over `tokens`, for one route with `requirement`: detect → resolve (cached) → judge for this route.
 * Undefined when the request presents no bearer credentials.
 */
async function authenticate(
  tokens: TokenResolver,
  facts: Partial<RequestFacts>,
  requirement: TokenRequirement,
  options: BearerOptions = { allowQueryToken: false, allowFormToken: false },
): Promise<Identity | undefined> {
  const config = parseGatewayConfig(
    {
      oauth2: options,
      routes: [
        {
          name: 'r',
          match: { pathPrefix: '/' },
          upstream: 'http://127.0.0.1:1',
          auth: 'oauth2',
          scopes: [...requirement.scopes],
          ...(requirement.audience === undefined ? {} : { audience: requirement.audience }),
        },
      ],
    },
    {},
  );
  const route = matchRoute(buildRouteTable(config.routes), 'api.example.com', '/', 'GET')!;
  const scheme = createOAuth2Scheme(config, { resolver: tokens, now: Date.now, dpopMode: () => 'off' });
  const request: RequestFacts = {
    method: 'GET',
    scheme: 'https',
    host: 'api.example.com',
    target: '/',
    authorization: undefined,
    contentType: undefined,
    body: undefined,
    ...facts,
  };
  const carried = scheme.detect(request);
  if (!scheme.present(carried)) return undefined;
  return scheme.verify(request, carried, route);
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  as = await startAuthorizationServer();
});
afterEach(async () => {
  await Promise.all(resolvers.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await as.close();
});

describe('token resolver chain (store → introspection → jwt) against oidc-provider', () => {
  it('file store tokens: live → identity with user; revoked/expired → 401; unknown anywhere → 401', async () => {
    const tokens = resolver();
    expect(await authenticate(tokens, { authorization: 'Bearer file-live' }, { scopes: ['read'] })).toEqual({
      method: 'oauth2',
      clientId: 'demo',
      user: 'alice',
      scopes: ['read'],
    });
    for (const token of ['file-revoked', 'file-expired', 'unknown-token']) {
      expect(
        await failure(authenticate(tokens, { authorization: `Bearer ${token}` }, { scopes: [] })),
      ).toBeInstanceOf(InvalidToken);
    }
    expect(tokens.stats().answeredBy.store).toBe(3);
    // "unknown-token" fell through the store to introspection, which said inactive.
    expect(tokens.stats().answeredBy.introspection).toBe(1);
  });

  it('opaque token via introspection; JWT falls through introspection (unsupported_token_type) to jwt', async () => {
    const tokens = resolver();
    const opaque = await as.getToken({ resource: 'opaque', scope: 'read write' });
    const jwt = await as.getToken({ resource: 'jwt', scope: 'read' });
    const a = await authenticate(
      tokens,
      { authorization: `Bearer ${opaque}` },
      { scopes: ['read'], audience: RESOURCES.opaque },
    );
    expect(a).toEqual({ method: 'oauth2', clientId: 'service', scopes: ['read', 'write'] });
    const b = await authenticate(
      tokens,
      { authorization: `Bearer ${jwt}` },
      { scopes: ['read'], audience: RESOURCES.jwt },
    );
    expect(b).toEqual({ method: 'oauth2', clientId: 'service', scopes: ['read'] });
    expect(tokens.stats().answeredBy).toMatchObject({ introspection: 1, jwt: 1 });
  });

  it('revoked opaque token → 401', async () => {
    const tokens = resolver();
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    await as.revoke(token);
    expect(
      await failure(authenticate(tokens, { authorization: `Bearer ${token}` }, { scopes: [] })),
    ).toBeInstanceOf(InvalidToken);
  });

  it('route audience: a token for another resource server is 401, not 403', async () => {
    const tokens = resolver();
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    const error = await failure(
      authenticate(tokens, { authorization: `Bearer ${token}` }, { scopes: [], audience: RESOURCES.jwt }),
    );
    expect(error).toBeInstanceOf(InvalidToken);
  });

  it('cached facts never carry a route decision: route B still demands its own scope (403)', async () => {
    const tokens = resolver();
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    const facts = { authorization: `Bearer ${token}` };
    expect(await authenticate(tokens, facts, { scopes: ['read'] })).toEqual(SERVICE_READ);
    const error = await failure(authenticate(tokens, facts, { scopes: ['read', 'admin'] }));
    expect(error).toBeInstanceOf(InsufficientScope);
    expect(error.status).toBe(403);
    expect(error.scope).toBe('read admin');
    expect(tokens.stats().hits).toBe(1);
  });

  it('query token refused when disabled (no credentials); two methods → 400', async () => {
    const tokens = resolver();
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    expect(await authenticate(tokens, { target: `/?access_token=${token}` }, { scopes: [] })).toBeUndefined();
    const enabled = { allowQueryToken: true, allowFormToken: false };
    expect(
      await authenticate(tokens, { target: `/?access_token=${token}` }, { scopes: [] }, enabled),
    ).toEqual(SERVICE_READ);
    const twice = authenticate(
      tokens,
      { target: `/?access_token=${token}`, authorization: `Bearer ${token}` },
      { scopes: [] },
      enabled,
    );
    const error = await failure(twice);
    expect(error).toBeInstanceOf(InvalidRequest);
    expect(error.status).toBe(400);
  });

  it('1000 concurrent resolves of one uncached token → exactly 1 introspection call at the AS', async () => {
    const tokens = resolver();
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    const before = as.requests(INTROSPECT);
    const answers = await Promise.all(Array.from({ length: 1000 }, () => tokens.resolve(token)));
    expect(answers.every((info) => info.active)).toBe(true);
    expect(as.requests(INTROSPECT) - before).toBe(1);
    expect(tokens.stats()).toMatchObject({ backendCalls: 1, misses: 1, coalesced: 999 });
  });

  it('AS down: uncached tokens → 503 TemporarilyUnavailable (nothing cached), cached tokens keep resolving', async () => {
    const tokens = resolver();
    const cached = await as.getToken({ resource: 'opaque', scope: 'read' });
    const uncached = await as.getToken({ resource: 'opaque', scope: 'read' });
    expect((await tokens.resolve(cached)).active).toBe(true);

    await as.stop();
    try {
      const error = await failure(tokens.resolve(uncached));
      expect(error).toBeInstanceOf(TemporarilyUnavailable);
      expect(error.status).toBe(503);
      expect(await failure(tokens.resolve(uncached))).toBeInstanceOf(TemporarilyUnavailable);
      expect(await authenticate(tokens, { authorization: `Bearer ${cached}` }, { scopes: ['read'] })).toEqual(
        SERVICE_READ,
      );
    } finally {
      await as.start();
    }
    // The failure was not cached: once the AS is back, the token works.
    expect((await tokens.resolve(uncached)).active).toBe(true);
  });

  it('never serves a cached token past its exp', async () => {
    const skew = { ms: 0 };
    const tokens = resolver({ skew });
    const token = await as.getToken({ resource: 'opaque', scope: 'read', ttlSeconds: 60 });
    expect((await tokens.resolve(token)).active).toBe(true);
    skew.ms = 30_000;
    expect((await tokens.resolve(token)).active).toBe(true);
    expect(tokens.stats().hits).toBe(1);
    // Past exp by the gateway's clock. The AS (real clock) would still say active: the cache must not.
    skew.ms = 61_000;
    expect((await tokens.resolve(token)).active).toBe(false);
  });

  it('inactive answers are cached for negativeTtl, then asked again', async () => {
    const skew = { ms: 0 };
    const tokens = resolver({ skew, negativeTtl: '10s' });
    const before = as.requests(INTROSPECT);
    expect((await tokens.resolve('never-issued')).active).toBe(false);
    skew.ms = 9_000;
    expect((await tokens.resolve('never-issued')).active).toBe(false);
    expect(as.requests(INTROSPECT) - before).toBe(1);
    skew.ms = 10_001;
    expect((await tokens.resolve('never-issued')).active).toBe(false);
    expect(as.requests(INTROSPECT) - before).toBe(2);
  });

  it('chain order matters: with [jwt] only, opaque tokens are unknown → inactive without any AS call', async () => {
    const tokens = resolver({ tokenSources: ['jwt'] });
    const opaque = await as.getToken({ resource: 'opaque', scope: 'read' });
    const before = as.requests(INTROSPECT);
    expect((await tokens.resolve(opaque)).active).toBe(false);
    expect(as.requests(INTROSPECT)).toBe(before);
    expect(tokens.stats().answeredBy.none).toBe(1);
  });
});
