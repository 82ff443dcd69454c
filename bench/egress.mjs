#!/usr/bin/env node
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort, PINNING, pinned, startProcess, stopAll, waitForPort } from './lib/processes.mjs';
import { treeCpuUs } from './lib/procstat.mjs';

/**
 * Egress benchmark (docs/egress.md): the same gateway process, one run, four egress routes to the
 * same upstream — plain forwarding (no `sign`), OAuth1 HMAC-SHA1, OAuth1 RSA-SHA256 (signed on the
 * libuv pool) and OAuth2 with a cached client-credentials token — measured round-robin with the
 * same load, so the difference is the cost of signing or injecting. The upstream is node:http on
 * loopback (plain HTTP, so TLS cost does not hide the signing cost); the token endpoint issues
 * one-hour tokens (one fetch for the whole run).
 *
 *   npm run build && node bench/egress.mjs [--quick] [--seconds N] [--rounds N] [--connections N]
 *
 * Gateway on core 1, load generator (autocannon in its own process) and upstream on core 0, when
 * taskset and 2 cores are there. Reports requests/s, p50/p99 latency and gateway CPU µs per request.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
};
const quick = process.argv.includes('--quick');
const seconds = Number(arg('seconds', quick ? '3' : '10'));
const rounds = Number(arg('rounds', quick ? '1' : '3'));
const connections = Number(arg('connections', '50'));

const SCENARIOS = [
  { id: 'plain', label: 'egress forwarding, no signing (baseline)' },
  { id: 'oauth1', label: 'egress OAuth1 HMAC-SHA1 (header)' },
  { id: 'oauth1-rsa', label: 'egress OAuth1 RSA-SHA256 (header)' },
  { id: 'oauth2', label: 'egress OAuth2 client credentials (cached token)' },
];

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'egress-bench-'));
  let tokenServer;
  try {
    const upstreamPort = await freePort();
    const upstream = startProcess(
      'upstream',
      ...pinned(PINNING.aux, process.execPath, [
        join(root, 'bench/servers/upstream.mjs'),
        '--port',
        String(upstreamPort),
      ]),
    );
    await waitForPort(upstream, upstreamPort);

    let tokensIssued = 0;
    tokenServer = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        tokensIssued++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: `benchToken${tokensIssued}`,
            token_type: 'Bearer',
            expires_in: 3600,
          }),
        );
      });
    });
    await new Promise((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${tokenServer.address().port}/token`;

    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await writeFile(join(dir, 'rsa.pem'), rsaKey.export({ type: 'pkcs8', format: 'pem' }));
    const egressPort = await freePort();
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/api`;
    const oauth1 = {
      consumerKey: 'bench-consumer',
      consumerSecret: 'bench-consumer-secret',
      token: 'bench-token',
      tokenSecret: 'bench-token-secret',
    };
    const config = {
      listen: { host: '127.0.0.1', port: await freePort() },
      admin: { host: '127.0.0.1', port: await freePort() },
      egress: {
        listen: { host: '127.0.0.1', port: egressPort },
        routes: [
          { name: 'plain', match: { pathPrefix: '/plain' }, upstream: upstreamUrl },
          { name: 'oauth1', match: { pathPrefix: '/oauth1' }, upstream: upstreamUrl, sign: { oauth1 } },
          {
            name: 'oauth1-rsa',
            match: { pathPrefix: '/oauth1-rsa' },
            upstream: upstreamUrl,
            sign: {
              oauth1: {
                consumerKey: 'bench-rsa',
                token: 'bench-token',
                signatureMethod: 'RSA-SHA256',
                privateKeyFile: './rsa.pem',
              },
            },
          },
          {
            name: 'oauth2',
            match: { pathPrefix: '/oauth2' },
            upstream: upstreamUrl,
            sign: { oauth2: { tokenUrl, clientId: 'bench-client', clientSecret: 'bench-client-secret' } },
          },
        ],
      },
    };
    await writeFile(join(dir, 'gateway.yaml'), stringify(config));
    const gateway = startProcess(
      'gateway',
      ...pinned(PINNING.sut, process.execPath, [
        join(root, 'dist/main.js'),
        'run',
        '-c',
        join(dir, 'gateway.yaml'),
      ]),
      { env: { LOG_LEVEL: 'warn' }, cwd: dir },
    );
    await waitForPort(gateway, egressPort);

    const results = new Map(SCENARIOS.map((s) => [s.id, []]));
    const runLoad = async (id, durationSec) => {
      const spec = {
        url: `http://127.0.0.1:${egressPort}/${id}/items?id=42&q=caf%C3%A9`,
        connections,
        durationSec,
        headers: {},
      };
      const [command, args] = pinned(PINNING.loadgen, process.execPath, [
        join(root, 'bench/lib/autocannon-runner.mjs'),
        JSON.stringify(spec),
      ]);
      const { stdout } = await promisify(execFile)(command, args, { maxBuffer: 1 << 20 });
      return JSON.parse(stdout.trim().split('\n').pop());
    };
    // Warm-up: every route once (JIT, pools, the one token fetch).
    for (const scenario of SCENARIOS) await runLoad(scenario.id, 1);
    for (let round = 0; round < rounds; round++) {
      for (const scenario of SCENARIOS) {
        const cpuBefore = treeCpuUs([gateway.pid]);
        const summary = await runLoad(scenario.id, seconds);
        const cpuUs = treeCpuUs([gateway.pid]) - cpuBefore;
        if (summary.non2xx > 0 || summary.errors > 0) {
          throw new Error(`${scenario.id}: ${summary.non2xx} non-2xx, ${summary.errors} errors`);
        }
        results.get(scenario.id).push({ ...summary, cpuPerRequestUs: cpuUs / summary.requests });
      }
    }

    const median = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const baseline = median(results.get('plain').map((r) => r.cpuPerRequestUs));
    console.log(
      `egress benchmark: ${rounds} round(s) × ${seconds} s per route, ${connections} connections, ` +
        `pinning ${PINNING.enabled ? 'on (gateway core 1)' : 'off'}, token requests during the run: ${tokensIssued}`,
    );
    console.log('| scenario | req/s | p50 ms | p99 ms | gateway CPU µs/req | vs plain |');
    console.log('|---|---|---|---|---|---|');
    for (const scenario of SCENARIOS) {
      const runs = results.get(scenario.id);
      const cpu = median(runs.map((r) => r.cpuPerRequestUs));
      console.log(
        `| ${scenario.label} | ${Math.round(median(runs.map((r) => r.rps)))} | ${median(runs.map((r) => r.p50Ms))} | ` +
          `${median(runs.map((r) => r.p99Ms))} | ${cpu.toFixed(1)} | ${scenario.id === 'plain' ? '–' : `+${(cpu - baseline).toFixed(1)} µs`} |`,
      );
    }
  } finally {
    await stopAll();
    tokenServer?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
