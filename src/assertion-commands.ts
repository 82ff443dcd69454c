import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { ASSERTION_ALGORITHMS, type AssertionAlgorithm } from './config/schema.js';
import { generateAssertionKey } from './identity/assertion-keys.js';
import { buildAssertions } from './runtime.js';

/**
 * `oauth-gateway jwks -c gateway.yaml`: the JWKS the admin listener serves, for publishing it
 * elsewhere (a ConfigMap, a CDN) or checking a rotation before the reload.
 * `oauth-gateway keygen [--algorithm EdDSA|ES256|RS256] [--out key.pem]`: a new PKCS#8 private key
 * (written 0600 and never over an existing file); its default kid goes to stderr.
 * Config errors surface as ConfigError, which main.ts prints by path like `check` does.
 */

export async function jwksCommand(configPath: string): Promise<void> {
  const loaded = await loadConfig(configPath);
  const assertions = await buildAssertions(loaded, Date.now);
  if (assertions === undefined) throw new Error(`${configPath}: identity.assertion is not configured`);
  process.stdout.write(`${JSON.stringify(JSON.parse(assertions.keys.jwksJson), null, 2)}\n`);
}

export async function keygenCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      algorithm: { type: 'string', short: 'a', default: 'EdDSA' },
      out: { type: 'string', short: 'o' },
    },
  });
  const algorithm = values.algorithm as AssertionAlgorithm;
  if (!ASSERTION_ALGORITHMS.includes(algorithm))
    throw new Error(`--algorithm must be one of ${ASSERTION_ALGORITHMS.join(', ')}`);
  const { pem, kid } = await generateAssertionKey(algorithm);
  if (values.out === undefined) {
    process.stdout.write(pem);
  } else {
    try {
      await writeFile(values.out, pem, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new Error(`${values.out} already exists; not overwriting a key`);
      throw error;
    }
    process.stderr.write(`wrote ${algorithm} key to ${values.out}\n`);
  }
  process.stderr.write(`kid (RFC 7638 thumbprint): ${kid}\n`);
}
