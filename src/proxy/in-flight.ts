import type { Server } from 'node:net';

/**
 * The exchanges in flight on one listener, and its drain (SIGTERM). One instance per listener; it is
 * also the `drain` flag forwards read, so responses finishing during a drain carry
 * `Connection: close`.
 */
export class InFlight {
  count = 0;
  draining = false;
  #idleWaiters: (() => void)[] = [];

  started(): void {
    this.count++;
  }

  settled(): void {
    this.count--;
    if (this.count === 0 && this.#idleWaiters.length > 0) {
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /**
   * Stop accepting on `server`, let in-flight exchanges finish (bounded by `timeoutMs`), then cut
   * every connection left. Resolves true if everything finished in time.
   */
  async drain(
    server: Server & { closeIdleConnections(): void; closeAllConnections(): void },
    timeoutMs: number,
  ): Promise<boolean> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => {
        if (this.count === 0) resolve(true);
        else this.#idleWaiters.push(() => resolve(true));
      }),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
    return drained;
  }
}
