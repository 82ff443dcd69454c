import type { GatewayFileConfig } from '../config/schema.js';
import type { AssertionSigner } from '../identity/assertion.js';
import type { BackendFailureLog } from '../observability/backend-failures.js';
import type { Authenticator } from './authenticate.js';
import type { HeaderPolicy } from './headers.js';
import type { Realms } from './respond.js';
import type { RouteTable } from './router.js';

/**
 * What the proxy listener reads per request, built once per config load by the composition root
 * (src/runtime.ts) and never mutated. proxy/ depends on this interface only, never on the runtime
 * that implements it, so the listener can be reused by other front ends (authorize/, egress/).
 */
export interface ProxyContext {
  readonly config: GatewayFileConfig;
  readonly routes: RouteTable;
  readonly headerPolicy: HeaderPolicy;
  readonly realms: Realms;
  readonly authenticator: Authenticator;
  /** Signs the identity assertion of each authenticated forward; undefined when not configured. */
  readonly assertions: AssertionSigner | undefined;
  /** PEM certificate and key when the listener terminates TLS itself. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  isTrustedProxy(address: string | undefined): boolean;
  /** Where every 503's cause is logged (rate limited) and counted. */
  readonly backendFailures: BackendFailureLog;
}
