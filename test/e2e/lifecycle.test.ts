import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../helpers/ports.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * The built CLI (`dist/main.js`, built by `npm test` before vitest runs) as a real child process:
 * SIGTERM drain, SIGHUP reload, and `check`/`schema`/bad-config exits.
 */

const MAIN = resolve(import.meta.dirname, '../../dist/main.js');
const STACK_LINE = /^\s+at /m;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

/** Run a CLI command to completion. */
function runCli(args: string[], timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: envWithout('PORT', 'OAUTH_GATEWAY_CONFIG'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`oauth-gateway ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** A running `oauth-gateway run`, its output collected. */
interface RunningCli {
  child: ChildProcess;
  port: number;
  output(): string;
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

const running: RunningCli[] = [];

async function startCli(configPath: string, port: number): Promise<RunningCli> {
  const child = spawn(process.execPath, [MAIN, 'run', '-c', configPath], {
    env: { ...envWithout('OAUTH_GATEWAY_CONFIG', 'LOG_LEVEL'), PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const cli: RunningCli = {
    child,
    port,
    exited,
    output: () => output,
    waitForOutput(text, timeoutMs = 10_000) {
      return new Promise((resolveWait, reject) => {
        const check = () => {
          if (output.includes(text)) {
            cleanup();
            resolveWait();
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no "${text}" in gateway output within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
  running.push(cli);
  await Promise.race([
    cli.waitForOutput('oauth-gateway listening'),
    exited.then((code) => {
      throw new Error(`gateway exited with ${code} before listening:\n${output}`);
    }),
  ]);
  return cli;
}

interface Reply {
  status: number;
  body: string;
}

/** One request on its own connection (no keep-alive, so drain behaviour is per request). */
function get(port: number, path: string): Promise<Reply> {
  return new Promise((resolveGet, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: new Agent({ keepAlive: false }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolveConnect) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolveConnect(error.code));
  });
}

let dir: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-cli-'));
  await writeFile(join(dir, 'credentials.yaml'), stringify({}));
});

afterEach(async () => {
  for (const cli of running.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exited;
    }
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, config: Record<string, unknown> | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

async function gatewayConfig(upstream: string): Promise<Record<string, unknown>> {
  return {
    // listen.port is overridden by PORT in the environment.
    listen: { host: '127.0.0.1', port: 1 },
    admin: { host: '127.0.0.1', port: await freePort() },
    limits: { shutdownTimeout: '10s' },
    routes: [{ name: 'app', match: { pathPrefix: '/' }, upstream, auth: 'none' }],
  };
}

describe('oauth-gateway run: SIGTERM', () => {
  let slow: TestUpstream;
  afterEach(async () => {
    await slow?.close();
  });

  it('drains 5 in-flight requests (all 200), refuses new connections, exits 0', async () => {
    // Each answer takes at least 500 ms and is held until the test has seen new connections
    // refused, so the refusal is checked while all five are provably still in flight.
    let release!: () => void;
    const released = new Promise<void>((resolveRelease) => {
      release = resolveRelease;
    });
    slow = await startUpstream((_req, res, record) => {
      const delay = new Promise((resolveDelay) => setTimeout(resolveDelay, 500));
      void Promise.all([released, delay]).then(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`done ${record.url}`);
      });
    });
    const port = await freePort();
    const configPath = await writeConfig('drain.yaml', await gatewayConfig(slow.url));
    const cli = await startCli(configPath, port);

    const replies = Promise.all([1, 2, 3, 4, 5].map((n) => get(port, `/slow/${n}`)));
    replies.catch(() => {}); // awaited below; keep a failure from surfacing as unhandled first
    await slow.waitForRequests(5);
    cli.child.kill('SIGTERM');
    await cli.waitForOutput('draining in-flight requests');

    // The listener closes as soon as the signal is handled (a connection racing the close may be
    // accepted or reset; poll until the port refuses).
    const deadline = Date.now() + 5_000;
    let outcome = await connectError(port);
    while (outcome !== 'ECONNREFUSED' && Date.now() < deadline) {
      await new Promise((resolveWait) => setTimeout(resolveWait, 20));
      outcome = await connectError(port);
    }
    expect(outcome).toBe('ECONNREFUSED');
    expect(cli.child.exitCode).toBeNull();
    release();

    const results = await replies;
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.map((r) => r.body)).toEqual([1, 2, 3, 4, 5].map((n) => `done /slow/${n}`));
    expect(slow.requests.every((record) => !record.aborted)).toBe(true);
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('"drained":true');
  });
});

describe('oauth-gateway run: SIGHUP reload', () => {
  let first: TestUpstream;
  let second: TestUpstream;
  beforeAll(async () => {
    first = await startUpstream();
    second = await startUpstream();
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('applies a changed upstream, and keeps serving the old config when the new file is invalid', async () => {
    const port = await freePort();
    const config = await gatewayConfig(first.url);
    const configPath = await writeConfig('reload.yaml', config);
    const cli = await startCli(configPath, port);

    expect((await get(port, '/a')).status).toBe(200);
    expect(first.requests.map((r) => r.url)).toEqual(['/a']);

    await writeConfig('reload.yaml', {
      ...config,
      routes: [{ name: 'app', match: { pathPrefix: '/' }, upstream: second.url, auth: 'none' }],
    });
    cli.child.kill('SIGHUP');
    await cli.waitForOutput('configuration reloaded');
    expect((await get(port, '/b')).status).toBe(200);
    expect(second.requests.map((r) => r.url)).toEqual(['/b']);
    expect(first.requests).toHaveLength(1);

    await writeConfig('reload.yaml', 'routes: [ this is : not valid yaml\n');
    cli.child.kill('SIGHUP');
    await cli.waitForOutput('configuration reload rejected');
    expect((await get(port, '/c')).status).toBe(200);
    expect(second.requests.map((r) => r.url)).toEqual(['/b', '/c']);
    expect(cli.child.exitCode).toBeNull();

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

describe('oauth-gateway check', () => {
  it('accepts a valid file', async () => {
    const path = await writeConfig('valid.yaml', await gatewayConfig('http://127.0.0.1:3000'));
    const result = await runCli(['check', '-c', path]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('OK (1 routes)');
  });

  it('lists 3 distinct errors by path in one run, exit 1, no stack trace', async () => {
    const path = await writeConfig('three-errors.yaml', {
      listen: { port: 'eighty' },
      routes: [{ name: 'app', match: { pathPrefix: '/' }, upstream: 'ftp://nope', auth: 'sometimes' }],
    });
    const result = await runCli(['check', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('3 errors');
    for (const where of ['listen.port:', 'routes[0].upstream:', 'routes[0].auth:']) {
      expect(result.stderr).toContain(where);
    }
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stdout).toBe('');
  });

  it.each([
    ['malformed YAML', 'broken.yaml', 'routes:\n  - name: app\n   match: [\n', /broken\.yaml:\d+:\d+/],
    ['duplicate keys', 'duplicate.yaml', 'routes: []\nroutes: []\n', /duplicate\.yaml:\d+:\d+/],
    ['wrong types', 'types.yaml', 'listen: 8080\nroutes: not-a-list\n', /listen: .*\n.*routes: /],
    ['not a mapping', 'list.yaml', '- just\n- a list\n', /must be a YAML mapping/],
  ])('%s → exit 1 with a clear message and no stack trace', async (_name, file, text, message) => {
    const path = await writeConfig(file, text);
    const result = await runCli(['check', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('missing file → exit 1 naming the file, no stack trace', async () => {
    const path = join(dir, 'does-not-exist.yaml');
    const result = await runCli(['check', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot read ${path} (file not found)`);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('run with an invalid file → exit 1 with the same clear message, no stack trace', async () => {
    const path = await writeConfig('run-invalid.yaml', {
      routes: [{ name: 'x', match: { pathPrefix: '/' } }],
    });
    const result = await runCli(['run', '-c', path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot start');
    expect(result.stderr).toContain('routes[0].upstream');
    expect(result.stderr).toContain('routes[0].auth');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('run with a missing file → exit 1, no stack trace', async () => {
    const result = await runCli(['run', '-c', join(dir, 'nope.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('file not found');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});

describe('oauth-gateway schema', () => {
  it('prints the JSON Schema of gateway.yaml', async () => {
    const result = await runCli(['schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as { properties?: Record<string, { type?: string }> };
    expect(schema.properties?.['routes']?.type).toBe('array');
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(['listen', 'admin', 'limits', 'identity', 'oauth1', 'oauth2', 'routes']),
    );
  });
});
