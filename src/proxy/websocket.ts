import { type IncomingMessage, request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BadGateway, GatewayTimeout } from '../errors.js';

/**
 * WebSocket (and any HTTP/1.1 Upgrade) passes the same route + auth as plain requests; once the
 * upstream answers 101 the two sockets are spliced. A non-101 answer is relayed as-is.
 */

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
): Promise<void> {
  const url = new URL(target.origin);
  const send = url.protocol === 'https:' ? requestTls : request;
  return new Promise<void>((resolve, reject) => {
    const upstreamReq = send({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      method: req.method,
      path: target.path,
      headers: target.headers,
      timeout: target.timeoutMs,
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
      resolve();
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
      res.pipe(client);
      resolve();
    });

    upstreamReq.end();
  });
}
