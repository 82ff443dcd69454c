import { createHmac, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { createJwtSource } from '../../../src/introspect/sources/jwt.js';
import type { BackendFault } from '../../../src/observability/backend-failures.js';
import {
  type AuthorizationServer,
  RESOURCES,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from '../helpers/authorization-server.js';
import { oauth2Config } from '../helpers/config.js';

let as: AuthorizationServer;

function jwtSource(
  overrides: Record<string, unknown> = {},
  now: () => number = Date.now,
  cooldownMs = 0,
  cacheMaxAgeMs = 600_000,
) {
  const config = oauth2Config({
    tokenSources: ['jwt'],
    jwt: {
      jwksUri: as.jwksUri,
      issuer: as.issuer,
      audience: RESOURCES.jwt,
      algorithms: ['RS256'],
      ...overrides,
    },
  });
  return createJwtSource(config.jwt!, now, { cooldownMs, cacheMaxAgeMs });
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  as = await startAuthorizationServer();
});
afterAll(async () => {
  await as.close();
});

describe('RFC 9068 JWT access tokens from oidc-provider', () => {
  it('valid token → active; sub = client_id (client_credentials) means no user', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read write' });
    const info = await jwtSource().lookup(token);
    expect(info).toMatchObject({
      active: true,
      clientId: SERVICE_CLIENT.clientId,
      scopes: ['read', 'write'],
      aud: [RESOURCES.jwt],
    });
    expect(info?.user).toBeUndefined();
    expect(info?.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('a user token (sub ≠ client_id) → user from sub', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await as.sign({
      iss: as.issuer,
      aud: RESOURCES.jwt,
      sub: 'alice',
      client_id: 'app',
      exp: now + 60,
      iat: now,
    });
    expect(await jwtSource().lookup(token)).toMatchObject({ active: true, user: 'alice', clientId: 'app' });
  });

  it('integer sub and client_id (an Authlib app signing sub: user.id) → decimal strings; other types → inactive', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: as.issuer, aud: RESOURCES.jwt, exp: now + 60, iat: now };
    const numeric = await as.sign({ ...claims, sub: 42, client_id: 7 } as never);
    expect(await jwtSource().lookup(numeric)).toMatchObject({ active: true, user: '42', clientId: '7' });
    for (const sub of [4.5, true, { id: 42 }, 2 ** 53 + 2]) {
      const odd = await as.sign({ ...claims, sub, client_id: 'app' } as never);
      expect((await jwtSource().lookup(odd))?.active).toBe(false);
    }
  });

  it('not a JWT at all (opaque) → undefined, so the chain continues', async () => {
    const opaque = await as.getToken({ resource: 'opaque', scope: 'read' });
    const source = jwtSource();
    expect(await source.lookup(opaque)).toBeUndefined();
    expect(await source.lookup('a.b')).toBeUndefined();
    expect(await source.lookup('abc.def.ghi')).toBeUndefined(); // three parts, header not JSON
  });

  it('wrong audience → inactive', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect((await jwtSource({ audience: 'https://elsewhere.example' }).lookup(token))?.active).toBe(false);
  });

  it('wrong issuer → inactive', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect((await jwtSource({ issuer: 'https://evil.example' }).lookup(token))?.active).toBe(false);
  });

  it('expired (by the injected clock, beyond clockTolerance) → inactive; within tolerance → active', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read', ttlSeconds: 60 });
    const base = Date.now();
    expect((await jwtSource({ clockTolerance: '5s' }, () => base + 64_000).lookup(token))?.active).toBe(true);
    expect((await jwtSource({ clockTolerance: '5s' }, () => base + 70_000).lookup(token))?.active).toBe(
      false,
    );
  });

  it('typ JWT (an ID-token-shaped JWT signed by the real key) → inactive (RFC 9068 §4)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: as.issuer, aud: RESOURCES.jwt, sub: 'alice', exp: now + 60, iat: now };
    expect((await jwtSource().lookup(await as.sign(claims, { typ: 'JWT' })))?.active).toBe(false);
    expect((await jwtSource().lookup(await as.sign(claims, { typ: 'application/at+jwt' })))?.active).toBe(
      true,
    );
  });

  it('no exp → inactive (RFC 9068 §2.2: exp is required)', async () => {
    const token = await as.sign({ iss: as.issuer, aud: RESOURCES.jwt, sub: 'alice' });
    expect((await jwtSource().lookup(token))?.active).toBe(false);
  });

  it('tampered payload (signature no longer matches) → inactive', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${b64url({ ...claims, scope: 'read write admin' })}.${signature}`;
    expect((await jwtSource().lookup(forged))?.active).toBe(false);
  });

  describe('forgeries', () => {
    const claims = () => {
      const now = Math.floor(Date.now() / 1000);
      return {
        iss: as.issuer,
        aud: RESOURCES.jwt,
        sub: 'mallory',
        client_id: 'x',
        scope: 'admin',
        exp: now + 60,
        iat: now,
      };
    };

    it('alg: none → inactive', async () => {
      const token = `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(claims())}.`;
      expect((await jwtSource().lookup(token))?.active).toBe(false);
      const withKid = `${b64url({ alg: 'none', typ: 'at+jwt', kid: as.kid })}.${b64url(claims())}.`;
      expect((await jwtSource().lookup(withKid))?.active).toBe(false);
    });

    it('HS256 keyed with the published public key (PEM, DER, JWK modulus) → inactive', async () => {
      const jwk = as.publicJwk();
      const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
      const secrets: (string | Buffer)[] = [
        publicKey.export({ type: 'spki', format: 'pem' }) as string,
        publicKey.export({ type: 'pkcs1', format: 'pem' }) as string,
        publicKey.export({ type: 'spki', format: 'der' }) as Buffer,
        Buffer.from(jwk.n!, 'base64url'),
        jwk.n!,
        JSON.stringify(jwk),
      ];
      const source = jwtSource();
      for (const secret of secrets) {
        const signingInput = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })}.${b64url(claims())}`;
        const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
        expect((await source.lookup(`${signingInput}.${signature}`))?.active).toBe(false);
      }
    });

    it('an algorithm outside the allow-list is refused even when the signature is genuine', async () => {
      const token = await as.getToken({ resource: 'jwt', scope: 'read' });
      expect((await jwtSource({ algorithms: ['ES256'] }).lookup(token))?.active).toBe(false);
    });
  });

  it('JWKS key rotation: a new kid refetches at once when the last fetch is over the 1 s floor', async () => {
    let now = Date.now();
    const source = jwtSource({}, () => now, 30_000);
    const before = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect((await source.lookup(before))?.active).toBe(true);
    const jwksFetches = as.requests('/jwks');

    const { kid } = await as.rotateKeys();
    const after = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
    // 1.5 s after the last fetch: past the floor, so the unknown kid refetches at once, although
    // the 30 s jwksCooldown has not passed.
    now += 1_500;
    expect((await source.lookup(after))?.active).toBe(true);
    expect(as.requests('/jwks')).toBe(jwksFetches + 1);
    // The old key stays published, so tokens issued before the rotation still verify.
    expect((await source.lookup(before))?.active).toBe(true);
  });

  it('a new kid right after a fetch is refused only until the floor has passed (retryAt), then verifies', async () => {
    let now = Date.now();
    const source = jwtSource({}, () => now, 30_000);
    await source.lookup(await as.getToken({ resource: 'jwt', scope: 'read' }));
    const fetchedAt = now;
    await as.rotateKeys();
    const after = await as.getToken({ resource: 'jwt', scope: 'read' });
    now += 200;
    const refused = await source.lookup(after);
    expect(refused).toMatchObject({ active: false, retryAt: fetchedAt + 1_000 });
    now = fetchedAt + 1_000;
    expect((await source.lookup(after))?.active).toBe(true);
  });

  it('forged kids refetch the JWKS at most once per floor (1 s), whatever the cooldown', async () => {
    let now = Date.now();
    const source = jwtSource({}, () => now, 60_000);
    const good = await as.getToken({ resource: 'jwt', scope: 'read' });
    await source.lookup(good);
    const fetches = as.requests('/jwks');
    for (let i = 0; i < 40; i++) {
      now += 100; // 40 forged kids over 4 s
      const forged = `${b64url({ alg: 'RS256', typ: 'at+jwt', kid: `random-${i}` })}.${b64url({ sub: 'x' })}.c2ln`;
      expect((await source.lookup(forged))?.active).toBe(false);
    }
    expect(as.requests('/jwks') - fetches).toBe(4);
  });

  it('an unknown kid while the JWKS endpoint fails: refused until the cooldown ends, the failure reported', async () => {
    let now = Date.now();
    const reported: BackendFault[] = [];
    const config = oauth2Config({
      tokenSources: ['jwt'],
      jwt: { jwksUri: as.jwksUri, issuer: as.issuer, audience: RESOURCES.jwt, algorithms: ['RS256'] },
    });
    const source = createJwtSource(
      config.jwt!,
      () => now,
      { cooldownMs: 30_000 },
      (fault) => reported.push(fault),
    );
    await source.lookup(await as.getToken({ resource: 'jwt', scope: 'read' }));
    await as.rotateKeys();
    const after = await as.getToken({ resource: 'jwt', scope: 'read' });
    await as.stop();
    try {
      now += 2_000;
      const refused = await source.lookup(after);
      expect(refused).toMatchObject({ active: false, retryAt: now + 30_000 });
      expect(reported.map((fault) => [fault.source, fault.reason])).toEqual([['jwks', 'unreachable']]);
    } finally {
      await as.start();
    }
    now += 30_000;
    expect((await source.lookup(after))?.active).toBe(true);
  });

  it('JWKS down: with no keys yet → TemporarilyUnavailable; with (stale) keys fetched → still verifies', async () => {
    // cacheMaxAge 1 ms: every lookup wants a refetch, so the outage is really exercised.
    const warm = jwtSource({}, Date.now, 0, 1);
    const cold = jwtSource({}, Date.now, 0);
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect((await warm.lookup(token))?.active).toBe(true);

    await as.stop();
    try {
      await expect(cold.lookup(token)).rejects.toBeInstanceOf(TemporarilyUnavailable);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await warm.lookup(token))?.active).toBe(true);
      expect((await warm.lookup(token))?.active).toBe(true);
      // Forgeries are still refused with the stale keys.
      const [header, , signature] = token.split('.');
      expect(
        (await warm.lookup(`${header}.${b64url({ sub: 'x', exp: 9999999999 })}.${signature}`))?.active,
      ).toBe(false);
    } finally {
      await as.start();
    }
  });

  it('JWKS down before any key was fetched: retried after ~1 s, not a whole cooldown', async () => {
    let now = Date.now();
    const cold = jwtSource({}, () => now, 30_000);
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    await as.stop();
    try {
      await expect(cold.lookup(token)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    } finally {
      await as.start();
    }
    // Within the second: still backing off. After it: the JWKS is fetched and the token verifies,
    // although the 30 s cooldown (meant to pace refetches while stale keys exist) has not passed.
    now += 500;
    await expect(cold.lookup(token)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    now += 600;
    expect((await cold.lookup(token))?.active).toBe(true);
  });
});
