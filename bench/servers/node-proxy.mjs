import { Agent, createServer } from 'node:http';

/**
 * Minimal reverse proxy on a node-http-proxy style library, configured the way its docs recommend
 * for production: a keep-alive agent to the upstream (without it every request opens a new
 * upstream connection and the comparison would be unfair to the library) and `xfwd` so it does
 * the same X-Forwarded-* work as the gateway. Upstream errors answer 502.
 *
 *   node bench/servers/node-proxy.mjs --lib http-proxy|http-proxy-3 --port P --target http://127.0.0.1:U
 */

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const lib = arg('lib', 'http-proxy');
if (lib !== 'http-proxy' && lib !== 'http-proxy-3') throw new Error(`unknown --lib ${lib}`);
const port = Number(arg('port', '8081'));
const target = arg('target', 'http://127.0.0.1:3000');

const module = await import(lib);
const createProxyServer = module.createProxyServer ?? module.default.createProxyServer;
const proxy = createProxyServer({
  target,
  xfwd: true,
  agent: new Agent({ keepAlive: true, maxSockets: 256 }),
});
proxy.on('error', (_error, _req, res) => {
  if (res && !res.headersSent && typeof res.writeHead === 'function') {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":"bad_gateway"}');
  } else res?.destroy?.();
});

createServer({ keepAliveTimeout: 5_000 }, (req, res) => proxy.web(req, res)).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
