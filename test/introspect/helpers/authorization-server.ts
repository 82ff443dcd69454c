import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import Provider, { type ProviderContext } from 'oidc-provider';

/**
 * A real OAuth 2.0 authorization server for tests: oidc-provider v9 on 127.0.0.1, port 0.
 *
 * - client_credentials grant for `service` (the "client application" that gets tokens);
 * - RFC 7662 introspection and RFC 7009 revocation;
 * - RFC 8707 resource indicators: `RESOURCES.jwt` gets RFC 9068 JWT access tokens signed with the
 *   provider's RS256 key, `RESOURCES.opaque` gets opaque tokens; no resource → opaque, no `aud`;
 * - two clients the gateway authenticates introspection with: `gateway` (client_secret_basic, a
 *   secret full of characters RFC 6749 §2.3.1 form-encodes) and `gateway-post` (client_secret_post).
 *
 * Every request passes through a wrapping node:http server that counts requests per path (so
 * tests can assert "exactly one introspection call"), can be stopped and restarted on the same
 * port (the AS going down mid-run), and can swap the provider for one with rotated keys.
 *
 * oidc-provider facts tests rely on (checked in its source):
 * - JWT access tokens carry `typ: at+jwt`, and `sub` = client_id for client_credentials tokens
 *   (models/formats/jwt.js `sub: sub || clientId`; RFC 9068 §2.2);
 * - introspection of client_credentials tokens has no `sub`;
 * - introspecting a JWT access token answers 400 `unsupported_token_type`
 *   (shared/reject_structured_tokens.js).
 */

export const RESOURCES = {
  jwt: 'https://api.example.test/jwt',
  opaque: 'https://api.example.test/opaque',
} as const;

export const SERVICE_CLIENT = { clientId: 'service', clientSecret: 'service-secret' } as const;
/** ':' '+' '%' '/' and space break naive Basic encoding (RFC 6749 §2.3.1 form-encodes first). */
export const GATEWAY_CLIENT = { clientId: 'gateway:id', clientSecret: 'g+w/y:s%c &=~' } as const;
export const GATEWAY_POST_CLIENT = { clientId: 'gateway-post', clientSecret: 'post secret+%' } as const;
/** A client_credentials client authenticating with private_key_jwt, an ES256 key (RFC 7523). */
export const JWT_CLIENT = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    clientId: 'service-jwt',
    keyId: 'service-jwt-key-1',
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'service-jwt-key-1', alg: 'ES256', use: 'sig' },
  };
})();
/** A client_credentials client authenticating with client_secret_post (egress tests). */
export const SERVICE_POST_CLIENT = { clientId: 'service-post', clientSecret: 'service post+%&=' } as const;

const RESOURCE_SCOPES = 'read write admin';

export interface TokenRequest {
  /** A key of RESOURCES, an absolute resource indicator, or undefined for no resource. */
  resource?: keyof typeof RESOURCES | undefined;
  scope?: string | undefined;
  /** Access token lifetime in seconds (default 3600). */
  ttlSeconds?: number | undefined;
}

export interface AuthorizationServer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly introspectionUrl: string;
  readonly tokenUrl: string;
  readonly revocationUrl: string;
  /** Client-credentials access token from the token endpoint. */
  getToken(request?: TokenRequest): Promise<string>;
  /** RFC 7009 revocation (opaque tokens only, like any oidc-provider). */
  revoke(token: string): Promise<void>;
  /** Requests seen per path since start (e.g. `requests('/token/introspection')`). */
  requests(path: string): number;
  /** Sign new tokens with a fresh key (new kid); the JWKS keeps the old key too, as in a real rotation. */
  rotateKeys(): Promise<{ kid: string }>;
  /** Current signing key id. */
  readonly kid: string;
  /** Current public signing key as a JWK (what the JWKS publishes). */
  publicJwk(): JWK;
  /**
   * Sign arbitrary claims with the AS's real current key, for tokens oidc-provider would never
   * issue (an ID-token-like `typ: JWT`, a token without exp). Defaults: typ at+jwt, RS256, kid.
   */
  sign(claims: JWTPayload, header?: { typ?: string }): Promise<string>;
  /**
   * Lifetime (seconds) of client-credentials tokens requested without the `x-test-ttl` header,
   * i.e. by the gateway itself (egress); undefined restores the default 3600.
   */
  setDefaultTokenTtl(seconds: number | undefined): void;
  /** Hold every /token request this long before answering (0 = none). */
  setTokenDelay(ms: number): void;
  /** Answer /token with this instead of the provider (a broken AS); undefined restores it. */
  setTokenOverride(override: ((req: IncomingMessage, res: ServerResponse) => void) | undefined): void;
  /** Stop accepting connections and drop open ones (the AS is down); `start()` brings it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function buildProvider(issuer: string, keys: JWK[]): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: SERVICE_CLIENT.clientId,
        client_secret: SERVICE_CLIENT.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: JWT_CLIENT.clientId,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [JWT_CLIENT.publicJwk] },
      },
      {
        client_id: SERVICE_POST_CLIENT.clientId,
        client_secret: SERVICE_POST_CLIENT.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: GATEWAY_CLIENT.clientId,
        client_secret: GATEWAY_CLIENT.clientSecret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: GATEWAY_POST_CLIENT.clientId,
        client_secret: GATEWAY_POST_CLIENT.clientSecret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: keys as never },
    cookies: { keys: ['test-cookie-key'] },
    scopes: ['openid'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx: ProviderContext, resourceIndicator: string) => {
          if (resourceIndicator === RESOURCES.jwt) {
            return {
              scope: RESOURCE_SCOPES,
              audience: RESOURCES.jwt,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          }
          if (resourceIndicator === RESOURCES.opaque) {
            return { scope: RESOURCE_SCOPES, audience: RESOURCES.opaque, accessTokenFormat: 'opaque' };
          }
          throw new Provider.errors.InvalidTarget();
        },
      },
    },
    ttl: {
      // Tests ask for short-lived tokens with a header (params are filtered by oidc-provider).
      ClientCredentials: (ctx: ProviderContext) => {
        const asked = Number(ctx.get('x-test-ttl'));
        return Number.isInteger(asked) && asked > 0 ? asked : 3600;
      },
    },
  });
}

export async function startAuthorizationServer(): Promise<AuthorizationServer> {
  const counts = new Map<string, number>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  let defaultTtl: number | undefined;
  let tokenDelay = 0;
  let tokenOverride: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (path !== '/token') {
      handler(req, res);
      return;
    }
    if (defaultTtl !== undefined && req.headers['x-test-ttl'] === undefined) {
      req.headers['x-test-ttl'] = String(defaultTtl);
    }
    const answer = tokenOverride ?? handler;
    if (tokenDelay > 0) setTimeout(() => answer(req, res), tokenDelay);
    else answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  let keys = [await newSigningKey()];
  const install = () => {
    handler = buildProvider(issuer, keys).callback();
  };
  install();

  const tokenUrl = `${issuer}/token`;
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    introspectionUrl: `${issuer}/token/introspection`,
    tokenUrl,
    revocationUrl: `${issuer}/token/revocation`,
    get kid() {
      return keys[0]!.kid!;
    },
    publicJwk() {
      const { kty, n, e, kid, alg, use } = keys[0]!;
      return { kty, n, e, kid, alg, use } as JWK;
    },
    async sign(claims, header = {}) {
      const key = await importJWK(keys[0]!, 'RS256');
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: keys[0]!.kid!, typ: header.typ ?? 'at+jwt' })
        .sign(key);
    },
    async getToken(request = {}) {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (request.scope !== undefined) form.set('scope', request.scope);
      if (request.resource !== undefined) form.set('resource', RESOURCES[request.resource]);
      const response = await fetch(tokenUrl, {
        method: 'POST',
        headers: {
          authorization: basic(SERVICE_CLIENT.clientId, SERVICE_CLIENT.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
          'x-test-ttl': String(request.ttlSeconds ?? 3600),
        },
        body: form,
      });
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (response.status !== 200 || body.access_token === undefined) {
        throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
      }
      return body.access_token;
    },
    async revoke(token) {
      const response = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          authorization: basic(SERVICE_CLIENT.clientId, SERVICE_CLIENT.clientSecret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (response.status !== 200) throw new Error(`revocation answered ${response.status}`);
    },
    requests(path) {
      return counts.get(path) ?? 0;
    },
    async rotateKeys() {
      keys = [await newSigningKey(), ...keys];
      install();
      return { kid: keys[0]!.kid! };
    },
    setDefaultTokenTtl(seconds) {
      defaultTtl = seconds;
    },
    setTokenDelay(ms) {
      tokenDelay = ms;
    },
    setTokenOverride(override) {
      tokenOverride = override;
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
