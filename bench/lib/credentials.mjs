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
const CLIENT = { clientId: 'bench-client', clientSecret: 'bench-client-secret-0123456789' };
const TOKEN = {
  token: 'bench-token',
  tokenSecret: 'bench-token-secret-0123456789',
  clientId: CLIENT.clientId,
  userId: 'bench-user',
  scope: 'bench:read',
};

async function loadSigner() {
  // The signer is the project's own client-side RFC 5849 implementation (src/verify/oauth1/sign.ts).
  try {
    return await import('../../dist/verify/oauth1/sign.js');
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
      return signer === undefined ? 'dist/verify/oauth1/sign.js missing (build the OAuth1 signer)' : true;
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
};

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
