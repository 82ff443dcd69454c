import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { fetchJwks, ASSERTION_TYP as TYP, writeAssertionKey } from '../helpers/assertion.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../helpers/upstream.js';
import {
  BEARER,
  CONSUMER,
  credentialsFile,
  oauth1Authorization,
  TOKEN,
} from '../security/helpers/credentials.js';

/**
 * The signed identity assertion (issue 19), judged by an independent verifier (jose's jwtVerify
 * against the JWKS fetched from the admin port) on what the upstream actually received: signature,
 * `typ`, `aud` per route, `exp`, htm/htu against the request line and X-Forwarded-* the upstream saw,
 * sub/client_id/scope/auth_method against the identity headers beside it.
 */

const MACHINE_TOKEN = 'machineTokenNoUser0123456789';
const ISSUER = 'https://gateway.test';

function single(record: RecordedRequest, name: string): string {
  const values = receivedHeader(record, name);
  expect(values).toHaveLength(1);
  return values[0]!;
}

/** Every claim must say what the headers beside it say, and bind the request the upstream saw. */
function expectBoundTo(claims: JWTPayload, record: RecordedRequest): void {
  const user = receivedHeader(record, 'x-oauth-user');
  if (user.length === 0) expect(claims.sub).toBeUndefined();
  else expect(claims.sub).toBe(user[0]);
  expect(claims['client_id']).toBe(single(record, 'x-oauth-client-id'));
  expect(claims['scope']).toBe(single(record, 'x-oauth-scope'));
  expect(claims['auth_method']).toBe(single(record, 'x-oauth-method'));
  expect(claims['htm']).toBe(record.method);
  expect(claims['htu']).toBe(
    `${single(record, 'x-forwarded-proto')}://${single(record, 'x-forwarded-host')}${record.url}`,
  );
  expect(claims.exp! - claims.iat!).toBe(60);
}

describe('identity assertion (EdDSA)', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;
  let keyDir: string;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  let jwksDocument: JSONWebKeySet;

  beforeAll(async () => {
    keyDir = await mkdtemp(join(tmpdir(), 'oauth-gateway-keys-'));
    const key = await writeAssertionKey(keyDir, 'assertion.pem', 'ed25519');
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        identity: { assertion: { keys: [{ path: key }], issuer: ISSUER } },
        routes: [
          { name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstream.url, auth: 'oauth1' },
          {
            name: 'api',
            match: { pathPrefix: '/api' },
            upstream: `${upstream.url}/v2`,
            stripPrefix: true,
            auth: 'oauth2',
            assertionAudience: 'https://api.internal',
          },
          { name: 'other', match: { pathPrefix: '/other' }, upstream: upstream.url, auth: 'any' },
          { name: 'public', match: { pathPrefix: '/public' }, upstream: upstream.url, auth: 'none' },
        ],
      },
      credentials: credentialsFile([
        {
          accessToken: MACHINE_TOKEN,
          clientId: 'machine-client',
          scope: 'a',
          revoked: false,
          issuedAt: Math.floor(Date.now() / 1000),
          expiresIn: 0,
        },
      ]),
    });
    jwksDocument = await fetchJwks(gw.adminUrl);
    jwks = createLocalJWKSet(jwksDocument);
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    if (keyDir !== undefined) await rm(keyDir, { recursive: true, force: true });
  });

  async function bearerGet(path: string, headers: Record<string, string> = {}): Promise<RecordedRequest> {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}${path}`, {
      headers: { authorization: `Bearer ${BEARER.accessToken}`, ...headers },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return (await upstream.waitForRequests(before + 1))[before]!;
  }

  it('publishes one Ed25519 key, public members only', () => {
    expect(jwksDocument.keys).toHaveLength(1);
    const [key] = jwksDocument.keys;
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(key!.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toHaveProperty('d');
  });

  it('an OAuth2 forward carries an assertion that verifies, bound to the request and the identity headers', async () => {
    const record = await bearerGet('/api/items?id=42&b=%20x');
    const assertion = single(record, 'x-oauth-assertion');
    const { payload, protectedHeader } = await jwtVerify(assertion, jwks, {
      issuer: ISSUER,
      audience: 'https://api.internal',
      typ: TYP,
      algorithms: ['EdDSA'],
    });
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: TYP, kid: jwksDocument.keys[0]!.kid });
    expect(record.url).toBe('/v2/items?id=42&b=%20x');
    expectBoundTo(payload, record);
    expect(payload).toMatchObject({
      sub: BEARER.userId,
      client_id: BEARER.clientId,
      scope: BEARER.scope,
      auth_method: 'oauth2',
      htm: 'GET',
      htu: `http://127.0.0.1:${gw.port}/v2/items?id=42&b=%20x`,
    });
    // The gateway minted the request id: the assertion's jti is the same value.
    expect(payload.jti).toBe(single(record, 'x-request-id'));
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(payload).not.toHaveProperty('body_sha256');
  });

  it('an OAuth1 form POST: aud is the route name, and the body the gateway read is hashed', async () => {
    const body = 'title=sunset&tags=a%20b';
    const url = `${gw.url}/photos/upload?album=7`;
    const before = upstream.requests.length;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: oauth1Authorization('POST', url, {
          body,
          contentType: 'application/x-www-form-urlencoded',
        }),
      },
      body,
    });
    expect(res.status).toBe(200);
    const record = (await upstream.waitForRequests(before + 1))[before]!;
    await record.settled;
    const { payload } = await jwtVerify(single(record, 'x-oauth-assertion'), jwks, {
      issuer: ISSUER,
      audience: 'photos',
      typ: TYP,
    });
    expectBoundTo(payload, record);
    expect(payload).toMatchObject({ sub: TOKEN.userId, client_id: CONSUMER.clientId, auth_method: 'oauth1' });
    expect(payload['body_sha256']).toBe(createHash('sha256').update(record.body).digest('base64url'));
    expect(record.body.toString()).toBe(body);
  });

  it('client-sent assertion headers (any case, `_` for `-`, duplicated) never reach the upstream', async () => {
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
    const spellings = ['X-OAuth-Assertion', 'x-oauth-assertion', 'X_OAUTH_ASSERTION', 'x_oauth-Assertion'];
    for (const [index, spelling] of spellings.entries()) {
      for (const path of [`/api/forged/${index}`, `/public/forged/${index}`]) {
        const auth = path.startsWith('/api') ? `Authorization: Bearer ${BEARER.accessToken}\r\n` : '';
        const res = await rawRequest(
          gw.port,
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n${auth}${spelling}: ${forged}\r\n${spelling}: ${forged}\r\nConnection: close\r\n\r\n`,
        );
        expect(res.status).toBe(200);
        const record = upstream.requests.at(-1)!;
        const names = record.rawHeaders
          .filter((_, i) => i % 2 === 0)
          .map((n) => n.toLowerCase().replaceAll('_', '-'));
        const copies = names.filter((n) => n === 'x-oauth-assertion').length;
        // auth: none routes get no assertion at all; authenticated ones exactly the gateway's.
        expect(copies).toBe(path.startsWith('/api') ? 1 : 0);
        expect(record.rawHeaders).not.toContain(forged);
      }
    }
  });

  it('an assertion replayed to another route fails aud', async () => {
    const record = await bearerGet('/api/replay');
    const assertion = single(record, 'x-oauth-assertion');
    // The `other` route's app expects aud "other": the api route's assertion is not for it.
    await expect(jwtVerify(assertion, jwks, { issuer: ISSUER, audience: 'other', typ: TYP })).rejects.toThrow(
      errors.JWTClaimValidationFailed,
    );
    const own = await bearerGet('/other/x');
    const { payload } = await jwtVerify(single(own, 'x-oauth-assertion'), jwks, { audience: 'other' });
    expect(payload.aud).toBe('other');
  });

  it('a tampered assertion fails: changed claims, changed header, stripped signature', async () => {
    const record = await bearerGet('/api/tamper');
    const assertion = single(record, 'x-oauth-assertion');
    const [header, payload, signature] = assertion.split('.') as [string, string, string];
    const claims = decodeJwt(assertion);
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
    const forgedHeader = Buffer.from(
      JSON.stringify({ ...decodeProtectedHeader(assertion), typ: 'JWT' }),
    ).toString('base64url');
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
    for (const tampered of [
      `${header}.${forgedPayload}.${signature}`,
      `${forgedHeader}.${payload}.${signature}`,
      `${header}.${payload}.${flipped}`,
      `${header}.${payload}.`,
    ]) {
      await expect(
        jwtVerify(tampered, jwks, { issuer: ISSUER, audience: 'https://api.internal' }),
      ).rejects.toThrow();
    }
  });

  it('expires after ttl (60 s by default)', async () => {
    const record = await bearerGet('/api/expiry');
    const assertion = single(record, 'x-oauth-assertion');
    const { exp } = decodeJwt(assertion);
    const options = { issuer: ISSUER, audience: 'https://api.internal', typ: TYP };
    await jwtVerify(assertion, jwks, { ...options, currentDate: new Date((exp! - 1) * 1000) });
    await expect(
      jwtVerify(assertion, jwks, { ...options, currentDate: new Date((exp! + 1) * 1000) }),
    ).rejects.toThrow(errors.JWTExpired);
  });

  it('jti is unique even when the client chooses X-Request-Id (RFC 7519 §4.1.7)', async () => {
    const first = await bearerGet('/api/rid', { 'x-request-id': 'client-chosen-1' });
    const second = await bearerGet('/api/rid', { 'x-request-id': 'client-chosen-1' });
    expect(single(first, 'x-request-id')).toBe('client-chosen-1');
    const a = decodeJwt(single(first, 'x-oauth-assertion')).jti;
    const b = decodeJwt(single(second, 'x-oauth-assertion')).jti;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });

  it('a token without a user (client credentials) carries no sub, like the missing user header', async () => {
    const before = upstream.requests.length;
    const res = await fetch(`${gw.url}/api/machine`, {
      headers: { authorization: `Bearer ${MACHINE_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const record = (await upstream.waitForRequests(before + 1))[before]!;
    expect(receivedHeader(record, 'x-oauth-user')).toEqual([]);
    const { payload } = await jwtVerify(single(record, 'x-oauth-assertion'), jwks, {
      audience: 'https://api.internal',
    });
    expect(payload).not.toHaveProperty('sub');
    expectBoundTo(payload, record);
    expect(payload['client_id']).toBe('machine-client');
  });

  it('a key file replaced in place is picked up by a reload; a reload with a missing key is rejected', async () => {
    const path = join(keyDir, 'in-place.pem');
    await writeAssertionKey(keyDir, 'in-place.pem', 'ed25519');
    const config = {
      identity: { assertion: { keys: [{ path }], issuer: ISSUER } },
      routes: [{ name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' }],
    };
    const local = await startTestGateway({ config, credentials: credentialsFile() });
    try {
      const [before] = (await fetchJwks(local.adminUrl)).keys;
      await rm(path);
      await writeAssertionKey(keyDir, 'in-place.pem', 'ed25519');
      expect(await local.reload()).toBe(true);
      const [after] = (await fetchJwks(local.adminUrl)).keys;
      expect(after!.kid).not.toBe(before!.kid);
      expect(after!['x']).not.toBe(before!['x']);

      // A reload whose key is missing is rejected: the running keys stay, requests keep verifying.
      await local.writeFiles({
        config: {
          ...config,
          identity: { assertion: { keys: [{ path: join(keyDir, 'gone.pem') }], issuer: ISSUER } },
        },
      });
      expect(await local.reload()).toBe(false);
      expect(local.logs.some((line) => line.includes('identity.assertion.keys[0].path: cannot read'))).toBe(
        true,
      );
      expect((await fetchJwks(local.adminUrl)).keys.map((k) => k.kid)).toEqual([after!.kid]);
      const res = await fetch(`${local.url}/api/still`, {
        headers: { authorization: `Bearer ${BEARER.accessToken}` },
      });
      expect(res.status).toBe(200);
      const record = upstream.requests.at(-1)!;
      const { protectedHeader } = await jwtVerify(
        single(record, 'x-oauth-assertion'),
        createLocalJWKSet(await fetchJwks(local.adminUrl)),
        { audience: 'api' },
      );
      expect(protectedHeader.kid).toBe(after!.kid);
    } finally {
      await local.stop();
    }
  });

  it('without identity.assertion there is no JWKS and no assertion header', async () => {
    const plain = await startTestGateway({
      config: {
        routes: [{ name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' }],
      },
      credentials: credentialsFile(),
    });
    try {
      expect((await fetch(`${plain.adminUrl}/.well-known/jwks.json`)).status).toBe(404);
      const before = upstream.requests.length;
      const res = await fetch(`${plain.url}/api/x`, {
        headers: { authorization: `Bearer ${BEARER.accessToken}`, 'x-oauth-assertion': 'forged' },
      });
      expect(res.status).toBe(200);
      const record = (await upstream.waitForRequests(before + 1))[before]!;
      expect(receivedHeader(record, 'x-oauth-assertion')).toEqual([]);
    } finally {
      await plain.stop();
    }
  });

  it('a WebSocket upgrade carries an assertion too', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const handshakes: IncomingMessage[] = [];
    wss.on('connection', (_socket, req) => handshakes.push(req));
    const { port } = wss.address() as { port: number };
    const ws = await startTestGateway({
      config: {
        identity: { assertion: { keys: [{ path: join(keyDir, 'assertion.pem') }], issuer: ISSUER } },
        routes: [
          {
            name: 'live',
            match: { pathPrefix: '/live' },
            upstream: `http://127.0.0.1:${port}`,
            auth: 'oauth2',
          },
        ],
      },
      credentials: credentialsFile(),
    });
    try {
      const client = new WebSocket(`ws://127.0.0.1:${ws.port}/live/feed?x=1`, {
        headers: { authorization: `Bearer ${BEARER.accessToken}`, 'x-oauth-assertion': 'forged' },
      });
      await once(client, 'open');
      const handshake = handshakes[0]!;
      const assertion = handshake.headers['x-oauth-assertion'];
      expect(typeof assertion).toBe('string');
      const { payload } = await jwtVerify(assertion as string, jwks, {
        issuer: ISSUER,
        audience: 'live',
        typ: TYP,
      });
      expect(payload).toMatchObject({
        sub: BEARER.userId,
        htm: 'GET',
        htu: `http://127.0.0.1:${ws.port}/live/feed?x=1`,
      });
      client.close();
      await once(client, 'close');
    } finally {
      await ws.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
