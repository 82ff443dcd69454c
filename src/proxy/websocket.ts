import { type IncomingMessage, request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BadGateway, BadRequest, GatewayTimeout } from '../errors.js';

/**
 * WebSocket upgrades pass the same route + auth as plain requests; once the upstream answers 101 the
 * two sockets are spliced. A non-101 answer is relayed as-is and both connections are closed.
 *
 * Every attempt gets its own upstream connection (`agent: false`), never a pooled one: after a
 * refused upgrade the upstream's view of that connection is whatever the client made of it, and a
 * reused connection is how one client's bytes become another request (request-smuggling.test.ts,
 * "upgrade with a body"). The server only lets bodiless GET websocket handshakes get this far.
 */

const WEBSOCKET = 'websocket';

/**
 * Only a WebSocket opening handshake may become an upgrade (RFC 6455 §4.1: GET, HTTP/1.1, `Upgrade:
 * websocket`), and it must carry no body: Node hands an upgrade request over with its body still
 * unread on the socket, so a body here would be sent to the upstream as the start of the next
 * request. Any other `Upgrade` (h2c, TLS/1.0, several tokens) is refused rather than forwarded.
 */
export function assertWebSocketHandshake(req: IncomingMessage): void {
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== WEBSOCKET) {
    throw new BadRequest('Only WebSocket upgrades are supported');
  }
  if (req.method !== 'GET' || req.httpVersion !== '1.1') {
    throw new BadRequest('A WebSocket handshake is an HTTP/1.1 GET');
  }
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
    throw new BadRequest('An upgrade request cannot carry a body');
  }
}

export interface UpgradeTarget {
  readonly origin: string;
  readonly path: string;
  /** Flat [name, value, …] list, already filtered by headers.ts (Upgrade kept). */
  readonly headers: string[];
  readonly timeoutMs: number;
}

const HOP_BY_HOP_RESPONSE = new Set(['connection', 'transfer-encoding', 'keep-alive', 'content-length']);

function rawHead(statusLine: string, rawHeaders: readonly string[]): string {
  let head = `${statusLine}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

export function proxyUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: UpgradeTarget,
): Promise<number> {
  const url = new URL(target.origin);
  const send = url.protocol === 'https:' ? requestTls : request;
  return new Promise<number>((resolve, reject) => {
    const upstreamReq = send({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      method: req.method,
      path: target.path,
      headers: target.headers,
      timeout: target.timeoutMs,
      agent: false,
    });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    upstreamReq.once('timeout', () => {
      upstreamReq.destroy();
      fail(new GatewayTimeout());
    });
    upstreamReq.once('error', (error) => fail(new BadGateway(error)));
    client.once('close', () => upstreamReq.destroy());

    upstreamReq.once('upgrade', (res, upstreamSocket: Socket, upstreamHead: Buffer) => {
      settled = true;
      upstreamSocket.setTimeout(0);
      client.write(rawHead(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.on('error', () => client.destroy());
      client.on('error', () => upstreamSocket.destroy());
      upstreamSocket.once('close', () => client.destroy());
      client.once('close', () => upstreamSocket.destroy());
      upstreamSocket.pipe(client);
      client.pipe(upstreamSocket);
      resolve(res.statusCode ?? 101);
    });

    upstreamReq.once('response', (res) => {
      // The upstream refused the upgrade: relay its answer and close.
      settled = true;
      const kept: string[] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i]!;
        if (!HOP_BY_HOP_RESPONSE.has(name.toLowerCase())) kept.push(name, res.rawHeaders[i + 1]!);
      }
      // Body delimited by closing the connection: the decoded body has no chunk framing left.
      kept.push('connection', 'close');
      client.write(rawHead(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, kept));
      // This upstream connection is never reused, whatever its keep-alive said.
      const upstreamSocket = res.socket;
      const dropUpstream = () => upstreamSocket.destroy();
      res.once('end', dropUpstream);
      res.once('error', dropUpstream);
      res.pipe(client);
      resolve(res.statusCode ?? 0);
    });

    upstreamReq.end();
  });
}
