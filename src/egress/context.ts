import { createHash } from 'node:crypto';
import type { EgressFiles } from '../config/load.js';
import type { EgressConfig, EgressRouteConfig, GatewayFileConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { UpstreamTrust } from '../proxy/forward.js';
import { buildRouteTable, type RouteTable } from '../proxy/router.js';
import { createOAuth1EgressSigner, type OAuth1EgressSigner } from './oauth1.js';
import { ClientCredentialsTokens } from './token-fetcher.js';

/**
 * What the egress listener reads per request, built once per config load (like the proxy's
 * context): the egress route table and, per route, where and how to send. Token caches carry over
 * to the next load when their route's OAuth2 settings are unchanged, so a reload neither drops a
 * valid token nor causes a token request.
 */

export interface EgressRoute {
  readonly config: EgressRouteConfig;
  readonly name: string;
  readonly origin: string;
  readonly scheme: 'http' | 'https';
  /** Host header sent and signed: `host[:port]`, the scheme's default port omitted. */
  readonly host: string;
  readonly timeoutMs: number;
  readonly trust: UpstreamTrust | undefined;
  readonly sign: 'oauth1' | 'oauth2' | 'none';
  readonly oauth1: OAuth1EgressSigner | undefined;
  readonly tokens: ClientCredentialsTokens | undefined;
}

export interface EgressContext {
  readonly config: EgressConfig;
  readonly limits: GatewayFileConfig['limits'];
  readonly log: GatewayFileConfig['log'];
  readonly table: RouteTable<EgressRouteConfig>;
  readonly routes: ReadonlyMap<string, EgressRoute>;
  /** Release what this context owns that `next` does not reuse. */
  close(next: EgressContext | undefined): Promise<void>;
  /** Token caches by settings key, for the next load to adopt. */
  readonly tokenCaches: ReadonlyMap<string, ClientCredentialsTokens>;
}

export interface EgressDeps {
  readonly logger?: Logger | undefined;
  readonly metrics?: Metrics | undefined;
  readonly now?: (() => number) | undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function buildEgressContext(
  config: GatewayFileConfig,
  files: Readonly<Record<string, EgressFiles>>,
  previous: EgressContext | undefined,
  deps: EgressDeps = {},
): EgressContext | undefined {
  const egress = config.egress;
  if (egress === undefined) return undefined;
  const routes = new Map<string, EgressRoute>();
  const tokenCaches = new Map<string, ClientCredentialsTokens>();
  for (const route of egress.routes) {
    const url = new URL(route.upstream);
    const routeFiles = files[route.name];
    const oauth1 = route.sign?.oauth1;
    const oauth2 = route.sign?.oauth2;
    let tokens: ClientCredentialsTokens | undefined;
    if (oauth2 !== undefined) {
      const key = `${route.name}|${JSON.stringify(oauth2)}|${sha256(`${routeFiles?.tokenCa ?? ''}|${routeFiles?.assertionKey ?? ''}`)}`;
      tokens = previous?.tokenCaches.get(key);
      if (tokens === undefined) {
        const name = route.name;
        tokens = new ClientCredentialsTokens({
          config: oauth2,
          ca: routeFiles?.tokenCa,
          assertionKey: routeFiles?.assertionKey,
          now: deps.now,
          onFetch: (reason, result) => deps.metrics?.egressTokenFetches.inc({ route: name, reason, result }),
          onError: (problem, detail) =>
            deps.logger?.warn({ route: name, problem, detail }, 'egress token request failed'),
        });
      }
      tokenCaches.set(key, tokens);
    }
    routes.set(route.name, {
      config: route,
      name: route.name,
      origin: url.origin,
      scheme: url.protocol === 'https:' ? 'https' : 'http',
      host: url.host,
      timeoutMs: route.timeout ?? config.limits.upstreamTimeout,
      trust: routeFiles?.ca === undefined ? undefined : { ca: routeFiles.ca, id: sha256(routeFiles.ca) },
      sign: oauth1 !== undefined ? 'oauth1' : oauth2 !== undefined ? 'oauth2' : 'none',
      oauth1:
        oauth1 === undefined ? undefined : createOAuth1EgressSigner(oauth1, routeFiles?.privateKey, deps.now),
      tokens,
    });
  }
  return {
    config: egress,
    limits: config.limits,
    log: config.log,
    table: buildRouteTable(egress.routes),
    routes,
    tokenCaches,
    close: async (next) => {
      const kept = new Set(next?.tokenCaches.values() ?? []);
      await Promise.allSettled(
        [...tokenCaches.values()].filter((tokens) => !kept.has(tokens)).map((tokens) => tokens.close()),
      );
    },
  };
}
