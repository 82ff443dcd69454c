#!/usr/bin/env node
// Example upstream for trying the gateway: answers every request with a JSON echo of what it
// received (method, path, headers, body length), so you can see the identity headers the gateway
// injected and the ones it stripped. Listens on 127.0.0.1 only: upstreams behind the gateway must
// never be reachable directly.
import { createServer } from 'node:http';

const port = Number(process.env.ECHO_PORT ?? process.argv[2] ?? 3000);

export function createEchoServer() {
  return createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      const body = JSON.stringify(
        { method: req.method, url: req.url, headers: req.headers, bodyBytes: bytes },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  createEchoServer().listen(port, '127.0.0.1', () => {
    console.log(`echo upstream listening on http://127.0.0.1:${port}`);
  });
}
