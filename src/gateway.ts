import { type FSWatcher, watch } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Env, LoadedConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import { BackendFailureLog } from './observability/backend-failures.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { createAdminServer } from './proxy/admin.js';
import { listenOn } from './proxy/listen.js';
import { GatewayServer } from './proxy/server.js';
import { createRuntime, type Runtime } from './runtime.js';

/**
 * Process-level assembly: load config, start the proxy and admin listeners, reload on SIGHUP or
 * file change (a new config is swapped in only if it is entirely valid), drain on SIGTERM.
 */

export interface GatewayOptions {
  readonly configPath: string;
  readonly env?: Env;
  readonly logger: Logger;
  /** Watch gateway.yaml / credentials.yaml and reload on change. */
  readonly watch?: boolean;
  /** Override listen/admin ports (tests use 0). */
  readonly port?: number;
  readonly adminPort?: number;
  readonly authorizePort?: number;
  readonly egressPort?: number;
  /**
   * How gateway.yaml is read and checked, at start and on every reload. Default: loadConfig in this
   * thread. The CLI passes loadConfigIsolated (config/load-isolated.ts) so the serving process
   * never keeps the YAML and validation libraries resident.
   */
  readonly load?: (path: string, env: Env) => Promise<LoadedConfig>;
}

async function loadInThisThread(path: string, env: Env): Promise<LoadedConfig> {
  const { loadConfig } = await import('./config/load.js');
  return loadConfig(path, env);
}

export interface RunningGateway {
  readonly proxy: GatewayServer<Runtime>;
  /** The runtime requests are being served with now (the proxy's context: one source of truth). */
  readonly runtime: Runtime;
  readonly admin: Server;
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo;
  /** The authorize listener's address, when `authorize` is configured. */
  readonly authorizeAddress: AddressInfo | undefined;
  /** The egress listener's address, when `egress` is configured. */
  readonly egressAddress: AddressInfo | undefined;
  readonly metrics: Metrics;
  /** Resolves true if the new config was applied. */
  reload(): Promise<boolean>;
  /** Drain and close; resolves true if every in-flight request finished in time. */
  stop(): Promise<boolean>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { logger } = options;
  const env = options.env ?? process.env;
  const loadConfig = options.load ?? loadInThisThread;
  const metrics = new Metrics();
  const backendFailures = new BackendFailureLog(logger, metrics);
  const initial = await createRuntime(await loadConfig(options.configPath, env), undefined, {
    logger,
    metrics,
    backendFailures,
  });
  metrics.setConfigHash(initial.loaded.hash);
  const proxy = new GatewayServer(initial, logger, metrics);
  metrics.trackTokenResolver(() => proxy.context.tokens.stats());
  metrics.trackNonceStore(() => proxy.context.nonceStats());
  let draining = false;
  const admin = createAdminServer(
    () => proxy.context.readiness(),
    metrics,
    () => draining,
    () => proxy.context.readinessWarnings(),
    () => proxy.context.assertionKeys?.jwksJson,
  );

  const config = initial.config;
  const address = await proxy.listen(options.port ?? config.listen.port, config.listen.host);
  const adminAddress = await listenOn(admin, options.adminPort ?? config.admin.port, config.admin.host);
  // Read at start, like listen.tls: a reload changes what the checks judge, not where they arrive.
  const authorize =
    config.authorize === undefined
      ? undefined
      : new (await import('./authorize/server.js')).AuthorizeServer(
          () => proxy.context,
          {
            host: config.authorize.listen.host,
            port: options.authorizePort ?? config.authorize.listen.port,
            pathPrefix: config.authorize.pathPrefix,
          },
          logger,
          metrics,
        );
  const authorizeAddress = await authorize?.listen();
  // Like authorize: where the egress listener binds is read at start; routes follow reloads.
  const egress =
    config.egress === undefined
      ? undefined
      : new (await import('./egress/server.js')).EgressServer(
          () => proxy.context.egress,
          { host: config.egress.listen.host, port: options.egressPort ?? config.egress.listen.port },
          config.limits,
          logger,
          metrics,
        );
  const egressAddress = await egress?.listen();

  let reloading: Promise<boolean> | undefined;
  const reload = (): Promise<boolean> => {
    // Serialise reloads: a burst of file events produces one load at a time.
    const run = async (): Promise<boolean> => {
      try {
        const loaded = await loadConfig(options.configPath, env);
        if (loaded.hash === proxy.context.loaded.hash) return true;
        const next = await createRuntime(loaded, proxy.context, { logger, metrics, backendFailures });
        const previous = proxy.swapContext(next);
        metrics.retireTokenResolver(previous.tokens.stats());
        metrics.reloads.inc({ result: 'success' });
        metrics.setConfigHash(loaded.hash);
        logger.info({ hash: loaded.hash, routes: loaded.config.routes.length }, 'configuration reloaded');
        if (loaded.config.egress !== undefined && egress === undefined) {
          logger.warn('egress configured by a reload: the egress listener starts only at start-up; restart');
        }
        // Let requests that started on the old runtime finish before releasing what it owns alone.
        setTimeout(() => void previous.close(next), loaded.config.limits.upstreamTimeout).unref();
        return true;
      } catch (error) {
        metrics.reloads.inc({ result: 'failure' });
        const issues = error instanceof ConfigError ? error.issues : [String(error)];
        logger.error({ issues }, 'configuration reload rejected; keeping the current configuration');
        return false;
      }
    };
    reloading = (reloading ?? Promise.resolve(true)).then(run, run);
    return reloading;
  };

  const watchers: FSWatcher[] = [];
  if (options.watch) {
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 200);
      timer.unref();
    };
    // Watch the directories, not the files: editors replace a file by rename and Kubernetes swaps
    // a `..data` symlink, both of which end a watch on the file itself. Any event just triggers a
    // re-read; an unchanged hash makes it a no-op.
    const dirs = new Set<string>();
    const keyPaths = initial.loaded.assertionKeys?.map((key) => key.path) ?? [];
    for (const path of [initial.loaded.path, initial.loaded.credentialsPath, ...keyPaths]) {
      if (path !== undefined) dirs.add(dirname(path));
    }
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        watcher.on('error', () => {});
        watchers.push(watcher);
      } catch (error) {
        logger.warn(
          { dir, error: (error as Error).message },
          'cannot watch config directory; reload with SIGHUP',
        );
      }
    }
  }

  const stop = async (): Promise<boolean> => {
    draining = true;
    for (const watcher of watchers) watcher.close();
    const shutdownTimeout = proxy.context.config.limits.shutdownTimeout;
    const [drained, egressDrained] = await Promise.all([
      proxy.drain(shutdownTimeout),
      egress?.close(shutdownTimeout) ?? true,
    ]);
    await authorize?.close();
    await new Promise<void>((resolve) => admin.close(() => resolve()));
    admin.closeAllConnections();
    await proxy.context.close(undefined);
    return drained && egressDrained;
  };

  return {
    proxy,
    get runtime() {
      return proxy.context;
    },
    admin,
    address,
    adminAddress,
    authorizeAddress,
    egressAddress,
    metrics,
    reload,
    stop,
  };
}
