import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How each auth scenario authenticates: the records it needs in credentials.yaml, and the
 * Authorization headers the load generator sends — either one static header, or a file of
 * pre-signed headers (one line each, every nonce fresh) that wrk/autocannon cycle through.
 *
 * A provider: { records, staticHeaders?(target), presign?(target, count, file), probeHeaders(target) }
 * where target = { url, host, path }.
 */

// Benchmark-only credentials, generated for the temp credentials.yaml of each run.
const BEARER = 'bench-bearer-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b';
const INTROSPECTED = 'bench-introspected-3b8e1f7a9c2d4e6f0a1b2c3d4e5f6a7b';
export const CLIENT = { clientId: 'bench-client', clientSecret: 'bench-client-secret-0123456789' };
export const TOKEN = {
  token: 'bench-token',
  tokenSecret: 'bench-token-secret-0123456789',
  clientId: CLIENT.clientId,
  userId: 'bench-user',
  scope: 'bench:read',
};

/** The same credentials for the Authlib reference app (servers/authlib_app.py). */
export const AUTHLIB_ENV = {
  BENCH_BEARER: BEARER,
  BENCH_CLIENT_ID: CLIENT.clientId,
  BENCH_CLIENT_SECRET: CLIENT.clientSecret,
  BENCH_TOKEN: TOKEN.token,
  BENCH_TOKEN_SECRET: TOKEN.tokenSecret,
};

async function loadSigner() {
  // The signer is the project's own client-side RFC 5849 implementation (src/oauth1-client/sign.ts).
  try {
    return await import('../../dist/oauth1-client/sign.js');
  } catch {
    return undefined;
  }
}

function oauth1(signatureMethod) {
  let signer;
  const sign = (target, nonce) =>
    signer.signOAuth1Request({
      method: 'GET',
      url: target.url,
      consumerKey: CLIENT.clientId,
      consumerSecret: CLIENT.clientSecret,
      token: TOKEN.token,
      tokenSecret: TOKEN.tokenSecret,
      signatureMethod,
      nonce,
    });
  return {
    records: { clients: [{ ...CLIENT, rsaPublicKey: null }], tokens: [TOKEN] },
    async available() {
      signer = await loadSigner();
      return signer === undefined ? 'dist/oauth1-client/sign.js missing (build the OAuth1 signer)' : true;
    },
    presign(target, count, file) {
      const prefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;
      const lines = new Array(count);
      for (let i = 0; i < count; i++) lines[i] = sign(target, `${prefix}n${i.toString(36)}`);
      writeFileSync(file, `${lines.join('\n')}\n`);
    },
    probeHeaders(target) {
      return { Authorization: sign(target, undefined) };
    },
  };
}

/**
 * RFC 9449: a DPoP-bound JWT (cnf.jkt of an Ed25519 key) and one fresh proof per request, made
 * ahead of the run like the OAuth1 signatures (a proof is single-use: its jti is claimed).
 */
function dpopJwt() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const jkt = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'dpop+jwt', jwk })).toString('base64url');
  let token;
  let ath;
  const proof = (target) => {
    const htu = target.url.split('?')[0];
    const claims = { htm: 'GET', htu, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), ath };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
  };
  return {
    records: {},
    async available(ctx) {
      if (!ctx?.authServer) return 'fake authorization server not started';
      token ??= await ctx.authServer.signAccessToken(3600, { cnf: { jkt } });
      ath = createHash('sha256').update(token).digest('base64url');
      return true;
    },
    presign(target, count, file) {
      const lines = new Array(count);
      for (let i = 0; i < count; i++) lines[i] = `DPoP ${token}\t${proof(target)}`;
      writeFileSync(file, `${lines.join('\n')}\n`);
    },
    probeHeaders: (target) => ({ Authorization: `DPoP ${token}`, DPoP: proof(target) }),
  };
}

export const CREDENTIALS = {
  'bearer-store': {
    records: {
      bearerTokens: [
        {
          accessToken: BEARER,
          clientId: 'bench-client',
          userId: 'bench-user',
          scope: 'bench:read bench:write',
          revoked: false,
          issuedAt: Math.floor(Date.now() / 1000) - 60,
          expiresIn: 0,
        },
      ],
    },
    available: async () => true,
    staticHeaders: () => ({ Authorization: `Bearer ${BEARER}` }),
    probeHeaders: () => ({ Authorization: `Bearer ${BEARER}` }),
  },
  'oauth1-hmac-sha1': oauth1('HMAC-SHA1'),
  'dpop-jwt': dpopJwt(),
  // Not in credentials.yaml: the fake AS says every token is active, the gateway caches the answer.
  'bearer-introspection': {
    records: {},
    available: async (ctx) => (ctx?.authServer ? true : 'fake authorization server not started'),
    staticHeaders: () => ({ Authorization: `Bearer ${INTROSPECTED}` }),
    probeHeaders: () => ({ Authorization: `Bearer ${INTROSPECTED}` }),
  },
  'bearer-jwt': (() => {
    let token;
    return {
      records: {},
      async available(ctx) {
        if (!ctx?.authServer) return 'fake authorization server not started';
        token ??= await ctx.authServer.signAccessToken(3600);
        return true;
      },
      staticHeaders: () => ({ Authorization: `Bearer ${token}` }),
      probeHeaders: () => ({ Authorization: `Bearer ${token}` }),
    };
  })(),
};

/** Distinct opaque bearer tokens number first … first+count-1, one Authorization header per line. */
export function writeDistinctBearers(file, count, prefix = 'bench-distinct', first = 0) {
  const lines = new Array(count);
  for (let k = 0; k < count; k++) {
    const i = first + k;
    lines[k] = `Bearer ${prefix}-${i.toString(36)}-${(i * 2654435761) % 4294967296}`;
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** credentials.yaml (as JSON, which is YAML) with the records of every provider. */
export function writeCredentialsFile(dir) {
  const merged = { clients: [], tokens: [], bearerTokens: [] };
  for (const provider of Object.values(CREDENTIALS)) {
    for (const [key, list] of Object.entries(provider.records)) merged[key].push(...list);
  }
  const path = join(dir, 'credentials.yaml');
  writeFileSync(path, JSON.stringify(merged, null, 2));
  return path;
}
