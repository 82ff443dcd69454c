import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { AssertionAlgorithm, AssertionConfig } from '../config/schema.js';
import { loadJose } from '../jose.js';

/**
 * The identity assertion's keys: PEM private keys imported ONCE per config load into KeyObjects
 * (the request path never parses a key), checked against the configured algorithm, and their
 * public halves published as a JWKS (RFC 7517) on the admin listener and by `oauth-gateway jwks`.
 * The first key signs; the others are only published, so a new key can be announced before it
 * signs and an old one kept until the assertions it signed have expired (docs/upstream-integration.md,
 * "Rotating keys").
 */

/** A key file as config/load.ts read it (path absolute, for error messages). */
export interface AssertionKeyFile {
  readonly path: string;
  readonly pem: string;
}

export interface AssertionKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: Readonly<JWK>;
}

export interface AssertionKeySet {
  readonly algorithm: AssertionAlgorithm;
  /** The key that signs: `keys[0]`. */
  readonly signing: AssertionKey;
  readonly keys: readonly AssertionKey[];
  /** `{"keys":[…]}`, serialised once per load for the admin endpoint and the CLI. */
  readonly jwksJson: string;
}

/** Thrown with every problem found, each naming the config path and the file. */
export class AssertionKeyError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(issues.join('; '));
    this.name = 'AssertionKeyError';
    this.issues = issues;
  }
}

/** What key each algorithm takes (RFC 8037 §3.1 Ed25519; RFC 7518 §3.4 P-256; §3.3 RSA ≥ 2048 bits). */
function keyProblem(algorithm: AssertionAlgorithm, key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  switch (algorithm) {
    case 'EdDSA':
      return type === 'ed25519' ? undefined : `is a ${type ?? 'non-asymmetric'} key, EdDSA needs Ed25519`;
    case 'ES256':
      return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
        ? undefined
        : `is a ${type === 'ec' ? `${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} EC` : (type ?? 'non-asymmetric')} key, ES256 needs P-256`;
    case 'RS256': {
      if (type !== 'rsa') return `is a ${type ?? 'non-asymmetric'} key, RS256 needs RSA`;
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= 2048 ? undefined : `is a ${bits}-bit RSA key, RS256 needs at least 2048 bits`;
    }
  }
}

const PUBLIC_MEMBERS: Record<AssertionAlgorithm, readonly string[]> = {
  EdDSA: ['kty', 'crv', 'x'],
  ES256: ['kty', 'crv', 'x', 'y'],
  RS256: ['kty', 'n', 'e'],
};

function publicJwkOf(algorithm: AssertionAlgorithm, privateKey: KeyObject): JWK {
  const exported = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const jwk: JWK = {};
  for (const member of PUBLIC_MEMBERS[algorithm]) {
    const value = exported[member];
    if (value !== undefined) (jwk as Record<string, string>)[member] = value;
  }
  return jwk;
}

/**
 * Import and check every key; throws AssertionKeyError listing all problems at once
 * (`identity.assertion.keys[1].path: /etc/gw/old.pem is not a PEM private key`).
 */
export async function loadAssertionKeys(
  config: AssertionConfig,
  files: readonly AssertionKeyFile[],
): Promise<AssertionKeySet> {
  const issues: string[] = [];
  const keys: AssertionKey[] = [];
  const kids = new Map<string, number>();
  for (const [index, file] of files.entries()) {
    const label = `identity.assertion.keys[${index}].path`;
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(file.pem);
    } catch {
      issues.push(`${label}: ${file.path} is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)`);
      continue;
    }
    const problem = keyProblem(config.algorithm, privateKey);
    if (problem !== undefined) {
      issues.push(`${label}: ${file.path} ${problem}`);
      continue;
    }
    const jwk = publicJwkOf(config.algorithm, privateKey);
    // RFC 7638 thumbprint as the default kid: stable for the key, the same on every replica.
    const kid = config.keys[index]?.kid ?? (await (await loadJose()).calculateJwkThumbprint(jwk, 'sha256'));
    const first = kids.get(kid);
    if (first !== undefined) {
      issues.push(
        `identity.assertion.keys[${index}]: same kid "${kid}" as keys[${first}] (the same key twice?)`,
      );
      continue;
    }
    kids.set(kid, index);
    keys.push({
      kid,
      privateKey,
      publicJwk: Object.freeze({ ...jwk, kid, alg: config.algorithm, use: 'sig' }),
    });
  }
  const signing = keys[0];
  if (issues.length > 0 || signing === undefined) throw new AssertionKeyError(issues);
  return {
    algorithm: config.algorithm,
    signing,
    keys,
    jwksJson: JSON.stringify({ keys: keys.map((key) => key.publicJwk) }),
  };
}

/** A new private key for `oauth-gateway keygen`, as PKCS#8 PEM, with its default kid. */
export async function generateAssertionKey(
  algorithm: AssertionAlgorithm,
): Promise<{ readonly pem: string; readonly kid: string }> {
  const { privateKey } =
    algorithm === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : algorithm === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return {
    pem,
    kid: await (await loadJose()).calculateJwkThumbprint(publicJwkOf(algorithm, privateKey), 'sha256'),
  };
}
