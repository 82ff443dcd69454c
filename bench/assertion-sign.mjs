#!/usr/bin/env node
import { generateKeyPairSync, sign } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';

/**
 * Micro-benchmark of the identity assertion signer (src/identity/assertion.ts), per algorithm:
 * CPU µs per assertion (process user+system, so threadpool work counts) and wall µs, with 1 and
 * 50 signatures in flight, next to the two alternatives it was chosen over (node:crypto sync
 * sign on the event loop; jose's SignJWT through WebCrypto).
 *
 *   npm run build && node bench/assertion-sign.mjs [--quick]
 *
 * Needs dist/ (it measures the shipped signer, not a copy). Seconds, one core's worth.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const { createAssertionSigner } = await import(`${root}dist/identity/assertion.js`);
const { loadAssertionKeys } = await import(`${root}dist/identity/assertion-keys.js`);
const quick = process.argv.includes('--quick');

const KEYS = {
  EdDSA: () => generateKeyPairSync('ed25519').privateKey,
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};

/** A typical request: a user, a client, two scopes, a 40-byte URL. */
const REQUEST = {
  identity: {
    method: 'oauth2',
    clientId: 'demo-client',
    user: 'alice',
    scopes: ['photos:read', 'photos:write'],
  },
  audience: 'photos',
  jti: '0f8fad5b-d9cb-469f-a165-70867728950e',
  method: 'GET',
  url: 'https://api.example.com/photos/items?id=42',
  body: undefined,
};

async function measure(label, n, inFlight, once) {
  for (let i = 0; i < Math.min(200, n); i++) await once();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let done = 0; done < n; done += inFlight) await Promise.all(Array.from({ length: inFlight }, once));
  const used = process.cpuUsage(cpu);
  const elapsed = performance.now() - wall;
  return { label, inFlight, cpuUs: (used.user + used.system) / n, wallUs: (elapsed * 1000) / n };
}

const rows = [];
for (const [algorithm, generate] of Object.entries(KEYS)) {
  const privateKey = generate();
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const config = {
    header: 'X-OAuth-Assertion',
    algorithm,
    keys: [{ path: 'k.pem' }],
    issuer: 'oauth-gateway',
    ttl: 60_000,
  };
  const keys = await loadAssertionKeys(config, [{ path: 'k.pem', pem }]);
  const signer = createAssertionSigner(config, keys, Date.now);
  const n = (algorithm === 'RS256' ? 400 : 4000) / (quick ? 4 : 1);
  rows.push({ algorithm, ...(await measure('gateway signer', n, 1, () => signer.sign(REQUEST))) });
  rows.push({ algorithm, ...(await measure('gateway signer', n, 50, () => signer.sign(REQUEST))) });
  // The alternatives, building the same token.
  const digest = algorithm === 'EdDSA' ? null : 'sha256';
  const keyInput =
    algorithm === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : { key: privateKey };
  const header = Buffer.from(
    JSON.stringify({ alg: algorithm, typ: 'oauth-gateway-assertion+jwt', kid: 'k' }),
  ).toString('base64url');
  const syncSign = async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'oauth-gateway',
      aud: 'photos',
      sub: 'alice',
      client_id: 'demo-client',
      scope: 'photos:read photos:write',
      auth_method: 'oauth2',
      iat: now,
      exp: now + 60,
      jti: REQUEST.jti,
      htm: 'GET',
      htu: REQUEST.url,
    };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${sign(digest, Buffer.from(input, 'latin1'), keyInput).toString('base64url')}`;
  };
  rows.push({ algorithm, ...(await measure('node:crypto sync (event loop)', n, 50, syncSign)) });
  const joseSign = () =>
    new SignJWT({
      sub: 'alice',
      client_id: 'demo-client',
      scope: 'photos:read photos:write',
      auth_method: 'oauth2',
      jti: REQUEST.jti,
      htm: 'GET',
      htu: REQUEST.url,
    })
      .setProtectedHeader({ alg: algorithm, typ: 'oauth-gateway-assertion+jwt', kid: 'k' })
      .setIssuer('oauth-gateway')
      .setAudience('photos')
      .setIssuedAt()
      .setExpirationTime('60s')
      .sign(privateKey);
  rows.push({ algorithm, ...(await measure('jose SignJWT (WebCrypto)', n, 50, joseSign)) });
}

process.stdout.write(`node ${process.version}, ${quick ? 'quick' : 'full'} run\n\n`);
process.stdout.write(
  '| alg | implementation | in flight | CPU µs/assertion | wall µs/assertion |\n|---|---|---|---|---|\n',
);
for (const row of rows) {
  process.stdout.write(
    `| ${row.algorithm} | ${row.label} | ${row.inFlight} | ${row.cpuUs.toFixed(1)} | ${row.wallUs.toFixed(1)} |\n`,
  );
}
