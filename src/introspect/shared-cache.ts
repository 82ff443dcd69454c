import type { TokenInfo } from '../verify/oauth2/token-info.js';

/**
 * Optional second-level cache shared by all replicas (Redis, key `introspect:{sha256hex(token)}`).
 * Keys are already hashed: the raw token never leaves the process. Implementations should throw on
 * backend failure; the token cache treats a failing L2 as a miss and carries on with the sources.
 */
export interface SharedTokenCache {
  get(key: string): Promise<TokenInfo | undefined>;
  set(key: string, info: TokenInfo, ttlMs: number): Promise<void>;
}
