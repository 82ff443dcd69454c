import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now, for the few servers that must be told a port up front
 * (redis-server, nginx, caddy, a spawned gateway restarted on the same port). Servers of our own
 * listen on port 0 instead.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
