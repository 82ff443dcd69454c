import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent } from 'undici';
import { expect } from 'vitest';
import { type RecordedRequest, receivedHeader } from '../../helpers/upstream.js';

/**
 * Shared by the OAuth 2.0 and Redis end-to-end tests: a byte-exact client, challenge parsing, the
 * identity an upstream received, and a gate in front of the authorization server that counts and
 * can hold requests (so "N requests in flight, one introspection call" is observed at the AS).
 */

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  /** Milliseconds from sending to the end of the body. */
  readonly ms: number;
}

export interface SendInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Give up after this long (the request then rejects). */
  readonly timeoutMs?: number;
}

/** Unlimited connections: a burst really is concurrent at the gateway. */
export const agent = new Agent({ keepAliveTimeout: 1_000, connections: null });

/** Sends exactly `target` (origin-form, not re-escaped) to `origin` and reads the whole response. */
export async function send(origin: string, target: string, init: SendInit = {}): Promise<Reply> {
  const started = performance.now();
  const res = await agent.request({
    origin,
    path: target,
    method: (init.method ?? 'GET') as 'GET',
    headers: { ...init.headers },
    body: init.body ?? null,
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, ms: performance.now() - started };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Every WWW-Authenticate value of a reply, one per header line. */
export function challenges(reply: Reply): string[] {
  const value = reply.headers['www-authenticate'];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function errorCode(reply: Reply): unknown {
  return (JSON.parse(reply.text) as { error?: unknown }).error;
}

/** RFC 6750 §3 challenge with an error code: `Bearer realm="…", error="…"` (+ description, scope). */
export function expectBearerError(reply: Reply, status: number, error: string, realm: string): string {
  expect(reply.status).toBe(status);
  expect(errorCode(reply)).toBe(error);
  const list = challenges(reply);
  expect(list).toHaveLength(1);
  const challenge = list[0]!;
  expect(challenge.startsWith(`Bearer realm="${realm}", error="${error}"`)).toBe(true);
  return challenge;
}

/** RFC 6750 §3.1: no credentials → the bare challenge, no error attribute at all. */
export function expectBareBearerChallenge(reply: Reply, realm: string): void {
  expect(reply.status).toBe(401);
  expect(challenges(reply)).toEqual([`Bearer realm="${realm}"`]);
  expect(reply.text).not.toContain('"error"');
}

export interface ReceivedIdentity {
  user: string[];
  client: string[];
  scope: string[];
  method: string[];
  authorization: string[];
}

/** The identity headers (each as a list, to catch duplicates) an upstream request carried. */
export function receivedIdentity(record: RecordedRequest): ReceivedIdentity {
  return {
    user: receivedHeader(record, 'x-oauth-user'),
    client: receivedHeader(record, 'x-oauth-client-id'),
    scope: receivedHeader(record, 'x-oauth-scope'),
    method: receivedHeader(record, 'x-oauth-method'),
    authorization: receivedHeader(record, 'authorization'),
  };
}

export const sha256Hex = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  stepMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Status histogram, for `console.log` and for "none of these was a 200" assertions. */
export function histogram(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

// ── A gate in front of the authorization server ──────────────────────────────────────────────────

export interface AsGate {
  /** `http://127.0.0.1:<port>`: point the gateway's introspection URL here. */
  readonly url: string;
  /** Requests that arrived per path (counted on arrival, held or not). */
  count(path: string): number;
  /** From now on, hold requests to `path` until `release()`. */
  hold(path: string): void;
  /** Forward everything held and stop holding. */
  release(): void;
  /** Requests currently held. */
  held(): number;
  close(): Promise<void>;
}

/**
 * A node:http reverse proxy to the AS that counts every request by path and can hold them: with
 * introspection held, a test can put many requests in flight at the gateway and then see how many
 * introspection calls they cost.
 */
export async function startAsGate(target: string): Promise<AsGate> {
  const { hostname, port: targetPort } = new URL(target);
  const counts = new Map<string, number>();
  let holding: string | undefined;
  const queue: (() => void)[] = [];
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: hostname, port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (holding === path) queue.push(() => forward(req, res));
    else forward(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    count: (path) => counts.get(path) ?? 0,
    hold(path) {
      holding = path;
    },
    release() {
      holding = undefined;
      for (const go of queue.splice(0)) go();
    },
    held: () => queue.length,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
