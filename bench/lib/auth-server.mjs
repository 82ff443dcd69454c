import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { freePort, PINNING, pinned, startProcess, waitForPort } from './processes.mjs';

/**
 * The fake authorization server of the OAuth2 scenarios (servers/fake-as.mjs), started on the
 * load-generator core, plus the RS256 key whose public half it serves as JWKS. Signing happens
 * here, in the bench process, with jose (RFC 9068 access tokens: `typ: at+jwt`, iss, aud, exp).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
export const ISSUER = 'https://as.bench.invalid';
export const AUDIENCE = 'https://api.bench.invalid';
export const INTROSPECTION_CLIENT = { clientId: 'bench-gateway', clientSecret: 'bench-gateway-secret-42' };
const KID = 'bench-rs256';

function getJson(url) {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    })
      .on('error', reject)
      .end();
  });
}

export async function startAuthServer(workDir) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const jwksFile = join(workDir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const port = await freePort();
  const [cmd, args] = pinned(PINNING.aux, process.execPath, [
    join(root, 'bench/servers/fake-as.mjs'),
    '--port',
    String(port),
    '--jwks',
    jwksFile,
  ]);
  const handle = startProcess('fake-as', cmd, args);
  await waitForPort(handle, port);
  const base = `http://127.0.0.1:${port}`;
  return {
    pid: handle.pid,
    introspectionUrl: `${base}/introspect`,
    jwksUri: `${base}/jwks`,
    /** { introspections, jwks } answered so far. */
    stats: () => getJson(`${base}/stats`),
    /** An RFC 9068 access token for the bench client, valid for `seconds`. */
    signAccessToken(seconds = 3600, claims = {}) {
      return new SignJWT({ client_id: 'bench-client', scope: 'bench:read bench:write', ...claims })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: KID })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('bench-user')
        .setIssuedAt()
        .setExpirationTime(`${seconds}s`)
        .setJti(`bench-${Date.now().toString(36)}`)
        .sign(privateKey);
    },
    stop: () => handle.stop(),
  };
}
