import { createServer, type Server } from 'node:http';
import type { Metrics } from '../observability/metrics.js';

/**
 * Admin listener on its own port (default 127.0.0.1:9090), never proxied: liveness, readiness
 * (config loaded and auth backends reachable), Prometheus metrics, and the public keys of the
 * identity assertion as a JWKS (`/.well-known/jwks.json`).
 */

/**
 * How long verifiers may cache the JWKS. Rotation waits at least this long between publishing a
 * new key and signing with it (docs/upstream-integration.md, "Rotating keys"); verifiers that see
 * an unknown `kid` refetch sooner.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

export function createAdminServer(
  readiness: () => Promise<Record<string, boolean>>,
  metrics: Metrics,
  isDraining: () => boolean,
  /** Accepted risks to state in /readyz without failing it (e.g. an evicting Redis policy allowed). */
  warnings: () => readonly string[] = () => [],
  /** The current JWKS document (serialised once per config load); undefined when assertions are off. */
  jwks: () => string | undefined = () => undefined,
): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      const payload = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(payload);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: 'method_not_allowed' });
      return;
    }
    if (path === '/healthz') {
      json(200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      readiness()
        .then((checks) => {
          for (const [backend, up] of Object.entries(checks)) metrics.backendUp.set({ backend }, up ? 1 : 0);
          const ready = !isDraining() && Object.values(checks).every(Boolean);
          const stated = warnings();
          json(ready ? 200 : 503, {
            status: ready ? 'ready' : 'not_ready',
            draining: isDraining(),
            checks,
            ...(stated.length === 0 ? {} : { warnings: stated }),
          });
        })
        .catch(() => json(503, { status: 'not_ready' }));
      return;
    }
    if (path === '/.well-known/jwks.json') {
      const document = jwks();
      if (document === undefined) {
        json(404, { error: 'not_found', error_description: 'identity.assertion is not configured' });
        return;
      }
      res.writeHead(200, {
        // RFC 7517 §8.5.1
        'content-type': 'application/jwk-set+json',
        'cache-control': `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
        'content-length': Buffer.byteLength(document),
      });
      res.end(req.method === 'HEAD' ? undefined : document);
      return;
    }
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        })
        .catch(() => json(500, { error: 'internal_error' }));
      return;
    }
    json(404, { error: 'not_found' });
  });
}
