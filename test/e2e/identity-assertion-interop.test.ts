import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJwks, type KeyType, ASSERTION_TYP as TYP, writeAssertionKey } from '../helpers/assertion.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../helpers/upstream.js';
import { BEARER, credentialsFile, oauth1Authorization, TOKEN } from '../security/helpers/credentials.js';

/**
 * Identity assertions judged by verifiers we did not write: Python's Authlib (authlib.jose) and
 * PyJWT, both fetching the JWKS from the admin port like an app would, for every algorithm; and key
 * rotation under load, where no request may fail and every assertion, old or new, must verify
 * against the published JWKS until it expires. Debian's python3-authlib and python3-jwt are
 * required (.ci/run installs them): interop that silently skips proves nothing.
 */

const PYTHON = '/usr/bin/python3';
const VERIFIER = fileURLToPath(new URL('./assertion/verify_assertion.py', import.meta.url));
const ISSUER = 'https://gateway.interop.test';

interface PyResult {
  readonly claims?: Record<string, unknown>;
  readonly header?: Record<string, unknown>;
  readonly error?: string;
}

interface PyCase {
  readonly token: string;
  readonly audience: string;
  readonly now?: number;
}

function requirePythonModules(): void {
  for (const [module, pkg] of [
    ['authlib.jose', 'python3-authlib'],
    ['jwt', 'python3-jwt'],
    ['cryptography', 'python3-cryptography'],
  ] as const) {
    const run = spawnSync(PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (run.error !== undefined || run.status !== 0)
      throw new Error(`${PYTHON} lacks ${module}: apt-get install ${pkg} (.ci/run does)`);
  }
}

function verifyInPython(
  jwksUrl: string,
  cases: readonly PyCase[],
): Promise<{ authlib: PyResult; pyjwt: PyResult }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [VERIFIER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`verify_assertion.py exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as { authlib: PyResult; pyjwt: PyResult }[]);
    });
    child.stdin.end(JSON.stringify({ jwks_url: jwksUrl, issuer: ISSUER, cases }));
  });
}

function single(record: RecordedRequest, name: string): string {
  const values = receivedHeader(record, name);
  expect(values).toHaveLength(1);
  return values[0]!;
}

/** What the claims must say, from what the upstream received beside the assertion. */
function expectedClaims(record: RecordedRequest, audience: string): Record<string, unknown> {
  const user = receivedHeader(record, 'x-oauth-user');
  return {
    iss: ISSUER,
    aud: audience,
    ...(user.length === 1 ? { sub: user[0] } : {}),
    client_id: single(record, 'x-oauth-client-id'),
    scope: single(record, 'x-oauth-scope'),
    auth_method: single(record, 'x-oauth-method'),
    htm: record.method,
    htu: `${single(record, 'x-forwarded-proto')}://${single(record, 'x-forwarded-host')}${record.url}`,
  };
}

async function withKeyDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-keys-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function routes(upstreamUrl: string) {
  return [
    { name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstreamUrl, auth: 'oauth1' },
    { name: 'api', match: { pathPrefix: '/api' }, upstream: upstreamUrl, auth: 'oauth2' },
    {
      name: 'billing',
      match: { pathPrefix: '/billing' },
      upstream: upstreamUrl,
      auth: 'oauth2',
      assertionAudience: 'https://billing.internal',
    },
  ];
}

describe('identity assertion verified by Authlib and PyJWT', () => {
  let upstream: TestUpstream;

  beforeAll(async () => {
    requirePythonModules();
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream?.close();
  });

  async function send(gw: TestGateway, path: string, oauth1 = false): Promise<RecordedRequest> {
    const before = upstream.requests.length;
    const url = `${gw.url}${path}`;
    const res = await fetch(url, {
      headers: {
        authorization: oauth1 ? oauth1Authorization('GET', url) : `Bearer ${BEARER.accessToken}`,
      },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return (await upstream.waitForRequests(before + 1))[before]!;
  }

  it.each([
    ['EdDSA', 'ed25519'],
    ['ES256', 'ec'],
    ['RS256', 'rsa'],
  ] as const)(
    '%s: both libraries verify signature, aud per route, exp and the bound request',
    async (algorithm, type: KeyType) => {
      await withKeyDir(async (dir) => {
        const key = await writeAssertionKey(dir, 'k.pem', type);
        const gw = await startTestGateway({
          config: {
            identity: { assertion: { algorithm, issuer: ISSUER, keys: [{ path: key }] } },
            routes: routes(upstream.url),
          },
          credentials: credentialsFile(),
        });
        try {
          const bearer = await send(gw, '/billing/invoices?month=2026-11');
          const signed = await send(gw, '/photos/album/1?size=large', true);
          const bearerToken = single(bearer, 'x-oauth-assertion');
          const signedToken = single(signed, 'x-oauth-assertion');
          const { exp } = decodeJwt(bearerToken);
          const results = await verifyInPython(`${gw.adminUrl}/.well-known/jwks.json`, [
            { token: bearerToken, audience: 'https://billing.internal' },
            { token: signedToken, audience: 'photos' },
            // Replayed to another route: that app expects its own audience.
            { token: bearerToken, audience: 'api' },
            { token: signedToken, audience: 'https://billing.internal' },
            // Tampered: the claims changed, the signature kept.
            { token: tamper(bearerToken, { sub: 'admin' }), audience: 'https://billing.internal' },
            // Valid one second before exp, refused one second after.
            { token: bearerToken, audience: 'https://billing.internal', now: exp! - 1 },
            { token: bearerToken, audience: 'https://billing.internal', now: exp! + 1 },
          ]);
          const [okBearer, okSigned, replayA, replayB, tampered, beforeExp, afterExp] = results;
          for (const [result, record, audience] of [
            [okBearer!, bearer, 'https://billing.internal'],
            [okSigned!, signed, 'photos'],
          ] as const) {
            for (const library of [result.authlib, result.pyjwt]) {
              expect(library.error).toBeUndefined();
              expect(library.header).toMatchObject({ alg: algorithm, typ: TYP });
              expect(library.claims).toMatchObject(expectedClaims(record, audience));
              expect((library.claims!['exp'] as number) - (library.claims!['iat'] as number)).toBe(60);
            }
          }
          expect(okBearer!.authlib.claims).toMatchObject({ sub: BEARER.userId, auth_method: 'oauth2' });
          expect(okSigned!.pyjwt.claims).toMatchObject({ sub: TOKEN.userId, auth_method: 'oauth1' });
          for (const replay of [replayA!, replayB!]) {
            expect(replay.authlib.error).toBe('InvalidClaimError');
            expect(replay.pyjwt.error).toBe('InvalidAudienceError');
          }
          expect(tampered!.authlib.error).toBe('BadSignatureError');
          expect(tampered!.pyjwt.error).toBe('InvalidSignatureError');
          expect(beforeExp!.authlib.error).toBeUndefined();
          expect(beforeExp!.pyjwt.error).toBeUndefined();
          expect(afterExp!.authlib.error).toBe('ExpiredTokenError');
          expect(afterExp!.pyjwt.error).toBe('ExpiredSignatureError');

          // And Node's jose agrees on the same tokens.
          const jwks = createLocalJWKSet(await fetchJwks(gw.adminUrl));
          const verified = await jwtVerify(signedToken, jwks, {
            issuer: ISSUER,
            audience: 'photos',
            typ: TYP,
            algorithms: [algorithm],
          });
          expect(verified.payload).toMatchObject(expectedClaims(signed, 'photos'));
        } finally {
          await gw.stop();
        }
      });
    },
  );
});

function tamper(token: string, change: JWTPayload): string {
  const [header, , signature] = token.split('.') as [string, string, string];
  const payload = Buffer.from(JSON.stringify({ ...decodeJwt(token), ...change })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

describe('key rotation under load', () => {
  it('a new first key signs after reload, no request fails, old assertions verify until they expire', async () => {
    requirePythonModules();
    const upstream = await startUpstream();
    await withKeyDir(async (dir) => {
      const oldKey = await writeAssertionKey(dir, 'old.pem', 'ed25519');
      const newKey = await writeAssertionKey(dir, 'new.pem', 'ed25519');
      const config = (keys: string[]) => ({
        identity: { assertion: { issuer: ISSUER, keys: keys.map((path) => ({ path })) } },
        routes: routes(upstream.url),
      });
      const gw = await startTestGateway({ config: config([oldKey]), credentials: credentialsFile() });
      try {
        const [oldKid] = (await fetchJwks(gw.adminUrl)).keys.map((k) => k.kid);

        // Light load: 4 clients in a loop until told to stop; every status is kept.
        const statuses: number[] = [];
        let stop = false;
        let reloadedAt = Number.POSITIVE_INFINITY;
        const sentAfterReload: string[] = [];
        const client = async (id: number) => {
          for (let i = 0; !stop; i++) {
            const requestId = `rot-${id}-${i}`;
            const startedAfterReload = performance.now() > reloadedAt;
            const res = await fetch(`${gw.url}/api/rotate/${id}/${i}`, {
              headers: { authorization: `Bearer ${BEARER.accessToken}`, 'x-request-id': requestId },
            }).catch(() => undefined);
            statuses.push(res?.status ?? 0);
            await res?.arrayBuffer();
            if (startedAfterReload) sentAfterReload.push(requestId);
          }
        };
        const load = [0, 1, 2, 3].map(client);
        const waitFor = async (count: number) => {
          while (statuses.length < count) await new Promise((r) => setTimeout(r, 10));
        };
        await waitFor(40);
        await gw.writeFiles({ config: config([newKey, oldKey]) });
        expect(await gw.reload()).toBe(true);
        reloadedAt = performance.now();
        await waitFor(statuses.length + 80);
        stop = true;
        await Promise.all(load);

        expect(statuses.filter((s) => s !== 200)).toEqual([]);
        const jwksDocument = await fetchJwks(gw.adminUrl);
        const kids = jwksDocument.keys.map((k) => k.kid);
        expect(kids).toHaveLength(2);
        expect(kids[1]).toBe(oldKid);
        const newKid = kids[0]!;
        expect(newKid).not.toBe(oldKid);

        const jwks = createLocalJWKSet(jwksDocument);
        const byRequestId = new Map<string, string>();
        for (const record of upstream.requests)
          byRequestId.set(single(record, 'x-request-id'), single(record, 'x-oauth-assertion'));
        expect(byRequestId.size).toBe(statuses.length);
        const seenKids = new Set<string>();
        for (const token of byRequestId.values()) {
          const { protectedHeader } = await jwtVerify(token, jwks, {
            issuer: ISSUER,
            audience: 'api',
            typ: TYP,
          });
          seenKids.add(protectedHeader.kid!);
        }
        expect(seenKids).toEqual(new Set([oldKid, newKid]));
        expect(sentAfterReload.length).toBeGreaterThan(0);
        for (const requestId of sentAfterReload)
          expect(decodeProtectedHeader(byRequestId.get(requestId)!).kid).toBe(newKid);

        // The first assertion (old key) still verifies with the JWKS now published, until its exp,
        // by the Python verifiers too (they fetch the JWKS from the admin port themselves).
        const oldToken = byRequestId.get('rot-0-0')!;
        expect(decodeProtectedHeader(oldToken).kid).toBe(oldKid);
        const newToken = byRequestId.get(sentAfterReload.at(-1)!)!;
        const { exp } = decodeJwt(oldToken);
        const [oldInPython, newInPython, oldExpired] = await verifyInPython(
          `${gw.adminUrl}/.well-known/jwks.json`,
          [
            { token: oldToken, audience: 'api', now: exp! - 1 },
            { token: newToken, audience: 'api' },
            { token: oldToken, audience: 'api', now: exp! + 1 },
          ],
        );
        for (const result of [oldInPython!, newInPython!]) {
          expect(result.authlib.error).toBeUndefined();
          expect(result.pyjwt.error).toBeUndefined();
        }
        expect(oldExpired!.authlib.error).toBe('ExpiredTokenError');

        // Retiring the old key (after its assertions expired) unpublishes it.
        await gw.writeFiles({ config: config([newKey]) });
        expect(await gw.reload()).toBe(true);
        const retired = createLocalJWKSet(await fetchJwks(gw.adminUrl));
        await expect(jwtVerify(oldToken, retired, { audience: 'api' })).rejects.toThrow(
          errors.JWKSNoMatchingKey,
        );
        await jwtVerify(newToken, retired, { audience: 'api' });
      } finally {
        await gw.stop();
        await upstream.close();
      }
    });
  });
});
