import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUDIENCE, INTROSPECTION_CLIENT, ISSUER } from './auth-server.mjs';
import { AUTHLIB_ENV, CLIENT, TOKEN } from './credentials.mjs';
import { freePort, PINNING, pinned, repin, startProcess, waitForPort } from './processes.mjs';

/**
 * Systems under test, by scenario `kind`. Each start() returns
 *   { url, sutPids, stop() }
 * with the SUT pinned to the SUT core. The upstream normally lives on the load-generator core;
 * for `direct` it is moved to the SUT core, because then it *is* the system under test.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
export const REQUEST_PATH = '/bench/items?id=42';

function nginxBinary() {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Debian nginx-light, installed when missing and allowed (root). */
export function ensureNginx(install) {
  if (nginxBinary()) return true;
  if (!install || process.getuid?.() !== 0) return false;
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx-light'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    return false;
  }
  return nginxBinary() !== undefined;
}

function nginxConfig(dir, port, upstreamPort) {
  // One worker (one core), keep-alive pool to the upstream, the same X-Forwarded-* work as the
  // gateway, and an access log formatted and written to /dev/null like the gateway's.
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null combined;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream bench_upstream { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
}

/** oauth2 block: the store by default; introspection/JWT point at the fake AS (lib/auth-server.mjs). */
function oauth2Config(tokenSources, authServer, dpop) {
  const config = { realm: 'bench', tokenSources: tokenSources ?? ['store'] };
  // Presigned proofs are made before each phase: a wide iat window keeps them all valid.
  if (dpop !== undefined) config.dpop = { mode: dpop, maxAge: '30m' };
  if (config.tokenSources.some((s) => s !== 'store') && authServer === undefined)
    throw new Error('fake authorization server not started');
  if (config.tokenSources.includes('introspection')) {
    config.introspection = {
      url: authServer.introspectionUrl,
      ...INTROSPECTION_CLIENT,
      // Defaults as shipped (100k entries, 5 min max TTL); spelled out because the memory
      // measurement depends on them.
      cache: { maxEntries: 100_000, maxTtl: '5m' },
    };
  }
  if (config.tokenSources.includes('jwt')) {
    config.jwt = { jwksUri: authServer.jwksUri, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] };
  }
  return config;
}

function gatewayConfig({
  port,
  upstreamPort,
  credentialsPath,
  redisUrl,
  auth,
  nonceStore,
  credentialStore,
  tokenSources,
  authServer,
  dpop,
  authorizePort,
  assertion,
}) {
  // Authorization-only mode: the gateway judges, nginx forwards (no `upstream` on the route).
  const route = { name: 'bench', match: { pathPrefix: '/' }, auth };
  if (authorizePort === undefined) route.upstream = `http://127.0.0.1:${upstreamPort}`;
  // JSON is YAML: no quoting surprises.
  return JSON.stringify(
    {
      listen: { host: '127.0.0.1', port },
      ...(authorizePort === undefined
        ? {}
        : { authorize: { listen: { host: '127.0.0.1', port: authorizePort } } }),
      admin: { host: '127.0.0.1', port: 0 },
      limits: { maxBodyBytes: 1048576, headersTimeout: '10s', upstreamTimeout: '30s' },
      redis: { url: redisUrl ?? 'redis://127.0.0.1:6379', keyPrefix: 'oauth-gateway-bench:' },
      credentials:
        credentialStore === 'redis'
          ? { type: 'redis', cacheTtl: '5s' }
          : { type: 'file', path: credentialsPath },
      oauth1: {
        realm: 'bench',
        signatureMethods: ['HMAC-SHA1', 'HMAC-SHA256'],
        timestampWindow: '300s',
        nonceStore: nonceStore ?? 'memory',
      },
      oauth2: oauth2Config(tokenSources, authServer, dpop),
      ...(assertion === undefined
        ? {}
        : {
            identity: { assertion: { algorithm: assertion.algorithm, keys: [{ path: assertion.keyPath }] } },
          }),
      routes: [route],
    },
    null,
    2,
  );
}

/** The OAuth1 bench client and token as an authorization server would write them (docs/redis.md). */
function writeRedisCredentials(redisUrl) {
  const cli = (...args) =>
    execFileSync('redis-cli', ['-u', redisUrl ?? 'redis://127.0.0.1:6379', ...args], { stdio: 'ignore' });
  cli(
    'HSET',
    `oauth-gateway-bench:oauth1:client:${CLIENT.clientId}`,
    'clientId',
    CLIENT.clientId,
    'clientSecret',
    CLIENT.clientSecret,
  );
  cli(
    'HSET',
    `oauth-gateway-bench:oauth1:token:${TOKEN.token}`,
    'token',
    TOKEN.token,
    'tokenSecret',
    TOKEN.tokenSecret,
    'clientId',
    TOKEN.clientId,
    'userId',
    TOKEN.userId ?? '',
    'scope',
    TOKEN.scope ?? '',
  );
}

const PYTHON = '/usr/bin/python3';
const AUTHLIB_PACKAGES = ['python3-authlib', 'python3-flask', 'gunicorn'];

function authlibMissing() {
  try {
    execFileSync(PYTHON, ['-c', 'import authlib, flask, gunicorn'], { stdio: 'ignore' });
    return undefined;
  } catch (error) {
    return error.code === 'ENOENT' ? `${PYTHON} not found` : 'python modules authlib/flask/gunicorn missing';
  }
}

/**
 * Debian's python3-authlib, python3-flask and gunicorn for /usr/bin/python3 (the system Python
 * the Debian packages belong to, whatever python3 is first on PATH): true, or why not.
 */
export function ensureAuthlib(install) {
  const missing = authlibMissing();
  if (missing === undefined) return true;
  if (!install)
    return `not available: ${missing} (run without --quick/--no-install as root, or apt-get install ${AUTHLIB_PACKAGES.join(' ')})`;
  if (process.getuid?.() !== 0)
    return `not available: ${missing}; not root, so not installed (apt-get install ${AUTHLIB_PACKAGES.join(' ')})`;
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...AUTHLIB_PACKAGES], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    return `not available: apt-get install ${AUTHLIB_PACKAGES.join(' ')} failed (exit ${error.status ?? error.code})`;
  }
  const after = authlibMissing();
  return after === undefined ? true : `not available after apt-get install: ${after}`;
}

export function authlibVersions() {
  try {
    return execFileSync(
      PYTHON,
      [
        '-c',
        'import authlib, flask, gunicorn, sys; print(f"Authlib {authlib.__version__}, Flask {flask.__version__}, gunicorn {gunicorn.__version__}, Python {sys.version.split()[0]}")',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
  } catch {
    return undefined;
  }
}

export const TARGETS = {
  direct: {
    available: () => true,
    async start(ctx) {
      repin(ctx.upstream.pid, PINNING.sut);
      return {
        url: `http://127.0.0.1:${ctx.upstreamPort}${REQUEST_PATH}`,
        sutPids: [ctx.upstream.pid],
        async stop() {
          repin(ctx.upstream.pid, PINNING.aux);
        },
      };
    },
  },

  nginx: {
    available: (ctx) =>
      ensureNginx(ctx.install) ? true : 'nginx not available (apt-get install nginx-light)',
    async start(ctx, scenario) {
      const dir = join(ctx.workDir, scenario.id);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755); // the worker may run as nobody
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, nginxConfig(dir, port, ctx.upstreamPort));
      const [cmd, args] = pinned(PINNING.sut, nginxBinary(), ['-c', conf, '-p', dir]);
      const handle = startProcess('nginx', cmd, args);
      await waitForPort(handle, port);
      return {
        url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
        sutPids: [handle.pid],
        stop: () => handle.stop(),
      };
    },
  },

  'node-proxy': {
    available: () => true,
    async start(ctx, scenario) {
      const port = await freePort();
      const script = join(root, 'bench/servers/node-proxy.mjs');
      const [cmd, args] = pinned(PINNING.sut, process.execPath, [
        script,
        '--lib',
        scenario.lib,
        '--port',
        String(port),
        '--target',
        `http://127.0.0.1:${ctx.upstreamPort}`,
      ]);
      const handle = startProcess(scenario.lib, cmd, args, { cwd: root });
      await waitForPort(handle, port);
      return {
        url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
        sutPids: [handle.pid],
        stop: () => handle.stop(),
      };
    },
  },

  'undici-forwarder': {
    available: () => true,
    async start(ctx) {
      const port = await freePort();
      const script = join(root, 'bench/servers/undici-forwarder.mjs');
      const [cmd, args] = pinned(PINNING.sut, process.execPath, [
        script,
        '--port',
        String(port),
        '--target',
        `http://127.0.0.1:${ctx.upstreamPort}`,
      ]);
      const handle = startProcess('undici-forwarder', cmd, args, { cwd: root });
      await waitForPort(handle, port);
      return {
        url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
        sutPids: [handle.pid],
        stop: () => handle.stop(),
      };
    },
  },

  authlib: {
    available: (ctx) => {
      ctx.authlibStatus ??= ensureAuthlib(ctx.install);
      return ctx.authlibStatus;
    },
    async start(_ctx, scenario) {
      const port = await freePort();
      // One worker (one core, like every other SUT), threads for the 50 keep-alive connections.
      const [cmd, args] = pinned(PINNING.sut, PYTHON, [
        '-m',
        'gunicorn',
        '--workers',
        '1',
        '--worker-class',
        'gthread',
        '--threads',
        '8',
        '--backlog',
        '2048',
        '--keep-alive',
        '65',
        '--log-level',
        'warning',
        '--chdir',
        join(root, 'bench/servers'),
        '--bind',
        `127.0.0.1:${port}`,
        'authlib_app:app',
      ]);
      // OAuth1 over plain http on loopback: Authlib refuses http unless told it is a test setup.
      const handle = startProcess('authlib', cmd, args, {
        env: { ...AUTHLIB_ENV, AUTHLIB_INSECURE_TRANSPORT: '1' },
      });
      await waitForPort(handle, port);
      return {
        url: `http://127.0.0.1:${port}${scenario.path ?? REQUEST_PATH}`,
        sutPids: [handle.pid],
        upstreamIsSut: true,
        stop: () => handle.stop(),
      };
    },
  },

  gateway: {
    available: () => (existsSync(join(root, 'dist/main.js')) ? true : 'dist/main.js missing (npm run build)'),
    async start(ctx, scenario) {
      const { handle, port } = await startGateway(ctx, scenario);
      return {
        url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
        sutPids: [handle.pid],
        gatewayPids: [handle.pid],
        stop: () => handle.stop(),
      };
    },
  },

  /**
   * Authorization-only mode: nginx (examples/forward-auth/nginx.conf as shipped, one worker) in
   * front of the upstream, asking the gateway's authorize listener for every request. Both are the
   * system under test, on the SUT core together, so the row compares with the gateway in proxy mode
   * on that same core; the gateway's own share is reported too (`gatewayPids`).
   */
  'nginx-authorize': {
    available: (ctx) => {
      if (!existsSync(join(root, 'dist/main.js'))) return 'dist/main.js missing (npm run build)';
      return ensureNginx(ctx.install) ? true : 'nginx not available (apt-get install nginx-light)';
    },
    async start(ctx, scenario) {
      const authorizePort = await freePort();
      const gateway = await startGateway(ctx, scenario, authorizePort);
      await waitForPort(gateway.handle, authorizePort);
      const dir = join(ctx.workDir, `${scenario.id}-nginx`);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755);
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, forwardAuthNginxConfig(dir, port, authorizePort, ctx.upstreamPort));
      const [cmd, args] = pinned(PINNING.sut, nginxBinary(), ['-c', conf, '-p', dir]);
      const nginx = startProcess('nginx', cmd, args);
      try {
        await waitForPort(nginx, port);
      } catch (error) {
        await gateway.handle.stop();
        throw error;
      }
      return {
        url: `http://127.0.0.1:${port}${REQUEST_PATH}`,
        sutPids: [nginx.pid, gateway.handle.pid],
        gatewayPids: [gateway.handle.pid],
        async stop() {
          await nginx.stop();
          await gateway.handle.stop();
        },
      };
    },
  },
};

/** The gateway as users run it (`node dist/main.js run`), pinned to the SUT core. */
/** NODE_OPTIONS exactly as the Dockerfile sets it for the gateway (the image every deployment runs). */
export const SHIPPED_NODE_OPTIONS = (() => {
  const match = /NODE_OPTIONS="([^"]*)"/.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  if (match === null) throw new Error('Dockerfile no longer sets NODE_OPTIONS="…"');
  return match[1];
})();

async function startGateway(ctx, scenario, authorizePort) {
  const dir = join(ctx.workDir, scenario.id);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'gateway.yaml');
  // Identity assertion scenarios: a fresh key written like `oauth-gateway keygen` does.
  let assertion;
  if (scenario.assertion !== undefined) {
    const keyPath = join(dir, 'assertion.pem');
    // keygen never overwrites a key; a second round of the same scenario makes a fresh one.
    rmSync(keyPath, { force: true });
    execFileSync(
      process.execPath,
      [join(root, 'dist/main.js'), 'keygen', '--algorithm', scenario.assertion, '--out', keyPath],
      { stdio: 'ignore' },
    );
    assertion = { algorithm: scenario.assertion, keyPath };
  }
  writeFileSync(
    conf,
    gatewayConfig({
      port,
      upstreamPort: ctx.upstreamPort,
      credentialsPath: ctx.credentialsPath,
      redisUrl: ctx.redisUrl,
      auth: scenario.auth ?? 'none',
      nonceStore: scenario.nonceStore,
      credentialStore: scenario.credentialStore,
      tokenSources: scenario.tokenSources,
      authServer: ctx.authServer,
      dpop: scenario.dpop,
      authorizePort,
      assertion,
    }),
  );
  if (scenario.credentialStore === 'redis') writeRedisCredentials(ctx.redisUrl);
  const nodeArgs = [...(scenario.nodeArgs ?? []), join(root, 'dist/main.js'), 'run', '-c', conf];
  const [cmd, args] = pinned(PINNING.sut, process.execPath, nodeArgs);
  // As shipped: the Dockerfile's NODE_OPTIONS (V8 young-generation size), access log on (info)
  // unless the scenario says otherwise; the log goes to /dev/null.
  const handle = startProcess('gateway', cmd, args, {
    cwd: dir,
    env: { LOG_LEVEL: 'info', NODE_ENV: 'production', NODE_OPTIONS: SHIPPED_NODE_OPTIONS, ...scenario.env },
  });
  await waitForPort(handle, port);
  return { handle, port };
}

/**
 * examples/forward-auth/nginx.conf exactly as shipped, with its three addresses replaced, inside
 * the same process settings as the pass-through nginx row (one worker, log to /dev/null).
 */
function forwardAuthNginxConfig(dir, port, authorizePort, upstreamPort) {
  let example = readFileSync(join(root, 'examples/forward-auth/nginx.conf'), 'utf8');
  for (const [from, to] of [
    ['listen 8080;', `listen 127.0.0.1:${port};`],
    ['server 127.0.0.1:9191;', `server 127.0.0.1:${authorizePort};`],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${upstreamPort};`],
  ]) {
    if (!example.includes(from)) throw new Error(`examples/forward-auth/nginx.conf lost "${from}"`);
    example = example.replaceAll(from, to);
  }
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null combined;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${example}
}
`;
}
