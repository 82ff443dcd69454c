import type { AddressInfo, Server } from 'node:net';

/** Bind a listener; resolves with the address it got (port 0 → the free port), rejects on EADDRINUSE & co. */
export function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
