import type { GatewayFileConfig } from './schema.js';

/**
 * Facts derived from a validated config that the running gateway needs. Kept apart from schema.ts
 * so that nothing on the request side imports zod: a gateway started by the CLI validates its
 * config in a short-lived child process and never loads the validation libraries (issue 21).
 */

/** Does any route speak DPoP (globally or by its own `dpop` setting)? */
export function dpopInUse(config: GatewayFileConfig): boolean {
  return config.oauth2.dpop.mode !== 'off' || config.routes.some((route) => (route.dpop ?? 'off') !== 'off');
}
