import { createServer } from 'node:http';
import { Pool } from 'undici';

/**
 * The bare forwarder every Node proxy starts from (issue 21's baseline): one keep-alive undici Pool,
 * `pool.stream()` straight into the ServerResponse, no header hygiene, no routing, no logging. What
 * the gateway costs on top of this is what its own work costs.
 *
 *   node bench/servers/undici-forwarder.mjs --port P --target http://127.0.0.1:U
 */

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const port = Number(arg('port', '8081'));
const pool = new Pool(arg('target', 'http://127.0.0.1:3000'), { connections: 256, pipelining: 1 });

createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  // undici refuses these hop-by-hop headers outright; everything else passes as is.
  const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...headers } = req.headers;
  pool.stream(
    { method: req.method, path: req.url, headers, body: req.method === 'GET' ? null : req, opaque: res },
    ({ statusCode, headers, opaque }) => {
      opaque.writeHead(statusCode, headers);
      return opaque;
    },
    (error) => {
      if (error && !res.headersSent) {
        res.writeHead(502);
        res.end();
      }
    },
  );
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
