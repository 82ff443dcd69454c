import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * A tiny authorization server for the OAuth2 scenarios of `npm run bench`:
 *
 *   POST /introspect   RFC 7662: every token with a client Basic credential is active
 *                      ({"active":true,"client_id","scope","sub","exp"}); counts the calls
 *   GET  /jwks         the JWKS (public keys) read from --jwks FILE, for the RFC 9068 scenario
 *   GET  /stats        {"introspections": n, "jwks": n} so the run can report how often the
 *                      gateway came back (its cache should make that once per token)
 *
 *   node bench/servers/fake-as.mjs --port P --jwks FILE [--exp-seconds 3600]
 *
 * It runs on the load-generator core like the upstream: it stands for another machine.
 */

function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const port = Number(arg('port', '0'));
const jwks = Buffer.from(readFileSync(arg('jwks'), 'utf8'));
const expSeconds = Number(arg('exp-seconds', '3600'));
const counts = { introspections: 0, jwks: 0 };

function send(res, status, body) {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buffer.length });
  res.end(buffer);
}

function introspect(req, res) {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    counts.introspections++;
    if (!req.headers.authorization?.startsWith('Basic ')) return send(res, 401, { error: 'invalid_client' });
    const token = new URLSearchParams(body).get('token');
    if (!token) return send(res, 400, { error: 'invalid_request' });
    send(res, 200, {
      active: true,
      client_id: 'bench-client',
      sub: 'bench-user',
      scope: 'bench:read bench:write',
      exp: Math.floor(Date.now() / 1000) + expSeconds,
    });
  });
}

createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'POST' && path === '/introspect') return introspect(req, res);
  req.resume();
  if (path === '/jwks') {
    counts.jwks++;
    return send(res, 200, jwks);
  }
  if (path === '/stats') return send(res, 200, counts);
  send(res, 404, { error: 'not_found' });
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
