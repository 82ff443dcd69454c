import { gatewayConfigSchema, type OAuth2Config } from '../../../src/config/schema.js';

/** An `oauth2:` block as gateway.yaml would give it: validated, defaults and durations applied. */
export function oauth2Config(oauth2: Record<string, unknown>): OAuth2Config {
  return gatewayConfigSchema.parse({
    oauth2,
    routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'oauth2' }],
  }).oauth2;
}
