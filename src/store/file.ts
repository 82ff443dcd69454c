import type { CredentialsFile } from '../config/credentials-schema.js';
import { ConfigError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { toBearerToken, toOAuth1Client, toOAuth1Token } from './records.js';
import type { BearerToken, CredentialStore, OAuth1Client, OAuth1Token } from './types.js';

/**
 * Credentials from a validated credentials.yaml. Every table is built once here (RSA keys parsed,
 * scopes split, bearer tokens keyed by sha256) so a lookup is one Map read. A reload builds a new
 * store; this one never changes.
 */
export class FileCredentialStore implements CredentialStore {
  readonly #clients = new Map<string, OAuth1Client>();
  readonly #tokens = new Map<string, OAuth1Token>();
  /** Keyed by sha256hex(accessToken): the raw bearer token is not kept as a key. */
  readonly #bearerTokens = new Map<string, BearerToken>();

  /** Throws ConfigError listing every unusable record (bad RSA key, duplicate id). */
  constructor(file: CredentialsFile, label = 'credentials.yaml') {
    const issues: string[] = [];

    file.clients.forEach((record, index) => {
      if (this.#clients.has(record.clientId)) {
        issues.push(`${label}: clients[${index}].clientId: duplicate client "${record.clientId}"`);
        return;
      }
      try {
        this.#clients.set(record.clientId, toOAuth1Client(record));
      } catch {
        issues.push(`${label}: clients[${index}].rsaPublicKey: not a valid RSA public key or certificate`);
      }
    });

    file.tokens.forEach((record, index) => {
      if (this.#tokens.has(record.token)) {
        // The token value is a credential identifier: name the position, not the value.
        issues.push(`${label}: tokens[${index}].token: duplicate token`);
        return;
      }
      this.#tokens.set(record.token, toOAuth1Token(record));
    });

    file.bearerTokens.forEach((record, index) => {
      const key = sha256Hex(record.accessToken);
      if (this.#bearerTokens.has(key)) {
        issues.push(`${label}: bearerTokens[${index}].accessToken: duplicate access token`);
        return;
      }
      this.#bearerTokens.set(key, toBearerToken(record));
    });

    if (issues.length > 0) throw new ConfigError(issues);
  }

  async getClient(clientId: string): Promise<OAuth1Client | undefined> {
    return this.#clients.get(clientId);
  }

  async getToken(token: string): Promise<OAuth1Token | undefined> {
    return this.#tokens.get(token);
  }

  async getBearerToken(accessToken: string): Promise<BearerToken | undefined> {
    return this.#bearerTokens.get(sha256Hex(accessToken));
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}

export function createCredentialStoreFromFile(file: CredentialsFile, label?: string): FileCredentialStore {
  return new FileCredentialStore(file, label);
}
