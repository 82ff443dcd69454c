#!/usr/bin/env node
// `npm start`: the echo upstream on 127.0.0.1:3000 plus the gateway on :8080 with ./gateway.yaml
// (or $OAUTH_GATEWAY_CONFIG). Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createEchoServer } from './echo-upstream/server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const echoPort = Number(process.env.ECHO_PORT ?? 3000);
const echo = createEchoServer();
echo.listen(echoPort, '127.0.0.1', () => {
  const gateway = spawn(process.execPath, ['dist/main.js', 'run', ...process.argv.slice(2)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { UPSTREAM_URL: `http://127.0.0.1:${echoPort}`, ...process.env },
  });
  const port = process.env.PORT ?? 8080;
  console.log(`
  echo upstream  http://127.0.0.1:${echoPort}
  gateway        http://127.0.0.1:${port}   (admin: http://127.0.0.1:${process.env.ADMIN_PORT ?? 9090}/healthz)

  try:
    curl -s http://127.0.0.1:${port}/public/hello
    curl -si http://127.0.0.1:${port}/photos/1                          # 401 + OAuth challenge
    curl -s http://127.0.0.1:${port}/api/me -H 'Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA'
    eval "$(node dist/main.js sign --consumer-key dpf43f3p2l4k3l03 --consumer-secret kd94hf93k423kf44 \\
        --token nnch734d00sl2jdk --token-secret pfkkdhi9sl3r4s00 --curl GET http://127.0.0.1:${port}/photos/1)"
`);
  const stop = (signal) => {
    gateway.kill(signal);
    echo.close();
  };
  process.on('SIGINT', () => stop('SIGTERM'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  gateway.on('exit', (code) => {
    echo.close();
    process.exit(code ?? 0);
  });
});
