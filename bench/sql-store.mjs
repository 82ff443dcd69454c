#!/usr/bin/env node
/**
 * `node bench/sql-store.mjs [--seconds 5] [--rounds 3] [--concurrency 32]` (after `npm run build`):
 * OAuth1 through the gateway with credentials from PostgreSQL (authlib-flask preset, cache warm)
 * against the same credentials from credentials.yaml, in the same run, alternating, best round of
 * each; then the latency a cache miss adds (cacheTtl 0: every request queries the consumer and
 * the token). Needs PostgreSQL (POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 * and Debian's python3-flask-sqlalchemy + python3-psycopg2 (the tables are Authlib's, made by
 * db.create_all()). Requests are signed by the gateway's own signer, each with a fresh nonce;
 * load generator and gateway are pinned to different cores when taskset is there.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { signOAuth1Request } from '../dist/oauth1-client/sign.js';
import { freePort, PINNING, pinned, startProcess, stopAll, waitForPort } from './lib/processes.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const root = fileURLToPath(new URL('..', import.meta.url));
const adminUrl = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `ogw_bench_${process.pid}`;
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();

async function admin(sql) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function startGateway(dir, name, credentials, upstreamPort) {
  const port = await freePort();
  const adminPort = await freePort();
  const config = {
    listen: { host: '127.0.0.1', port },
    admin: { host: '127.0.0.1', port: adminPort },
    credentials,
    routes: [
      {
        name: 'api',
        match: { pathPrefix: '/' },
        upstream: `http://127.0.0.1:${upstreamPort}`,
        auth: 'oauth1',
      },
    ],
  };
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify(config));
  const [command, args] = pinned(PINNING.sut, process.execPath, [
    join(root, 'dist/main.js'),
    'run',
    '-c',
    path,
  ]);
  const handle = startProcess(name, command, args, { env: { LOG_LEVEL: 'error' } });
  await waitForPort(handle, port);
  return { handle, url: `http://127.0.0.1:${port}` };
}

/** Closed loop: `concurrency` workers, each signs and sends one request after another. */
async function measure(url, creds, durationMs, workers = concurrency) {
  const agent = new Agent({ connections: workers, keepAliveTimeout: 10_000 });
  const latencies = [];
  let errors = 0;
  const deadline = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const target = `${url}/photos?size=original`;
      const authorization = signOAuth1Request({ method: 'GET', url: target, ...creds });
      const started = performance.now();
      const res = await request(target, { dispatcher: agent, headers: { authorization } });
      await res.body.dump();
      if (res.statusCode !== 200) errors++;
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { rps: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), errors, requests: latencies.length };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ogw-sql-bench-'));
  await admin(`CREATE DATABASE ${dbName}`);
  try {
    const rows = JSON.parse(
      execFileSync('/usr/bin/python3', [
        join(root, 'test/e2e/sql/python/authlib_flask.py'),
        dbUrl.replace(/^postgres(ql)?:/, 'postgresql+psycopg2:'),
        'setup',
      ]).toString(),
    );
    const creds = {
      consumerKey: rows.client.clientId,
      consumerSecret: rows.client.clientSecret,
      token: rows.token.token,
      tokenSecret: rows.token.tokenSecret,
    };
    writeFileSync(
      join(dir, 'credentials.yaml'),
      stringify({
        clients: [{ clientId: creds.consumerKey, clientSecret: creds.consumerSecret }],
        tokens: [
          {
            token: creds.token,
            tokenSecret: creds.tokenSecret,
            clientId: creds.consumerKey,
            userId: rows.userId,
          },
        ],
      }),
    );
    const upstreamPort = await freePort();
    const [uc, ua] = pinned(PINNING.aux, process.execPath, [
      join(root, 'bench/servers/upstream.mjs'),
      '--port',
      String(upstreamPort),
    ]);
    const upstream = startProcess('upstream', uc, ua);
    await waitForPort(upstream, upstreamPort);

    const sql = (cacheTtl) => ({ type: 'sql', sql: { url: dbUrl, preset: 'authlib-flask', cacheTtl } });
    const targets = {
      file: await startGateway(dir, 'file', { type: 'file', path: './credentials.yaml' }, upstreamPort),
      'sql-warm': await startGateway(dir, 'sql-warm', sql('5m'), upstreamPort),
      'sql-uncached': await startGateway(dir, 'sql-uncached', sql(0), upstreamPort),
    };
    const best = {};
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? Object.keys(targets) : Object.keys(targets).reverse();
      for (const name of order) {
        await measure(targets[name].url, creds, 1000); // warm-up (fills the cache for sql-warm)
        const result = await measure(targets[name].url, creds, seconds * 1000);
        if (result.errors > 0) throw new Error(`${name}: ${result.errors} non-200 answers`);
        if (best[name] === undefined || result.rps > best[name].rps) best[name] = result;
        console.log(
          `round ${round + 1} ${name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`,
        );
      }
    }
    const ratio = best['sql-warm'].rps / best.file.rps;
    console.log('\nbest of each:');
    for (const [name, r] of Object.entries(best)) {
      console.log(
        `  ${name.padEnd(13)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
      );
    }
    console.log(`sql (cache warm) / file: ${ratio.toFixed(3)}×  (goal ≥ 0.95×)`);
    // One request at a time: what a cache miss (consumer + token queries) adds to one request.
    const single = {};
    for (const name of ['sql-warm', 'sql-uncached', 'sql-warm', 'sql-uncached']) {
      const r = await measure(targets[name].url, creds, 2000, 1);
      if (single[name] === undefined || r.p50 < single[name].p50) single[name] = r;
    }
    console.log(
      `one request at a time, p50: warm ${single['sql-warm'].p50.toFixed(2)} ms, uncached ${single['sql-uncached'].p50.toFixed(2)} ms → a miss adds ${(single['sql-uncached'].p50 - single['sql-warm'].p50).toFixed(2)} ms (two queries)`,
    );
    console.log(
      `machine load average during the run: ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await stopAll();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
