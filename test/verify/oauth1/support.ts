import { readFileSync } from 'node:fs';
import { splitUrl } from '../../../src/oauth1-client/sign.js';
import type { OAuth1Client, OAuth1Token } from '../../../src/store/types.js';
import type { OAuth1Policy } from '../../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';

/** The published vectors, kept in the repository (test/fixtures/oauth1-vectors.json, provenance in oauth1-vectors.md). */
export const VECTORS_URL = new URL('../../fixtures/oauth1-vectors.json', import.meta.url);

export interface RequestVector {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly placement: 'header' | 'query' | 'body';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly oauthParams: Readonly<Record<string, string>>;
  readonly consumerSecret: string;
  readonly tokenSecret: string;
  readonly signatureMethod: string;
  readonly baseString: string;
  readonly signature: string;
  readonly rsaPrivateKey?: string;
  readonly rsaPublicKey?: string;
  readonly rsaCertificate?: string;
}

export interface SignOnlyVector {
  readonly id: string;
  readonly signatureMethod: string;
  readonly baseString: string;
  readonly consumerSecret: string;
  readonly tokenSecret: string;
  readonly signature: string;
  readonly rsaPrivateKey?: string;
  readonly rsaPublicKey?: string;
}

export type EncodingVector =
  | { readonly id: string; readonly kind: 'percentEncode'; readonly input: string; readonly expected: string }
  | { readonly id: string; readonly kind: 'normalize'; readonly input: string; readonly expected: string }
  | {
      readonly id: string;
      readonly kind: 'baseStringUri';
      readonly input: { readonly scheme: string; readonly host: string; readonly target: string };
      readonly expected: string;
    }
  | {
      readonly id: string;
      readonly kind: 'baseString';
      readonly input: { readonly method: string; readonly url: string; readonly params: string };
      readonly expected: string;
    };

export interface BodyHashVector {
  readonly id: string;
  readonly body: string;
  readonly contentType: string | null;
  readonly oauthBodyHash: string;
  readonly request?: {
    readonly method: string;
    readonly url: string;
    readonly oauthParams: Readonly<Record<string, string>>;
    readonly baseString: string;
  };
}

export interface VectorFile {
  readonly vectors: readonly RequestVector[];
  readonly signOnly: readonly SignOnlyVector[];
  readonly encoding: readonly EncodingVector[];
  readonly bodyHash: readonly BodyHashVector[];
}

export function loadVectors(): VectorFile {
  return JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as VectorFile;
}

export function header(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** RequestFacts for a vector: scheme from the URL, host from Host, target = the URL from its path on. */
export function factsFromVector(vector: RequestVector): RequestFacts {
  const { scheme, target } = splitUrl(vector.url);
  if (scheme !== 'http' && scheme !== 'https') throw new Error(`unexpected scheme in ${vector.id}`);
  const host = header(vector.headers, 'Host');
  if (host === undefined) throw new Error(`no Host in ${vector.id}`);
  return {
    method: vector.method,
    scheme,
    host,
    target,
    authorization: header(vector.headers, 'Authorization'),
    contentType: header(vector.headers, 'Content-Type'),
    body: vector.body === null ? undefined : Buffer.from(vector.body, 'utf8'),
  };
}

/** A credential store over two maps: the interface the verifier needs, nothing more. */
export class TestCredentials {
  readonly clients = new Map<string, OAuth1Client>();
  readonly tokens = new Map<string, OAuth1Token>();
  lookups = 0;

  addClient(client: OAuth1Client): this {
    this.clients.set(client.clientId, client);
    return this;
  }

  addToken(token: OAuth1Token): this {
    this.tokens.set(token.token, token);
    return this;
  }

  async getClient(clientId: string): Promise<OAuth1Client | undefined> {
    this.lookups++;
    return this.clients.get(clientId);
  }

  async getToken(token: string): Promise<OAuth1Token | undefined> {
    this.lookups++;
    return this.tokens.get(token);
  }
}

export const ALL_METHODS: ReadonlySet<string> = new Set([
  'HMAC-SHA1',
  'HMAC-SHA256',
  'HMAC-SHA512',
  'RSA-SHA1',
  'RSA-SHA256',
  'PLAINTEXT',
]);

export function policy(overrides: Partial<OAuth1Policy> = {}): OAuth1Policy {
  return {
    realm: 'test',
    signatureMethods: ALL_METHODS,
    timestampWindowMs: 300_000,
    bodyHash: 'optional',
    ...overrides,
  };
}
