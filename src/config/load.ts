import { createHash, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { type CredentialsFile, credentialsFileSchema } from './credentials-schema.js';
import { deepFreeze } from './freeze.js';
import { interpolateEnv } from './interpolate.js';
import { formatPath } from './path.js';
import { type GatewayFileConfig, gatewayConfigSchema } from './schema.js';

export interface LoadedConfig {
  readonly path: string;
  readonly config: GatewayFileConfig;
  /** Present when credentials.type is file. */
  readonly credentials: CredentialsFile | undefined;
  readonly credentialsPath: string | undefined;
  /** PEM certificate chain and key when `listen.tls` is set. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  /** Files egress routes refer to (CA bundles, RSA keys), by route name; read with the config. */
  readonly egressFiles: Readonly<Record<string, EgressFiles>>;
  /**
   * PEM private keys of `identity.assertion.keys`, in order (path absolute). Read here so that they
   * reload with the config and count in `hash`; imported and checked by src/identity/assertion-keys.ts.
   */
  readonly assertionKeys: readonly { readonly path: string; readonly pem: string }[] | undefined;
  /** sha256 of the source bytes (config, credentials, assertion keys), exported as a metric label on reload. */
  readonly hash: string;
}

export interface EgressFiles {
  /** PEM CA bundle trusted for the upstream (`tls.caFile`). */
  readonly ca: string | undefined;
  /** PEM CA bundle trusted for the token endpoint (`sign.oauth2.tls.caFile`). */
  readonly tokenCa: string | undefined;
  /** PEM private key for RSA signatures (`sign.oauth1.privateKeyFile`). */
  readonly privateKey: string | undefined;
  /** PEM private key for private_key_jwt client assertions (`sign.oauth2.privateKeyFile`). */
  readonly assertionKey: string | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

function zodIssues(error: z.ZodError, prefix: string): string[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    } else if (issue.code === 'invalid_type' && /received undefined/.test(message)) {
      message = 'is required';
    }
    return `${prefix}${formatPath(issue.path)}: ${message}`;
  });
}

/** Parse YAML text; syntax errors come back as issues with line:column. */
function parseYaml(text: string, label: string): { value: unknown; issues: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    // After the first syntax error the parser mostly reports its consequences: show that one.
    const [first] = doc.errors;
    const pos = lineCounter.linePos(first!.pos[0]);
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} follow-on parse errors)` : '';
    return {
      value: undefined,
      issues: [`${label}:${pos.line}:${pos.col}: ${first!.message.split('\n')[0]}${more}`],
    };
  }
  return { value: doc.toJS({ maxAliasCount: 100 }), issues: [] };
}

async function readText(path: string, label: string): Promise<{ text?: string; issue?: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code;
    return { issue: `${label}: cannot read ${path} (${reason ?? 'unknown error'})` };
  }
}

/** Validate an in-memory document (tests, and the file loader below). */
export function parseGatewayConfig(raw: unknown, env: Env, label = 'gateway.yaml'): GatewayFileConfig {
  const issues: string[] = [];
  const interpolated = interpolateEnv(raw, env, issues);
  if (interpolated !== null && typeof interpolated === 'object' && !Array.isArray(interpolated)) {
    const port = env['PORT'];
    if (port !== undefined && port !== '') {
      if (!/^\d+$/.test(port)) issues.push(`PORT: must be a port number, got "${port}"`);
      const listen = (interpolated as Record<string, unknown>)['listen'];
      (interpolated as Record<string, unknown>)['listen'] = {
        ...(listen !== null && typeof listen === 'object' ? listen : {}),
        port: Number(port),
      };
    }
  } else if (issues.length === 0) {
    throw new ConfigError([`${label}: must be a YAML mapping`]);
  }
  const result = gatewayConfigSchema.safeParse(interpolated);
  if (!result.success) issues.push(...zodIssues(result.error, ''));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.data;
}

export function parseCredentials(raw: unknown, env: Env, label = 'credentials.yaml'): CredentialsFile {
  const issues: string[] = [];
  const interpolated = interpolateEnv(raw ?? {}, env, issues);
  const result = credentialsFileSchema.safeParse(interpolated);
  if (!result.success) issues.push(...zodIssues(result.error, `${label}: `));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.data;
}

/**
 * Read gateway.yaml (and credentials.yaml when the file store is used), interpolate `${VAR}`,
 * validate everything, and return one deep-frozen snapshot. Throws ConfigError listing every
 * problem found in both files.
 */
export async function loadConfig(path: string, env: Env = process.env): Promise<LoadedConfig> {
  const configPath = resolve(path);
  const read = await readText(configPath, 'gateway.yaml');
  if (read.text === undefined) throw new ConfigError([read.issue!]);
  const parsed = parseYaml(read.text, configPath);
  if (parsed.issues.length > 0) throw new ConfigError(parsed.issues);

  const issues: string[] = [];
  let config: GatewayFileConfig | undefined;
  try {
    config = parseGatewayConfig(parsed.value, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
  }

  const hash = createHash('sha256').update(read.text);
  let credentials: CredentialsFile | undefined;
  let credentialsPath: string | undefined;
  const credentialsConfig = config?.credentials ?? { type: 'file', path: './credentials.yaml' };
  if (credentialsConfig.type === 'file') {
    credentialsPath = resolve(dirname(configPath), credentialsConfig.path);
    const credRead = await readText(credentialsPath, 'credentials.path');
    if (credRead.text === undefined && config !== undefined && config.routes.length === 0) {
      // An egress-only sidecar verifies nothing: no credentials file needed.
      credentials = parseCredentials({}, env);
    } else if (credRead.text === undefined) {
      issues.push(credRead.issue!);
    } else {
      hash.update('\0').update(credRead.text);
      const credParsed = parseYaml(credRead.text, credentialsPath);
      if (credParsed.issues.length > 0) {
        issues.push(...credParsed.issues);
      } else {
        try {
          credentials = parseCredentials(credParsed.value, env);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          issues.push(...error.issues);
        }
      }
    }
  }

  let tls: LoadedConfig['tls'];
  if (config?.listen.tls !== undefined) {
    const certRead = await readText(resolve(dirname(configPath), config.listen.tls.cert), 'listen.tls.cert');
    const keyRead = await readText(resolve(dirname(configPath), config.listen.tls.key), 'listen.tls.key');
    if (certRead.issue !== undefined) issues.push(certRead.issue);
    if (keyRead.issue !== undefined) issues.push(keyRead.issue);
    if (certRead.text !== undefined && keyRead.text !== undefined)
      tls = { cert: certRead.text, key: keyRead.text };
  }

  const egressFiles: Record<string, EgressFiles> = {};
  for (const [index, route] of (config?.egress?.routes ?? []).entries()) {
    const at = `egress.routes[${index}]`;
    const read = async (file: string | undefined, label: string): Promise<string | undefined> => {
      if (file === undefined) return undefined;
      const result = await readText(resolve(dirname(configPath), file), `${at}.${label}`);
      if (result.issue !== undefined) issues.push(result.issue);
      else hash.update('\0').update(result.text!);
      return result.text;
    };
    const files: EgressFiles = {
      ca: await read(route.tls?.caFile, 'tls.caFile'),
      tokenCa: await read(route.sign?.oauth2?.tls?.caFile, 'sign.oauth2.tls.caFile'),
      privateKey: await read(route.sign?.oauth1?.privateKeyFile, 'sign.oauth1.privateKeyFile'),
      assertionKey: await read(route.sign?.oauth2?.privateKeyFile, 'sign.oauth2.privateKeyFile'),
    };
    if (files.assertionKey !== undefined) {
      const algorithm = route.sign?.oauth2?.assertionAlgorithm ?? 'RS256';
      const expected = { RS256: 'rsa', PS256: 'rsa', ES256: 'ec', EdDSA: 'ed25519' }[algorithm];
      try {
        if (createPrivateKey(files.assertionKey).asymmetricKeyType !== expected)
          throw new Error('wrong type');
      } catch {
        issues.push(
          `${at}.sign.oauth2.privateKeyFile: must be a PEM ${expected} private key (for ${algorithm})`,
        );
      }
    }
    if (files.privateKey !== undefined) {
      try {
        if (createPrivateKey(files.privateKey).asymmetricKeyType !== 'rsa') throw new Error('not RSA');
      } catch {
        issues.push(`${at}.sign.oauth1.privateKeyFile: must be a PEM RSA private key`);
      }
    }
    egressFiles[route.name] = files;
  }

  let assertionKeys: { path: string; pem: string }[] | undefined;
  if (config?.identity.assertion !== undefined) {
    assertionKeys = [];
    for (const [index, key] of config.identity.assertion.keys.entries()) {
      const keyPath = resolve(dirname(configPath), key.path);
      const keyRead = await readText(keyPath, `identity.assertion.keys[${index}].path`);
      if (keyRead.text === undefined) issues.push(keyRead.issue!);
      else {
        // A key rotated in place (same path, new bytes) must count as a change on reload.
        hash.update('\0').update(keyRead.text);
        assertionKeys.push({ path: keyPath, pem: keyRead.text });
      }
    }
  }

  if (issues.length > 0 || config === undefined) throw new ConfigError(issues);
  return deepFreeze({
    egressFiles,
    tls,
    assertionKeys,
    path: configPath,
    config,
    credentials,
    credentialsPath,
    hash: hash.digest('hex').slice(0, 16),
  });
}
