import type { TokenSourceName } from '../config/schema.js';
import type { TokenInfo } from '../verify/oauth2/token-info.js';

/**
 * One place that may know a bearer token. `lookup` answers:
 * - a TokenInfo (active or not): this source knows the token, and its answer is final;
 * - undefined: this source does not know the token, so the resolver asks the next one;
 * - throws TemporarilyUnavailable: the source could not answer (fail closed, 503, not cached).
 */
export interface TokenSource {
  readonly name: TokenSourceName;
  lookup(token: string): Promise<TokenInfo | undefined>;
  close(): Promise<void>;
}
