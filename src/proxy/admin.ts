import { createServer, type Server } from 'node:http';
import type { Metrics } from '../observability/metrics.js';

/**
 * Admin listener on its own port (default 127.0.0.1:9090), never proxied: liveness, readiness
 * (config loaded and auth backends reachable) and Prometheus metrics.
 */
export function createAdminServer(
  readiness: () => Promise<Record<string, boolean>>,
  metrics: Metrics,
  isDraining: () => boolean,
  /** Accepted risks to state in /readyz without failing it (e.g. an evicting Redis policy allowed). */
  warnings: () => readonly string[] = () => [],
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
