import { Agent, createServer, request as httpRequest } from 'node:http';

/**
 * One node:http front server, four ways to forward to the same upstream — the engine comparison
 * behind src/proxy/forward.ts. Every engine gets the same header work (hop-by-hop removed, the
 * response streamed, keep-alive to the upstream), so only the client library differs.
 *
 *   node bench/servers/engine-front.mjs --engine undici-request|undici-stream|http-proxy-3|node-agent
 *        --port P --target http://127.0.0.1:U
 */

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const engine = arg('engine', 'undici-request');
const port = Number(arg('port', '8082'));
const target = new URL(arg('target', 'http://127.0.0.1:3000'));

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function requestHeaders(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2)
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

function responseHeaders(headers) {
  const out = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

const hasBody = (req) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

function badGateway(res) {
  if (!res.headersSent) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"error":"bad_gateway"}');
  } else res.destroy();
}

async function handlerFor(name) {
  if (name === 'undici-request' || name === 'undici-stream') {
    const { Pool } = await import('undici');
    const pool = new Pool(target.origin, { keepAliveTimeout: 4_000, pipelining: 1 });
    if (name === 'undici-request') {
      // What src/proxy/forward.ts does: request() → Readable body → pipe.
      return (req, res) => {
        pool
          .request({
            method: req.method,
            path: req.url,
            headers: requestHeaders(req.rawHeaders),
            body: hasBody(req) ? req : null,
          })
          .then(
            (up) => {
              res.writeHead(up.statusCode, responseHeaders(up.headers));
              up.body.pipe(res);
            },
            () => badGateway(res),
          );
      };
    }
    // stream(): undici writes the body straight into the writable the factory returns.
    return (req, res) => {
      pool
        .stream(
          {
            method: req.method,
            path: req.url,
            headers: requestHeaders(req.rawHeaders),
            body: hasBody(req) ? req : null,
          },
          ({ statusCode, headers }) => {
            res.writeHead(statusCode, responseHeaders(headers));
            return res;
          },
        )
        .catch(() => badGateway(res));
    };
  }
  if (name === 'http-proxy-3') {
    const { createProxyServer } = await import('http-proxy-3');
    const proxy = createProxyServer({
      target: target.origin,
      agent: new Agent({ keepAlive: true, maxSockets: 256 }),
    });
    proxy.on('error', (_e, _req, res) => badGateway(res));
    return (req, res) => proxy.web(req, res);
  }
  if (name === 'node-agent') {
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    return (req, res) => {
      const upstream = httpRequest(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: requestHeaders(req.rawHeaders),
        },
        (up) => {
          res.writeHead(up.statusCode, responseHeaders(up.headers));
          up.pipe(res);
        },
      );
      upstream.on('error', () => badGateway(res));
      req.pipe(upstream);
    };
  }
  throw new Error(`unknown --engine ${name}`);
}

const handler = await handlerFor(engine);
createServer({ keepAliveTimeout: 5_000 }, handler).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
