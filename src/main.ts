#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { loadConfigIsolated } from './config/load-isolated.js';
import { ConfigError } from './errors.js';
import { startGateway } from './gateway.js';
import { createLogger, flushLogger } from './observability/logger.js';
import { createRuntime } from './runtime.js';
import { EvictingPolicyError } from './store/redis-policy.js';

/**
 * CLI (DESIGN "CLI contract"):
 *   oauth-gateway [run] [-c gateway.yaml]
 *   oauth-gateway check [-c file]
 *   oauth-gateway schema
 *   oauth-gateway sign --consumer-key K --consumer-secret S [...] METHOD URL
 *   oauth-gateway jwks [-c gateway.yaml]
 *   oauth-gateway keygen [--algorithm EdDSA|ES256|RS256] [--out key.pem]
 */

const USAGE = `Usage:
  oauth-gateway [run] [-c gateway.yaml]     start the gateway (default ./gateway.yaml or $OAUTH_GATEWAY_CONFIG)
  oauth-gateway check [-c gateway.yaml] [--connect]
                                            validate the configuration; exit 1 listing every error
                                            (--connect: also run each SQL credential query once)
  oauth-gateway schema [--markdown]         print the JSON Schema of gateway.yaml (or the Markdown reference)
  oauth-gateway sign --consumer-key K --consumer-secret S [--token T --token-secret TS]
                     [--signature-method M] [--realm R] [--data BODY] [--curl] METHOD URL
                                            print an OAuth 1.0a Authorization header (or a curl command)
  oauth-gateway jwks [-c gateway.yaml]      print the JWKS of identity.assertion's keys
  oauth-gateway keygen [--algorithm EdDSA|ES256|RS256] [--out key.pem]
                                            write a new identity assertion key (PKCS#8 PEM)
`;

function configPath(value: string | undefined): string {
  return value ?? process.env['OAUTH_GATEWAY_CONFIG'] ?? './gateway.yaml';
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function failWithIssues(path: string, error: ConfigError): never {
  fail(
    `${path}: ${error.issues.length} error${error.issues.length === 1 ? '' : 's'}\n${error.issues.map((i) => `  ${i}`).join('\n')}`,
  );
}

async function check(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, connect: { type: 'boolean', default: false } },
  });
  const path = configPath(values.config);
  try {
    const { loadConfig } = await import('./config/load.js');
    const { SqlCredentialStore } = await import('./store/sql-store.js');
    const loaded = await loadConfig(path);
    // Building the runtime also checks what only a store can (RSA keys parse, no duplicate ids)
    // and imports the identity assertion keys.
    const runtime = await createRuntime(loaded, undefined);
    // --connect: run each SQL query once (with a key no row has) and report missing tables or
    // columns with the database's message.
    const issues =
      values.connect && runtime.stores.credentials instanceof SqlCredentialStore
        ? await runtime.stores.credentials.verify()
        : [];
    await runtime.close(undefined);
    if (issues.length > 0) throw new ConfigError(issues);
    process.stdout.write(`${path}: OK (${loaded.config.routes.length} routes)\n`);
  } catch (error) {
    if (error instanceof ConfigError) failWithIssues(path, error);
    throw error;
  }
}

async function jwks(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const path = configPath(values.config);
  const { jwksCommand } = await import('./assertion-commands.js');
  try {
    await jwksCommand(path);
  } catch (error) {
    if (error instanceof ConfigError) failWithIssues(path, error);
    throw error;
  }
}

async function keygen(args: string[]): Promise<void> {
  const { keygenCommand } = await import('./assertion-commands.js');
  await keygenCommand(args);
}

/**
 * V8 grows the old generation to up to 4× what survived the last full GC. A burst of new tokens
 * (each an introspection call whose request objects outlive a scavenge) then left a sidecar with
 * 100k cached tokens at ≈250 MB RSS, mostly empty old-space pages, until the memory reducer ran;
 * at 1.25× it peaked at ≈135 MB, for a few more (short) full GCs (BENCHMARKS.md, issue 21). V8
 * reads this flag at every GC, so setting it here works; NODE_OPTIONS does not accept it.
 */
const HEAP_GROWING_PERCENT = 25;

async function run(args: string[]): Promise<void> {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  const path = configPath(values.config);
  const logger = createLogger();
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway({ configPath: path, logger, watch: true, load: loadConfigIsolated });
  } catch (error) {
    flushLogger(logger);
    if (error instanceof ConfigError || error instanceof EvictingPolicyError) {
      fail(`cannot start: ${error.message}`);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') fail(`cannot start: ${(error as Error).message}`);
    throw error;
  }
  const { address, adminAddress, egressAddress } = gateway;
  logger.info(
    {
      listen: `${address.address}:${address.port}`,
      admin: `${adminAddress.address}:${adminAddress.port}`,
      egress: egressAddress === undefined ? undefined : `${egressAddress.address}:${egressAddress.port}`,
      config: path,
    },
    'oauth-gateway listening',
  );
  // Whoever started the process waits for this line: do not hold it for the batch.
  flushLogger(logger);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining in-flight requests');
    gateway.stop().then(
      (drained) => {
        logger.info({ drained }, 'stopped');
        flushLogger(logger);
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ error: String(error) }, 'shutdown failed');
        flushLogger(logger);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => void gateway.reload());
}

async function sign(args: string[]): Promise<void> {
  const { signCommand } = await import('./sign-command.js');
  await signCommand(args);
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'run':
      return run(rest);
    case 'check':
      return check(rest);
    case 'schema': {
      const { renderConfigReference } = await import('./config/reference.js');
      const { gatewayJsonSchema } = await import('./config/schema.js');
      process.stdout.write(
        rest.includes('--markdown')
          ? renderConfigReference()
          : `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`,
      );
      return;
    }
    case 'sign':
      return sign(rest);
    case 'jwks':
      return jwks(rest);
    case 'keygen':
      return keygen(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      if (first === undefined || first.startsWith('-')) return run(argv);
      fail(`unknown command "${first}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof TypeError && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    fail(`${error.message}\n\n${USAGE}`);
  }
  fail(`oauth-gateway: ${error instanceof Error ? error.message : String(error)}`);
});
