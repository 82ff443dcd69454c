import cluster from 'node:cluster';
import { createServer } from 'node:http';

/**
 * The benchmark upstream: node:http answering every request with the same small JSON body, as
 * cheaply as node:http allows (precomputed body buffer, no routing). Single process by default
 * (`--workers N` forks a cluster) so it can share core 0 with the load generator while a proxy
 * has core 1 to itself.
 *
 *   node bench/servers/upstream.mjs --port 3000 [--workers 1]
 */

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const port = Number(arg('port', '3000'));
const workers = Number(arg('workers', '1'));
const BODY = Buffer.from(JSON.stringify({ ok: true, id: 42, name: 'benchmark', tags: ['a', 'b'] }));

function serve() {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // Drain any request body, then answer.
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve();
}
