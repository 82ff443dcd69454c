import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';

/**
 * Starts the real gateway in-process from YAML files written to a fresh temp dir, listening on
 * 127.0.0.1 port 0 (proxy and admin). Log lines are captured in `logs` (and also printed to stderr
 * when LOG_LEVEL is set, for debugging a failing test).
 *
 *   const gw = await startTestGateway({ config: { routes: [{ name: 'pub', match: { pathPrefix: '/' },
 *     upstream: upstream.url, auth: 'none' }] } });
 *   await fetch(`${gw.url}/hello`);
 *   await gw.stop();
 */

export interface TestGatewayOptions {
  /** gateway.yaml as a JS object (routes with their upstream URLs filled in). */
  readonly config: Record<string, unknown>;
  /** credentials.yaml as a JS object; default `{}` (no credentials). */
  readonly credentials?: Record<string, unknown>;
  /** Extra environment for `${VAR}` interpolation, on top of process.env (PORT is never inherited). */
  readonly env?: Record<string, string | undefined>;
  /** Level of the captured logger; default LOG_LEVEL or `info` (so access logs are captured). */
  readonly logLevel?: string;
}

export interface TestGateway {
  /** `http://127.0.0.1:<port>` of the proxy listener. */
  readonly url: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>` of the admin listener. */
  readonly adminUrl: string;
  readonly adminPort: number;
  /** `http://127.0.0.1:<port>` of the authorize listener, when the config has `authorize`. */
  readonly authorizeUrl: string | undefined;
  readonly authorizePort: number | undefined;
  /** `http://127.0.0.1:<port>` of the egress listener, when the config has `egress`. */
  readonly egressUrl: string | undefined;
  readonly egressPort: number | undefined;
  /** Every log line written so far (raw JSON text, one per entry). */
  readonly logs: string[];
  readonly configPath: string;
  readonly credentialsPath: string;
  readonly gateway: RunningGateway;
  /** Parsed log entries, for `.filter((l) => l.msg === 'request')`. */
  logEntries(): Record<string, unknown>[];
  /** Rewrite gateway.yaml and/or credentials.yaml (then call `reload()`). */
  writeFiles(files: {
    config?: Record<string, unknown>;
    credentials?: Record<string, unknown>;
  }): Promise<void>;
  /** Re-read the files; resolves true if the new config was applied. */
  reload(): Promise<boolean>;
  /** Drain, close both listeners and remove the temp dir; resolves true if everything drained. */
  stop(): Promise<boolean>;
}

/** Listen on loopback, port 0 and use ./credentials.yaml unless the test says otherwise. */
function withTestDefaults(config: Record<string, unknown>): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    credentials: { type: 'file', path: './credentials.yaml' },
    ...config,
  };
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-test-'));
  const configPath = join(dir, 'gateway.yaml');
  const credentialsPath = join(dir, 'credentials.yaml');
  const writeFiles: TestGateway['writeFiles'] = async (files) => {
    if (files.config !== undefined) await writeFile(configPath, stringify(withTestDefaults(files.config)));
    if (files.credentials !== undefined) await writeFile(credentialsPath, stringify(files.credentials));
  };
  await writeFiles({ config: options.config, credentials: options.credentials ?? {} });

  const logs: string[] = [];
  const echoToStderr = process.env['LOG_LEVEL'] !== undefined;
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = chunk.toString();
      for (const line of text.split('\n')) if (line !== '') logs.push(line);
      if (echoToStderr) process.stderr.write(text);
      callback();
    },
  });
  const logger = createLogger(options.logLevel ?? process.env['LOG_LEVEL'] ?? 'info', destination);

  const { PORT: _port, ...inherited } = process.env;
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({
      configPath,
      logger,
      port: 0,
      adminPort: 0,
      authorizePort: 0,
      egressPort: 0,
      watch: false,
      env: { ...inherited, ...options.env },
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const { port } = gateway.address;
  const adminPort = gateway.adminAddress.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    adminPort,
    authorizeUrl:
      gateway.authorizeAddress === undefined
        ? undefined
        : `http://127.0.0.1:${gateway.authorizeAddress.port}`,
    authorizePort: gateway.authorizeAddress?.port,
    egressUrl:
      gateway.egressAddress === undefined ? undefined : `http://127.0.0.1:${gateway.egressAddress.port}`,
    egressPort: gateway.egressAddress?.port,
    logs,
    configPath,
    credentialsPath,
    gateway,
    logEntries: () => logs.map((line) => JSON.parse(line) as Record<string, unknown>),
    writeFiles,
    reload: () => gateway.reload(),
    async stop() {
      try {
        return await gateway.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
