import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import {
  accessTokenHash,
  type DpopPolicy,
  jwkThumbprint,
  verifyDpopProof,
} from '../../../src/verify/dpop/proof.js';

/**
 * RFC 9449 §4.3 proof checks, with proofs made by an independent library (jose) so the verifier is
 * not judged by its own encoder. Every negative asserts the exact error code.
 */

const NOW = 1_800_000_000_000;
const URL_ = 'https://api.example.com/photos/1';
const TOKEN = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
const policy: DpopPolicy = {
  algorithms: new Set(['ES256', 'EdDSA', 'RS256', 'PS256']),
  maxAgeMs: 60_000,
  skewMs: 5_000,
};

const KEYS = {
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: generateKeyPairSync('ed25519'),
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
} as const;

interface ProofOptions {
  alg?: keyof typeof KEYS;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  privateKey?: KeyObject;
  publicJwk?: Record<string, unknown>;
}

async function proof(options: ProofOptions = {}): Promise<string> {
  const alg = options.alg ?? 'ES256';
  const pair = KEYS[alg];
  const jwk = options.publicJwk ?? (await exportJWK(pair.publicKey));
  return new SignJWT({
    htm: 'GET',
    htu: URL_,
    iat: NOW / 1000,
    jti: `jti-${Math.random()}`,
    ath: accessTokenHash(TOKEN),
    ...options.claims,
  })
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk, ...options.header })
    .sign(options.privateKey ?? pair.privateKey);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    if (error instanceof GatewayError) return `${error.status} ${error.code}`;
    throw error;
  }
}

const check = (value: string, extra: Partial<Parameters<typeof verifyDpopProof>[0]> = {}) =>
  verifyDpopProof({ proof: value, method: 'GET', url: URL_, accessToken: TOKEN, now: NOW, ...extra }, policy);

describe('verifyDpopProof', () => {
  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)(
    'accepts a %s proof and returns the RFC 7638 thumbprint',
    async (alg) => {
      const result = await check(await proof({ alg }));
      const expected = await calculateJwkThumbprint(await exportJWK(KEYS[alg].publicKey), 'sha256');
      expect(result.jkt).toBe(expected);
      expect(result.iat).toBe(NOW / 1000);
      expect(result.jti).toMatch(/^jti-/);
    },
  );

  it('htu is compared without query and fragment, after RFC 3986 normalisation', async () => {
    const value = await proof({ claims: { htu: 'HTTPS://API.example.com:443/photos/1' } });
    expect((await check(value, { url: 'https://api.example.com/photos/1?size=big' })).jkt).toBeTypeOf(
      'string',
    );
  });

  it.each([
    ['another method', { claims: { htm: 'POST' } }],
    ['another URL', { claims: { htu: 'https://api.example.com/photos/2' } }],
    ['another host', { claims: { htu: 'https://evil.example.com/photos/1' } }],
    ['another scheme', { claims: { htu: 'http://api.example.com/photos/1' } }],
    ['iat too old', { claims: { iat: NOW / 1000 - 120 } }],
    ['iat in the future', { claims: { iat: NOW / 1000 + 60 } }],
    ['no jti', { claims: { jti: undefined } }],
    ['wrong ath', { claims: { ath: accessTokenHash('another-token') } }],
    ['no ath', { claims: { ath: undefined } }],
    ['typ JWT', { header: { typ: 'JWT' } }],
  ] as const)('refuses a proof with %s → 401 invalid_dpop_proof', async (_label, options) => {
    expect(await codeOf(check(await proof(options as ProofOptions)))).toBe('401 invalid_dpop_proof');
  });

  it('refuses an algorithm outside oauth2.dpop.algorithms', async () => {
    const esOnly: DpopPolicy = { ...policy, algorithms: new Set(['ES256']) };
    const value = await proof({ alg: 'EdDSA' });
    const result = verifyDpopProof(
      { proof: value, method: 'GET', url: URL_, accessToken: TOKEN, now: NOW },
      esOnly,
    );
    expect(await codeOf(result)).toBe('401 invalid_dpop_proof');
  });

  it('refuses private key material in the jwk header', async () => {
    const privateJwk = await exportJWK(KEYS.ES256.privateKey);
    expect(await codeOf(check(await proof({ publicJwk: privateJwk })))).toBe('401 invalid_dpop_proof');
  });

  it('refuses a proof whose jwk is not the signing key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(await codeOf(check(await proof({ privateKey: other.privateKey })))).toBe('401 invalid_dpop_proof');
  });

  it('refuses alg none and HS256 (symmetric keys are never proof keys)', async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const jwk = await exportJWK(KEYS.ES256.publicKey);
    const claims = b64({ htm: 'GET', htu: URL_, iat: NOW / 1000, jti: 'x', ath: accessTokenHash(TOKEN) });
    const none = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk })}.${claims}.`;
    expect(await codeOf(check(none))).toBe('401 invalid_dpop_proof');
    const hsHeader = b64({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } });
    const mac = createHmac('sha256', 'secret').update(`${hsHeader}.${claims}`).digest('base64url');
    expect(await codeOf(check(`${hsHeader}.${claims}.${mac}`))).toBe('401 invalid_dpop_proof');
  });

  it('tampered payload or garbage → 401 invalid_dpop_proof, never a throw of another kind', async () => {
    const value = await proof();
    const [h, , s] = value.split('.');
    const forged = Buffer.from(JSON.stringify({ htm: 'GET', htu: URL_, iat: NOW / 1000, jti: 'y' })).toString(
      'base64url',
    );
    for (const bad of [`${h}.${forged}.${s}`, 'a.b.c', 'not-a-jws', '', `${h}..${s}`, `${value}.extra`]) {
      expect(await codeOf(check(bad)), bad).toBe('401 invalid_dpop_proof');
    }
  });

  it('server nonces: a missing or stale nonce → 401 use_dpop_nonce', async () => {
    const isNonceValid = (nonce: string | undefined) => nonce === 'n-current';
    expect(await codeOf(check(await proof(), { isNonceValid }))).toBe('401 use_dpop_nonce');
    expect(await codeOf(check(await proof({ claims: { nonce: 'n-old' } }), { isNonceValid }))).toBe(
      '401 use_dpop_nonce',
    );
    expect(await codeOf(check(await proof({ claims: { nonce: 'n-current' } }), { isNonceValid }))).toBe(
      'accepted',
    );
  });

  it('jwkThumbprint matches RFC 7638 §3.1 example', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});
