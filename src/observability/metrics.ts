import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics on the admin port. Label values are bounded: route names come from config,
 * statuses and error codes from fixed sets; never a path, token or client-supplied string.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'oauth_gateway_requests_total',
    help: 'Requests by route, status and authentication method',
    labelNames: ['route', 'status', 'auth_method'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'oauth_gateway_auth_failures_total',
    help: 'Rejected requests by error code',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'oauth_gateway_request_duration_seconds',
    help: 'Total request duration at the gateway',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'oauth_gateway_upstream_duration_seconds',
    help: 'Time from forwarding to the end of the upstream response',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'oauth_gateway_config_reloads_total',
    help: 'Configuration reload attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'oauth_gateway_config_info',
    help: 'Hash of the active configuration (value is always 1)',
    labelNames: ['hash'] as const,
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: 'oauth_gateway_backend_up',
    help: 'Whether an auth backend answered its last readiness check',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(
    route: string,
    status: number,
    authMethod: string,
    durationMs: number,
    upstreamMs: number | undefined,
    errorCode: string | undefined,
  ): void {
    this.requests.inc({ route, status, auth_method: authMethod });
    this.duration.observe({ route }, durationMs / 1000);
    if (upstreamMs !== undefined) this.upstreamDuration.observe({ route }, upstreamMs / 1000);
    if (errorCode !== undefined && status >= 400 && status < 500)
      this.authFailures.inc({ route, code: errorCode });
  }

  setConfigHash(hash: string): void {
    this.configInfo.reset();
    this.configInfo.set({ hash }, 1);
  }
}
