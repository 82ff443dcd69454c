/**
 * The slice of npm `oauth` (0.10.x, lib/oauth.js) the interop tests use; the package ships no
 * types. For RSA-SHA1 the PEM private key is passed in the consumerSecret slot (see the
 * constructor: `if (signatureMethod == "RSA-SHA1") this._privateKey = consumerSecret`).
 */
declare module 'oauth' {
  import type { IncomingMessage } from 'node:http';

  export type OAuthCallback = (
    error: { statusCode: number; data?: string } | Error | null,
    data?: string,
    response?: IncomingMessage,
  ) => void;

  export class OAuth {
    constructor(
      requestUrl: string | null,
      accessUrl: string | null,
      consumerKey: string,
      consumerSecret: string,
      version: string,
      authorizeCallback: string | null,
      signatureMethod: 'HMAC-SHA1' | 'HMAC-SHA256' | 'RSA-SHA1' | 'PLAINTEXT',
      nonceSize?: number,
      customHeaders?: Record<string, string>,
    );
    get(url: string, token: string | null, tokenSecret: string | null, callback: OAuthCallback): void;
    delete(url: string, token: string | null, tokenSecret: string | null, callback: OAuthCallback): void;
    post(
      url: string,
      token: string | null,
      tokenSecret: string | null,
      body: string | Buffer | Record<string, string | string[]>,
      contentType: string | null,
      callback: OAuthCallback,
    ): void;
    put(
      url: string,
      token: string | null,
      tokenSecret: string | null,
      body: string | Buffer | Record<string, string | string[]>,
      contentType: string | null,
      callback: OAuthCallback,
    ): void;
    getProtectedResource(
      url: string,
      method: string,
      token: string | null,
      tokenSecret: string | null,
      callback: OAuthCallback,
    ): void;
    authHeader(url: string, token: string | null, tokenSecret: string | null, method?: string): string;
    signUrl(url: string, token: string | null, tokenSecret: string | null, method?: string): string;
  }
}
