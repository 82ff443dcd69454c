import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { accessTokenHash } from '../../../src/verify/dpop/proof.js';
import { fetchJwks, writeAssertionKey } from '../../helpers/assertion.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { receivedHeader, startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  RESOURCES,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from '../../introspect/helpers/authorization-server.js';
import { challenges, errorCode, send } from './support.js';

/**
 * RFC 9449 end to end: oidc-provider issues DPoP-bound access tokens (JWT and opaque), the npm
 * `oauth4webapi` client makes the proofs, the gateway verifies proof and binding (cnf.jkt from the
 * JWT or from introspection). Negative cases use proofs made with jose, each refused with 401 and
 * the DPoP challenge.
 */

const REALM = 'dpop-api';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('DPoP-bound tokens (RFC 9449)', () => {
  let as: AuthorizationServer;
  let upstream: TestUpstream;
  let gw: TestGateway;
  let server: oauth.AuthorizationServer;
  const client: oauth.Client = { client_id: SERVICE_CLIENT.clientId };
  const clientAuth = oauth.ClientSecretBasic(SERVICE_CLIENT.clientSecret);
  let keyPair: oauth.CryptoKeyPair;
  let dpop: oauth.DPoPHandle;
  let keyDir: string;

  async function boundToken(resource: keyof typeof RESOURCES): Promise<string> {
    const params = new URLSearchParams({ resource: RESOURCES[resource], scope: 'read' });
    const response = await oauth.clientCredentialsGrantRequest(server, client, clientAuth, params, {
      DPoP: dpop,
      ...insecure,
    });
    const result = await oauth.processClientCredentialsResponse(server, client, response);
    expect(result.token_type).toBe('dpop');
    return result.access_token;
  }

  async function call(token: string, path: string, method = 'GET') {
    return oauth.protectedResourceRequest(token, method, new URL(`${gw.url}${path}`), new Headers(), null, {
      DPoP: dpop,
      ...insecure,
    });
  }

  beforeAll(async () => {
    as = await startAuthorizationServer();
    upstream = await startUpstream();
    const issuer = new URL(as.issuer);
    server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
    dpop = oauth.DPoP(client, keyPair);
    keyDir = await mkdtemp(join(tmpdir(), 'oauth-gateway-keys-'));
    const assertionKey = await writeAssertionKey(keyDir, 'assertion.pem', 'ed25519');
    gw = await startTestGateway({
      config: {
        // The identity assertion carries the proved key as cnf.jkt (issue 19).
        identity: { assertion: { keys: [{ path: assertionKey }] } },
        oauth2: {
          realm: REALM,
          tokenSources: ['jwt', 'introspection'],
          jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: RESOURCES.jwt, algorithms: ['RS256'] },
          introspection: {
            url: as.introspectionUrl,
            clientId: GATEWAY_CLIENT.clientId,
            clientSecret: GATEWAY_CLIENT.clientSecret,
          },
          dpop: { mode: 'allow', algorithms: ['ES256', 'EdDSA'] },
        },
        routes: [
          {
            name: 'jwt',
            match: { pathPrefix: '/jwt' },
            upstream: upstream.url,
            auth: 'oauth2',
            scopes: ['read'],
          },
          { name: 'opaque', match: { pathPrefix: '/opaque' }, upstream: upstream.url, auth: 'oauth2' },
          {
            name: 'strict',
            match: { pathPrefix: '/strict' },
            upstream: upstream.url,
            auth: 'oauth2',
            dpop: 'require',
          },
        ],
      },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    await as?.close();
    if (keyDir !== undefined) await rm(keyDir, { recursive: true, force: true });
  });

  it('a DPoP-bound JWT access token with an oauth4webapi proof passes, with the key thumbprint upstream', async () => {
    const token = await boundToken('jwt');
    const before = upstream.requests.length;
    const response = await call(token, '/jwt/photos?size=big');
    expect(response.status).toBe(200);
    const record = upstream.requests[before]!;
    expect(receivedHeader(record, 'x-oauth-client-id')).toEqual([SERVICE_CLIENT.clientId]);
    expect(receivedHeader(record, 'x-oauth-method')).toEqual(['oauth2']);
    const expected = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    expect(receivedHeader(record, 'x-oauth-jkt')).toEqual([expected]);
    const [assertion] = receivedHeader(record, 'x-oauth-assertion');
    const { payload } = await jwtVerify(assertion!, createLocalJWKSet(await fetchJwks(gw.adminUrl)), {
      audience: 'jwt',
    });
    expect(payload['cnf']).toEqual({ jkt: expected });
    // The proof is for the gateway hop; the app never sees it or the token.
    expect(receivedHeader(record, 'dpop')).toEqual([]);
    expect(receivedHeader(record, 'authorization')).toEqual([]);
  });

  it('a DPoP-bound opaque token (cnf.jkt from introspection) passes', async () => {
    const token = await boundToken('opaque');
    expect((await call(token, '/opaque/x')).status).toBe(200);
  });

  it('a bound token presented as Bearer → 401 invalid_token', async () => {
    const token = await boundToken('jwt');
    const reply = await send(gw.url, '/jwt/x', { headers: { authorization: `Bearer ${token}` } });
    expect(reply.status).toBe(401);
    expect(errorCode(reply)).toBe('invalid_token');
  });

  it('no credentials on a DPoP-allowing route → Bearer and DPoP challenges; on a requiring route → DPoP only', async () => {
    const allow = await send(gw.url, '/jwt/x');
    expect(allow.status).toBe(401);
    expect(challenges(allow)).toEqual([
      `Bearer realm="${REALM}"`,
      `DPoP realm="${REALM}", algs="ES256 EdDSA"`,
    ]);
    const require = await send(gw.url, '/strict/x');
    expect(challenges(require)).toEqual([`DPoP realm="${REALM}", algs="ES256 EdDSA"`]);
  });

  it('a requiring route refuses a plain Bearer token with the DPoP challenge', async () => {
    const plain = await as.getToken({ resource: 'opaque', scope: 'read' });
    const reply = await send(gw.url, '/strict/x', { headers: { authorization: `Bearer ${plain}` } });
    expect(reply.status).toBe(401);
    expect(challenges(reply)[0]).toMatch(/^DPoP realm="dpop-api", algs="ES256 EdDSA", error="invalid_token"/);
  });

  describe('forged and misused proofs → 401 invalid_dpop_proof with the DPoP challenge', () => {
    let token: string;
    let jwk: JWK;

    beforeAll(async () => {
      token = await boundToken('jwt');
      jwk = await exportJWK(keyPair.publicKey);
    });

    function proof(
      claims: Record<string, unknown>,
      options: { key?: Parameters<SignJWT['sign']>[0]; header?: Record<string, unknown> } = {},
    ) {
      return new SignJWT({
        htm: 'GET',
        htu: `${gw.url}/jwt/x`,
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
        ath: accessTokenHash(token),
        ...claims,
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk, ...options.header })
        .sign(options.key ?? keyPair.privateKey);
    }

    async function expectRefused(headers: Record<string, string>, path = '/jwt/x', method = 'GET') {
      const before = upstream.requests.length;
      const reply = await send(gw.url, path, {
        method,
        headers: { authorization: `DPoP ${token}`, ...headers },
      });
      expect(reply.status).toBe(401);
      expect(errorCode(reply)).toBe('invalid_dpop_proof');
      expect(challenges(reply)[0]).toMatch(
        /^DPoP realm="dpop-api", algs="ES256 EdDSA", error="invalid_dpop_proof"/,
      );
      expect(upstream.requests.length).toBe(before);
    }

    it('proof for another method or URL', async () => {
      await expectRefused({ dpop: await proof({ htm: 'POST' }) });
      await expectRefused({ dpop: await proof({ htu: `${gw.url}/jwt/other` }) });
    });

    it('expired or future iat', async () => {
      await expectRefused({ dpop: await proof({ iat: Math.floor(Date.now() / 1000) - 600 }) });
      await expectRefused({ dpop: await proof({ iat: Math.floor(Date.now() / 1000) + 600 }) });
    });

    it('replayed jti: the first use passes, the second is refused', async () => {
      const once = await proof({});
      const first = await send(gw.url, '/jwt/x', { headers: { authorization: `DPoP ${token}`, dpop: once } });
      expect(first.status).toBe(200);
      await expectRefused({ dpop: once });
    });

    it('wrong ath, proof key other than cnf.jkt, HS256, private key in jwk', async () => {
      await expectRefused({ dpop: await proof({ ath: accessTokenHash('other') }) });
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const otherJwk = await exportJWK(other.publicKey);
      await expectRefused({ dpop: await proof({}, { key: other.privateKey, header: { jwk: otherJwk } }) });
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const hs = `${b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } })}.${b64({ htm: 'GET', htu: `${gw.url}/jwt/x`, iat: Math.floor(Date.now() / 1000), jti: 'h', ath: accessTokenHash(token) })}.c2ln`;
      await expectRefused({ dpop: hs });
      const withPrivate = await exportJWK(keyPair.privateKey);
      await expectRefused({ dpop: await proof({}, { header: { jwk: withPrivate } }) });
    });

    it('two DPoP headers, or none', async () => {
      const a = await proof({});
      const b = await proof({});
      const before = upstream.requests.length;
      const reply = await rawRequest(
        gw.port,
        `GET /jwt/x HTTP/1.1\r\nHost: ${new URL(gw.url).host}\r\nAuthorization: DPoP ${token}\r\nDPoP: ${a}\r\nDPoP: ${b}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply.status).toBe(401);
      expect(JSON.parse(reply.body).error).toBe('invalid_dpop_proof');
      expect(upstream.requests.length).toBe(before);
      await expectRefused({});
    });
  });
});

describe('DPoP server nonces (RFC 9449 §9)', () => {
  it('a proof without the nonce gets 401 use_dpop_nonce and a DPoP-Nonce; oauth4webapi retries with it', async () => {
    const as = await startAuthorizationServer();
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      config: {
        oauth2: {
          tokenSources: ['jwt'],
          jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: RESOURCES.jwt, algorithms: ['RS256'] },
          dpop: { mode: 'allow', nonce: { rotation: '1m' } },
        },
        routes: [{ name: 'jwt', match: { pathPrefix: '/jwt' }, upstream: upstream.url, auth: 'oauth2' }],
      },
    });
    try {
      const issuer = new URL(as.issuer);
      const server = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, insecure),
      );
      const client: oauth.Client = { client_id: SERVICE_CLIENT.clientId };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const response = await oauth.clientCredentialsGrantRequest(
        server,
        client,
        oauth.ClientSecretBasic(SERVICE_CLIENT.clientSecret),
        new URLSearchParams({ resource: RESOURCES.jwt }),
        { DPoP: dpop, ...insecure },
      );
      const { access_token: token } = await oauth.processClientCredentialsResponse(server, client, response);
      const url = new URL(`${gw.url}/jwt/x`);
      const first = await oauth
        .protectedResourceRequest(token, 'GET', url, new Headers(), null, { DPoP: dpop, ...insecure })
        .then(
          (r) => r.status,
          (error: unknown) => (oauth.isDPoPNonceError(error) ? 'use_dpop_nonce' : String(error)),
        );
      expect(first).toBe('use_dpop_nonce');
      // The handle learned the nonce from DPoP-Nonce: the retry carries it.
      const second = await oauth.protectedResourceRequest(token, 'GET', url, new Headers(), null, {
        DPoP: dpop,
        ...insecure,
      });
      expect(second.status).toBe(200);
    } finally {
      await gw.stop();
      await upstream.close();
      await as.close();
    }
  });
});

describe('DPoP replay across replicas and fuzzing', () => {
  it('a proof used at one gateway is refused at another sharing the Redis jti store', async () => {
    const as = await startAuthorizationServer();
    const upstream = await startUpstream();
    const keyPrefix = `dpop-test:${crypto.randomUUID()}:`;
    const make = () =>
      startTestGateway({
        config: {
          redis: { url: inject('redisUrl'), keyPrefix },
          oauth2: {
            tokenSources: ['jwt'],
            jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: RESOURCES.jwt, algorithms: ['RS256'] },
            dpop: { mode: 'allow', jtiStore: 'redis' },
          },
          routes: [{ name: 'jwt', match: { pathPrefix: '/jwt' }, upstream: upstream.url, auth: 'oauth2' }],
        },
      });
    const one = await make();
    const two = await make();
    try {
      const issuer = new URL(as.issuer);
      const server = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, insecure),
      );
      const client: oauth.Client = { client_id: SERVICE_CLIENT.clientId };
      const keys = await oauth.generateKeyPair('ES256', { extractable: true });
      const response = await oauth.clientCredentialsGrantRequest(
        server,
        client,
        oauth.ClientSecretBasic(SERVICE_CLIENT.clientSecret),
        new URLSearchParams({ resource: RESOURCES.jwt }),
        { DPoP: oauth.DPoP(client, keys), ...insecure },
      );
      const { access_token: token } = await oauth.processClientCredentialsResponse(server, client, response);
      // Both replicas are addressed by the same URL (as behind one Service): one proof fits both.
      const host = 'api.example.test';
      const proof = await new SignJWT({
        htm: 'GET',
        htu: `http://${host}/jwt/x`,
        iat: Math.floor(Date.now() / 1000),
        jti: crypto.randomUUID(),
        ath: accessTokenHash(token),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
        .sign(keys.privateKey);
      const headers = { host, authorization: `DPoP ${token}`, dpop: proof };
      expect((await send(one.url, '/jwt/x', { headers })).status).toBe(200);
      const replay = await send(two.url, '/jwt/x', { headers });
      expect(replay.status).toBe(401);
      expect(errorCode(replay)).toBe('invalid_dpop_proof');
      expect(upstream.requests).toHaveLength(1);
    } finally {
      await one.stop();
      await two.stop();
      await upstream.close();
      await as.close();
    }
  });

  it('fuzzed DPoP headers and DPoP authorizations: never a 5xx, never accepted', async () => {
    const as = await startAuthorizationServer();
    const upstream = await startUpstream();
    const gw = await startTestGateway({
      config: {
        oauth2: {
          tokenSources: ['jwt'],
          jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: RESOURCES.jwt, algorithms: ['RS256'] },
          dpop: { mode: 'allow' },
        },
        routes: [{ name: 'jwt', match: { pathPrefix: '/jwt' }, upstream: upstream.url, auth: 'oauth2' }],
      },
    });
    try {
      const token = await as.getToken({ resource: 'jwt', scope: 'read' });
      const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const segment = fc.oneof(
        fc.string({ maxLength: 40 }).map((text) => Buffer.from(text).toString('base64url')),
        fc.constantFrom(
          b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }),
          b64({ alg: 'none', typ: 'dpop+jwt' }),
          b64({ htm: 'GET', htu: `${gw.url}/jwt/x`, iat: Math.floor(Date.now() / 1000), jti: 'j' }),
          b64([]),
          b64(null),
          '',
        ),
      );
      const proof = fc.oneof(
        fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
        fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.=,; '), maxLength: 80 }),
      );
      const scheme = fc.constantFrom('DPoP', 'dpop', 'Bearer', 'DPoP ', 'DPoP\t');
      const before = upstream.requests.length;
      await fc.assert(
        fc.asyncProperty(scheme, proof, async (name, value) => {
          const headers: Record<string, string> = { authorization: `${name} ${token}` };
          if (value.trim() !== '') headers['dpop'] = value.trim();
          const reply = await send(gw.url, '/jwt/x', { headers });
          // The unbound token passes as Bearer (its proof header is ignored); as DPoP it never does.
          if (name.trim().toLowerCase() === 'bearer') return reply.status === 200;
          return reply.status >= 400 && reply.status < 500;
        }),
        { seed: 20_261_201, numRuns: 200 },
      );
      const bearerCalls = upstream.requests.length - before;
      expect(upstream.requests.slice(before).every((r) => r.headers.authorization === undefined)).toBe(true);
      expect(bearerCalls).toBeGreaterThan(0);
    } finally {
      await gw.stop();
      await upstream.close();
      await as.close();
    }
  });
});
