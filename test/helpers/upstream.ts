import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real upstream for gateway tests: node:http on 127.0.0.1, port 0. Every request it receives is
 * recorded (method, url, raw headers, body) so a test can assert what the gateway actually sent,
 * not what it meant to send. Without a handler it echoes the request as JSON.
 */

export interface RecordedRequest {
  readonly method: string;
  /** The request-target exactly as the upstream received it. */
  readonly url: string;
  /** Flat [name, value, …] list as received: case and duplicates preserved. */
  readonly rawHeaders: readonly string[];
  readonly headers: IncomingHttpHeaders;
  /** `performance.now()` when the request head arrived. */
  readonly receivedAt: number;
  /** Which upstream connection carried it (1, 2, … in accept order): what one connection was made to mean. */
  readonly connectionId: number;
  /** Body bytes received so far (kept only when `keepBodies` is on, the default). */
  body: Buffer;
  /** Body byte count so far, counted even when bodies are not kept. */
  bodyLength: number;
  /** `performance.now()` of the first body chunk, if any arrived. */
  firstBodyByteAt: number | undefined;
  /** The request body ended normally. */
  complete: boolean;
  /** The connection closed before the response was finished (the gateway cancelled it). */
  aborted: boolean;
  /** Resolves once the exchange is over: response finished or connection closed. */
  readonly settled: Promise<void>;
}

/** Custom behaviour. The body is still recorded; call `res.end()` yourself (or never, to hang). */
export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, record: RecordedRequest) => void;

export interface UpstreamOptions {
  /** Keep body bytes in `record.body` (default true). Turn off for large bodies: only count them. */
  readonly keepBodies?: boolean;
}

export interface TestUpstream {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Resolves with the n-th request (1-based count) once that many have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

/** JSON shape of the default echo response. */
export interface EchoBody {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyLength: number;
}

const echo: UpstreamHandler = (req, res, record) => {
  const reply = () => {
    const payload = JSON.stringify({
      method: record.method,
      url: record.url,
      headers: record.headers,
      rawHeaders: [...record.rawHeaders],
      bodyLength: record.bodyLength,
    } satisfies EchoBody);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  };
  if (req.readableEnded) reply();
  else req.once('end', reply);
};

export async function startUpstream(
  handler: UpstreamHandler = echo,
  options: UpstreamOptions = {},
): Promise<TestUpstream> {
  const keepBodies = options.keepBodies ?? true;
  const requests: RecordedRequest[] = [];
  const waiters: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const connectionIds = new WeakMap<Socket, number>();
  let connections = 0;

  const server = createServer((req, res) => {
    let settle!: () => void;
    const record: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: [...req.rawHeaders],
      headers: req.headers,
      receivedAt: performance.now(),
      connectionId: connectionIds.get(req.socket) ?? 0,
      body: Buffer.alloc(0),
      bodyLength: 0,
      firstBodyByteAt: undefined,
      complete: false,
      aborted: false,
      settled: new Promise<void>((resolve) => {
        settle = resolve;
      }),
    };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      record.firstBodyByteAt ??= performance.now();
      record.bodyLength += chunk.length;
      if (keepBodies) chunks.push(chunk);
    });
    req.once('end', () => {
      record.complete = true;
      if (keepBodies) record.body = Buffer.concat(chunks);
    });
    res.once('close', () => {
      if (!res.writableFinished) record.aborted = true;
      settle();
    });
    requests.push(record);
    for (const wake of waiters.splice(0)) wake();
    handler(req, res, record);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    connectionIds.set(socket, ++connections);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    async waitForRequests(count, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`upstream saw ${requests.length} of ${count} expected requests`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return requests.slice(0, count);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

/** Header values the upstream received under `name`, any case, in order (from rawHeaders). */
export function receivedHeader(record: RecordedRequest, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (let i = 0; i < record.rawHeaders.length; i += 2) {
    if (record.rawHeaders[i]!.toLowerCase() === wanted) values.push(record.rawHeaders[i + 1]!);
  }
  return values;
}
