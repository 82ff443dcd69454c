import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { gatewayConfigSchema } from '../../../src/config/schema.js';
import { readExample } from './support.js';

/**
 * The Traefik and Envoy examples cannot be run here; these checks hold them to the gateway's
 * contract instead: every identity header the gateway can answer (the schema's defaults) is removed
 * from the client's request and copied from the gateway's, and the check describes what the
 * gateway reads. nginx.conf and the Caddyfile are run for real (nginx.test.ts, caddy.test.ts).
 */

const defaults = gatewayConfigSchema.parse({
  routes: [{ name: 'all', match: { pathPrefix: '/' }, auth: 'none' }],
  authorize: {},
});
const identityNames = Object.values(defaults.identity.headers).map((n) => n.toLowerCase());
const spellings = (name: string) => [name, name.replaceAll('-', '_'), name.replace('-', '_')];

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], value);

describe('examples/forward-auth/traefik.yml', async () => {
  const config = parse(await readExample('traefik.yml')) as Json;
  const forwardAuth = at(config, 'http', 'middlewares', 'oauth-gateway', 'forwardAuth') as Json;

  it("asks the authorize listener's default address and never trusts a client's X-Forwarded-*", () => {
    expect(forwardAuth['address']).toBe(`http://127.0.0.1:${defaults.authorize!.listen.port}/check`);
    expect(forwardAuth['trustForwardHeader']).toBe(false);
  });

  it('authResponseHeadersRegex removes every spelling of every identity header and copies the gateway ones', () => {
    // Traefik (Go regexp) deletes matching request headers, then copies matching response headers.
    const pattern = forwardAuth['authResponseHeadersRegex'] as string;
    const regex = new RegExp(pattern.replace('(?i)', ''), 'i');
    for (const name of identityNames) {
      for (const spelling of spellings(name)) expect(regex.test(spelling), spelling).toBe(true);
    }
    expect(regex.test('x-request-id')).toBe(false);
    expect(regex.test('authorization')).toBe(false);
  });
});

describe('examples/forward-auth/envoy.yaml', async () => {
  const config = parse(await readExample('envoy.yaml')) as Json;
  const hcm = at(
    config,
    'static_resources',
    'listeners',
    0,
    'filter_chains',
    0,
    'filters',
    0,
    'typed_config',
  ) as Json;
  const filters = hcm['http_filters'] as Json[];
  const names = filters.map((f) => f['name']);
  const extAuthz = at(filters[names.indexOf('envoy.filters.http.ext_authz')], 'typed_config') as Json;
  const patterns = (value: unknown) => (at(value, 'patterns') as Json[]).map((p) => p['exact']);

  it('removes client identity headers before ext_authz, and drops `_` spellings', () => {
    const mutation = names.indexOf('envoy.filters.http.header_mutation');
    expect(mutation).toBeGreaterThanOrEqual(0);
    expect(mutation).toBeLessThan(names.indexOf('envoy.filters.http.ext_authz'));
    const removed = (at(filters[mutation], 'typed_config', 'mutations', 'request_mutations') as Json[]).map(
      (m) => m['remove'],
    );
    expect(new Set(removed)).toEqual(new Set(identityNames));
    expect(at(hcm, 'common_http_protocol_options', 'headers_with_underscores_action')).toBe('DROP_HEADER');
    expect(hcm['use_remote_address']).toBe(true);
  });

  it('copies exactly the identity headers upstream, and sends what the gateway reads', () => {
    const service = extAuthz['http_service'] as Json;
    expect(service['path_prefix']).toBe(defaults.authorize!.pathPrefix);
    expect(new Set(patterns(at(service, 'authorization_response', 'allowed_upstream_headers')))).toEqual(
      new Set(identityNames),
    );
    expect(patterns(at(service, 'authorization_request', 'allowed_headers'))).toEqual(
      expect.arrayContaining(['content-type', 'x-forwarded-proto', 'dpop']),
    );
    expect(patterns(at(service, 'authorization_response', 'allowed_client_headers'))).toContain(
      'www-authenticate',
    );
    expect(extAuthz['failure_mode_allow']).toBe(false);
    expect(at(extAuthz, 'with_request_body', 'max_request_bytes')).toBeLessThanOrEqual(
      defaults.limits.maxBodyBytes,
    );
  });
});
