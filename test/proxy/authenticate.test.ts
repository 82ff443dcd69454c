import { afterAll, describe, expect, it } from 'vitest';
import { credentialsFileSchema } from '../../src/config/credentials-schema.js';
import { parseGatewayConfig } from '../../src/config/load.js';
import { CredentialsMissing, type GatewayError, InvalidRequest } from '../../src/errors.js';
import { createTokenResolver } from '../../src/introspect/resolver.js';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { createAuthenticator } from '../../src/proxy/authenticate.js';
import { buildRouteTable, type CompiledRoute, matchRoute } from '../../src/proxy/router.js';
import { createOAuth1Scheme, createOAuth2Scheme } from '../../src/proxy/schemes.js';
import { FileCredentialStore } from '../../src/store/file.js';
import { MemoryNonceStore } from '../../src/store/memory.js';
import type { RequestFacts } from '../../src/verify/request-facts.js';

/**
 * The authenticator seam as the runtime builds it (real schemes, file store, memory nonces, token
 * resolver): detect once → read the body only if needed → authenticate. Checks the scheme choice
 * for `auth: any`, the body decision, and that OAuth1 parameters in a form body (seen only after
 * the body is read) authenticate.
 */

const NOW_MS = Date.now();
const FORM = 'application/x-www-form-urlencoded';

const config = parseGatewayConfig(
  {
    oauth2: { tokenSources: ['store'], allowFormToken: true },
    routes: ['oauth1', 'oauth2', 'any'].map((auth) => ({
      name: auth,
      match: { pathPrefix: `/${auth}` },
      upstream: 'http://127.0.0.1:1',
      auth,
      scopes: ['read'],
    })),
  },
  {},
);
const credentials = new FileCredentialStore(
  credentialsFileSchema.parse({
    clients: [{ clientId: 'c1', clientSecret: 'cs1' }],
    tokens: [{ token: 't1', tokenSecret: 'ts1', clientId: 'c1', userId: 'alice', scope: 'read write' }],
    bearerTokens: [
      {
        accessToken: 'bearer-1',
        clientId: 'app',
        userId: 'bob',
        scope: 'read',
        issuedAt: Math.floor(NOW_MS / 1000),
        expiresIn: 3600,
      },
    ],
  }),
);
const resolver = createTokenResolver(config.oauth2, { credentials, now: () => NOW_MS });
const authenticator = createAuthenticator({
  oauth1: createOAuth1Scheme(config, { credentials, nonces: new MemoryNonceStore(), now: () => NOW_MS }),
  oauth2: createOAuth2Scheme(config, { resolver, now: () => NOW_MS, dpopMode: () => 'off' }),
});
const routes = buildRouteTable(config.routes);

afterAll(async () => {
  await resolver.close();
});

function route(path: string): CompiledRoute {
  return matchRoute(routes, 'api.example', path, 'POST')!;
}

function facts(path: string, init: Partial<RequestFacts> = {}): RequestFacts {
  return {
    method: 'POST',
    scheme: 'https',
    host: 'api.example',
    target: path,
    authorization: undefined,
    contentType: undefined,
    body: undefined,
    ...init,
  };
}

/** What the pipeline does: detect, read the body only when told to, authenticate. */
async function run(path: string, init: Partial<RequestFacts>, body?: string) {
  const withoutBody = facts(path, init);
  const detection = authenticator.detect(route(path), withoutBody);
  const read = detection.bodyNeeded && body !== undefined ? Buffer.from(body) : undefined;
  const identity = await authenticator.authenticate(route(path), { ...withoutBody, body: read }, detection);
  return { bodyNeeded: detection.bodyNeeded, identity };
}

function oauth1Header(path: string, body?: string): string {
  return signOAuth1Request({
    method: 'POST',
    url: `https://api.example${path}`,
    consumerKey: 'c1',
    consumerSecret: 'cs1',
    token: 't1',
    tokenSecret: 'ts1',
    timestamp: Math.floor(NOW_MS / 1000),
    ...(body === undefined ? {} : { body, contentType: FORM }),
  });
}

const ALICE = { method: 'oauth1', clientId: 'c1', user: 'alice', scopes: ['read', 'write'] };
const BOB = { method: 'oauth2', clientId: 'app', user: 'bob', scopes: ['read'] };

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected a rejection');
}

describe('authenticator: detect once, then authenticate', () => {
  it('auth: any + OAuth header → OAuth1 identity; no body needed for a non-form request', async () => {
    expect(await run('/any/x', { authorization: oauth1Header('/any/x') })).toEqual({
      bodyNeeded: false,
      identity: ALICE,
    });
  });

  it('auth: any + Bearer header → OAuth2 identity', async () => {
    expect(await run('/any/x', { authorization: 'Bearer bearer-1' })).toEqual({
      bodyNeeded: false,
      identity: BOB,
    });
  });

  it('OAuth1 parameters only in the form body: the body is needed, read, and authenticates', async () => {
    const body = 'photo=1';
    const header = oauth1Header('/oauth1/x', body);
    // Move the protocol parameters from the header into the form body (RFC 5849 §3.5.2).
    const params = header
      .slice('OAuth '.length)
      .split(', ')
      .map((pair) => pair.replace(/="(.*)"$/, '=$1'))
      .join('&');
    const result = await run('/oauth1/x', { contentType: FORM }, `${body}&${params}`);
    expect(result).toEqual({ bodyNeeded: true, identity: ALICE });
  });

  it('a form-encoded bearer token (allowFormToken) is found after the body is read', async () => {
    expect(await run('/oauth2/x', { contentType: FORM }, 'access_token=bearer-1')).toEqual({
      bodyNeeded: true,
      identity: BOB,
    });
  });

  it('no credentials → 401 with the challenges of the route mode', async () => {
    const anyError = await failure(run('/any/x', {}));
    expect(anyError).toBeInstanceOf(CredentialsMissing);
    expect(anyError.challenges).toEqual(['oauth1', 'oauth2']);
    const oauth1Error = await failure(run('/oauth1/x', { authorization: 'Bearer bearer-1' }));
    expect(oauth1Error).toBeInstanceOf(CredentialsMissing);
    expect(oauth1Error.challenges).toEqual(['oauth1']);
  });

  it('a malformed OAuth header found at detection is reported at authentication (400), not as missing', async () => {
    const error = await failure(run('/any/x', { authorization: 'OAuth oauth_consumer_key=unquoted' }));
    expect(error).toBeInstanceOf(InvalidRequest);
    expect(error.challenges).toEqual(['oauth1']);
  });
});
