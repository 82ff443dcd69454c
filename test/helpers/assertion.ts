import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';

/**
 * Identity assertion test helpers: write a fresh private key (PKCS#8 PEM, like `oauth-gateway
 * keygen`) and fetch the JWKS from a gateway's admin listener, as an upstream app would.
 */

export const ASSERTION_TYP = 'oauth-gateway-assertion+jwt';

export type KeyType = 'ed25519' | 'ec' | 'rsa';

export async function writeAssertionKey(dir: string, name: string, type: KeyType): Promise<string> {
  const { privateKey } =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const path = join(dir, name);
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  return path;
}

/** GET /.well-known/jwks.json on the admin port; throws unless it is a 200 JWKS. */
export async function fetchJwks(adminUrl: string): Promise<JSONWebKeySet> {
  const res = await fetch(`${adminUrl}/.well-known/jwks.json`);
  if (res.status !== 200) throw new Error(`JWKS: HTTP ${res.status}`);
  if (res.headers.get('content-type') !== 'application/jwk-set+json')
    throw new Error(`JWKS: content-type ${res.headers.get('content-type')}`);
  if (!/max-age=\d+/.test(res.headers.get('cache-control') ?? ''))
    throw new Error(`JWKS: not cacheable (${res.headers.get('cache-control')})`);
  return (await res.json()) as JSONWebKeySet;
}
