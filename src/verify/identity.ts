/** Who a request authenticated as; what the forwarder injects into the identity headers. */
export interface Identity {
  readonly method: 'oauth1' | 'oauth2';
  readonly clientId: string;
  /** Absent for two-legged OAuth1 and client_credentials tokens: no user header is sent. */
  readonly user?: string | undefined;
  readonly scopes: readonly string[];
  /** RFC 9449: the thumbprint of the key a DPoP request proved possession of. */
  readonly jkt?: string | undefined;
}
