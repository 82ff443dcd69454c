import { posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseHost, normaliseTarget } from '../../src/proxy/router.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../helpers/upstream.js';
import { mapConcurrent, Tally } from './helpers/tally.js';

/**
 * Route bypass (the Envoy/nginx path-normalisation class): a request-target that the router reads
 * as `/public/…` but the upstream reads as `/admin/…`, or a Host the router files under the public
 * route while it names the protected one. Sent with raw sockets so nothing is cleaned up by a
 * client library. Oracles:
 * - the protected upstream never receives an unauthenticated request;
 * - the public upstream never receives a request meant for the protected host;
 * - whatever is forwarded, the path the upstream saw is exactly the path the router judged
 *   (normaliseTarget), and one ordinary decoding of it stays inside `/public`.
 */

const PROTECTED_HOST = 'internal.example.com';

/** Paths aimed at /admin (protected) through the public prefix or sideways. */
const PATHS = [
  '/admin',
  '/admin/',
  '/admin/x',
  '//admin',
  '///admin/x',
  '/./admin',
  '/.//admin',
  '/public/../admin',
  '/public/..//admin',
  '/public/../admin/',
  '/public/x/../../admin',
  '/public/%2e%2e/admin',
  '/public/%2E%2e/admin',
  '/public/%2e%2E/admin/',
  '/public/%2E%2E/admin',
  '/public/.%2e/admin',
  '/public/%2e./admin',
  '/public/%2e%2e%2fadmin',
  '/public/..%2fadmin',
  '/public/..%2Fadmin',
  '/public%2f..%2fadmin',
  '/public/..%5cadmin',
  '/public/..%5Cadmin',
  '/public/..\\admin',
  '/public\\..\\admin',
  '/public/;/../admin',
  '/public/..;/admin',
  '/public/..;x=1/admin',
  '/public/%2e%2e;/admin',
  '/public;x/../admin',
  '/admin;x',
  '/admin;/',
  '/admin;jsessionid=1/x',
  '/public/%00/../admin',
  '/public/..%00/admin',
  '/public/%u002e%u002e/admin',
  '/public/%c0%ae%c0%ae/admin',
  '/public/%C0%AE%C0%AE/admin',
  '/public/%e0%80%ae%e0%80%ae/admin',
  '/public/%252e%252e/admin',
  '/public/%25%32%65%25%32%65/admin',
  '/public/%%32%65%%32%65/admin',
  '/public/%2/admin',
  '/public/%zz/../admin',
  '/public/..%20/admin',
  '/public/.../admin',
  '/public/....//admin',
  '/public/..#/admin',
  '/public#/../admin',
  '/public?/../admin',
  '/public/..?/admin',
  '/public/%3f/../admin',
  '/public/%23/../admin',
  '/public/%ef%bc%8e%ef%bc%8e/admin',
  '/public/%ef%bc%8fadmin',
  '/public/./../admin',
  '/public/.',
  '/public/..',
  '/public/%2e',
  '/public/%2e%2e',
  '/public/x/..',
  '/publicadmin',
  '/public/admin',
  '/PUBLIC/../admin',
  '/public/%41dmin/../../admin',
  '/%61dmin',
  '/%61%64%6d%69%6e/x',
  '/public/%2e%2e/%61dmin',
];

/** Request-targets that are not origin-form, or not even a path. */
const ODD_TARGETS = [
  'http://127.0.0.1/admin',
  `http://${PROTECTED_HOST}/public`,
  'http://other/admin',
  'HTTP://other/public/../admin',
  'http://other/public',
  'https://other:443/admin',
  '//other/admin',
  '*',
  'admin',
  'public/../admin',
  '127.0.0.1:80',
  '.',
  '..',
  '%2fadmin',
  '%2Fadmin',
];

const HOSTS = [
  PROTECTED_HOST,
  `${PROTECTED_HOST}.`,
  PROTECTED_HOST.toUpperCase(),
  'Internal.Example.Com',
  `${PROTECTED_HOST}:80`,
  `${PROTECTED_HOST}:8080`,
  `${PROTECTED_HOST}.:80`,
  `INTERNAL.EXAMPLE.COM.:443`,
  `${PROTECTED_HOST}:`,
  `${PROTECTED_HOST}..`,
  `${PROTECTED_HOST}%2e`,
  `${PROTECTED_HOST}\t`,
  ` ${PROTECTED_HOST}`,
  `user@${PROTECTED_HOST}`,
  `${PROTECTED_HOST}@other`,
  `[::1]`,
];

interface Variant {
  readonly label: string;
  readonly bytes: Buffer;
  /** Raw request-target sent, when origin-form. */
  readonly target: string;
  readonly method: string;
}

function request(id: string, method: string, target: string, hostLines: readonly string[]): Buffer {
  const head = [`${method} ${target} HTTP/1.1`, ...hostLines.map((h) => `Host: ${h}`), `X-Request-Id: ${id}`];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
}

function variants(gwHost: string): Variant[] {
  const out: Variant[] = [];
  const add = (label: string, method: string, target: string, hosts: readonly string[]) => {
    const id = `rb-${out.length}`;
    out.push({ label, bytes: request(id, method, target, hosts), target, method });
  };
  for (const method of ['GET', 'POST', 'HEAD', 'OPTIONS']) {
    for (const path of PATHS) add(`${method} ${path}`, method, path, [gwHost]);
    for (const target of ODD_TARGETS) add(`${method} ${target}`, method, target, [gwHost]);
  }
  add('OPTIONS * HTTP/1.1', 'OPTIONS', '*', [gwHost]);
  add('CONNECT authority-form', 'CONNECT', `${PROTECTED_HOST}:80`, [gwHost]);
  // Host games: the protected route is `host: internal.example.com` + `/public`.
  for (const host of HOSTS) {
    add(`Host: ${JSON.stringify(host)}`, 'GET', '/public/x', [host]);
    add(`Host: ${JSON.stringify(host)} + dot segments`, 'GET', '/public/../public/x', [host]);
  }
  add('two Host headers (public first)', 'GET', '/public/x', [gwHost, PROTECTED_HOST]);
  add('two Host headers (protected first)', 'GET', '/public/x', [PROTECTED_HOST, gwHost]);
  add('empty Host', 'GET', '/public/x', ['']);
  add('absolute-form naming the protected host', 'GET', `http://${PROTECTED_HOST}/public/x`, [gwHost]);
  // Raw bytes outside ASCII in the path (overlong UTF-8 dots, a raw NUL, a raw backslash).
  for (const [label, bytes] of [
    ['raw overlong dots', Buffer.from([0xc0, 0xae, 0xc0, 0xae])],
    ['raw fullwidth dots', Buffer.from('．．', 'utf8')],
    ['raw NUL', Buffer.from([0x00])],
    ['raw TAB', Buffer.from([0x09])],
  ] as const) {
    const id = `rb-${out.length}`;
    out.push({
      label,
      method: 'GET',
      target: `/public/${bytes.toString('latin1')}/../admin`,
      bytes: Buffer.concat([
        Buffer.from('GET /public/'),
        bytes,
        Buffer.from(`/../admin HTTP/1.1\r\nHost: ${gwHost}\r\nX-Request-Id: ${id}\r\n\r\n`),
      ]),
    });
  }
  // Requests that are not HTTP/1.1 shaped in the request line.
  for (const line of [
    'GET /public/../admin HTTP/1.0',
    'GET /public/../admin HTTP/0.9',
    'GET /public/../admin HTTP/2.0',
    'GET  /admin HTTP/1.1',
    'GET /public/ /../admin HTTP/1.1',
    'get /admin HTTP/1.1',
  ]) {
    const id = `rb-${out.length}`;
    out.push({
      label: line,
      method: 'GET',
      target: '',
      bytes: Buffer.from(`${line}\r\nHost: ${gwHost}\r\nX-Request-Id: ${id}\r\n\r\n`),
    });
  }
  return out;
}

/** What an ordinary upstream makes of a path: one percent-decoding, then dot-segment removal. */
function upstreamReading(path: string): string | undefined {
  try {
    return posix.normalize(decodeURIComponent(path));
  } catch {
    return undefined;
  }
}

function isUnder(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

describe('route bypass', () => {
  let publicUpstream: TestUpstream;
  let protectedUpstream: TestUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    publicUpstream = await startUpstream();
    protectedUpstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        routes: [
          {
            name: 'internal',
            match: { host: PROTECTED_HOST, pathPrefix: '/public' },
            upstream: protectedUpstream.url,
            auth: 'oauth2',
          },
          { name: 'admin', match: { pathPrefix: '/admin' }, upstream: protectedUpstream.url, auth: 'oauth2' },
          { name: 'public', match: { pathPrefix: '/public' }, upstream: publicUpstream.url, auth: 'none' },
        ],
      },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await publicUpstream?.close();
    await protectedUpstream?.close();
  });

  it('sends 0 unauthenticated requests to the protected upstream; routed path = upstream path', async () => {
    const tally = new Tally('route-bypass');
    const list = variants(`127.0.0.1:${gw.port}`);
    const replies = await mapConcurrent(list, 16, (variant) =>
      rawRequest(gw.port, variant.bytes, { closeGraceMs: 1, timeoutMs: 3_000 }),
    );
    await Promise.all(publicUpstream.requests.map((r) => r.settled));

    // Anything at the protected upstream is a bypass: no variant carried credentials.
    for (const record of protectedUpstream.requests) {
      tally.bypass(
        `protected upstream got ${record.method} ${record.url} (${receivedHeader(record, 'x-request-id')})`,
      );
    }
    const byId = new Map<string, RecordedRequest>();
    for (const record of publicUpstream.requests) {
      const id = receivedHeader(record, 'x-request-id')[0] ?? '';
      if (byId.has(id)) tally.bypass(`public upstream got ${id} twice`);
      byId.set(id, record);
    }
    const statuses: Record<number, number> = {};
    list.forEach((variant, index) => {
      const reply = replies[index]!;
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      const record = byId.get(`rb-${index}`);
      if (reply.status >= 500) {
        tally.bypass(`${variant.label}: ${reply.status}`);
        return;
      }
      if (record === undefined) {
        if (reply.status === 200) tally.bypass(`${variant.label}: 200 without reaching the public upstream`);
        else tally.reject();
        return;
      }
      const problems: string[] = [];
      // The router's view, recomputed: it must be a /public path with the same bytes upstream.
      let routed: ReturnType<typeof normaliseTarget> | undefined;
      try {
        routed = normaliseTarget(variant.target);
      } catch {
        problems.push('forwarded although normaliseTarget rejects the target');
      }
      if (routed !== undefined) {
        if (record.url !== routed.path + routed.query)
          problems.push(`router judged ${routed.path}${routed.query}, upstream saw ${record.url}`);
        if (!isUnder('/public', routed.path)) problems.push(`public route served ${routed.path}`);
      }
      const path = record.url.split('?')[0]!;
      const reading = upstreamReading(path);
      if (reading !== undefined && !isUnder('/public', reading))
        problems.push(`upstream decoding reads ${JSON.stringify(path)} as ${reading}`);
      const host = normaliseHost(receivedHeader(record, 'host')[0]);
      if (host === PROTECTED_HOST) problems.push(`public upstream got Host ${host}`);
      if (receivedHeader(record, 'host').length !== 1)
        problems.push(`upstream got Host ${JSON.stringify(receivedHeader(record, 'host'))}`);
      if (problems.length > 0) tally.bypass(`${variant.label}: ${problems.join('; ')}`);
      else tally.pass();
    });
    tally.report({ statuses: JSON.stringify(statuses) });
    expect(tally.findings).toEqual([]);
    expect(tally.bypasses).toBe(0);
    expect(protectedUpstream.requests).toHaveLength(0);
    // The attack surface was exercised: some variants were served by the public route, most refused.
    expect(tally.passed).toBeGreaterThan(10);
    expect(tally.rejected).toBeGreaterThan(100);
  });

  it('regression: two Host headers are a 400, not routed by the first and forwarded with both', async () => {
    const before = publicUpstream.requests.length + protectedUpstream.requests.length;
    for (const hosts of [
      ['127.0.0.1', PROTECTED_HOST],
      [PROTECTED_HOST, '127.0.0.1'],
      ['127.0.0.1', '127.0.0.1'],
    ]) {
      const reply = await rawRequest(gw.port, request('two-hosts', 'GET', '/public/x', hosts), {
        closeGraceMs: 50,
      });
      expect(reply.status).toBe(400);
      expect(reply.closed).toBe(true);
    }
    expect(publicUpstream.requests.length + protectedUpstream.requests.length).toBe(before);
  });

  it('the protected routes are live: a bearer-less request is refused, not 404', async () => {
    const admin = await rawRequest(gw.port, `GET /admin HTTP/1.1\r\nHost: x\r\n\r\n`, { closeGraceMs: 1 });
    const internal = await rawRequest(gw.port, `GET /public/x HTTP/1.1\r\nHost: ${PROTECTED_HOST}\r\n\r\n`, {
      closeGraceMs: 1,
    });
    expect([admin.status, internal.status]).toEqual([401, 401]);
  });
});

describe('regression: path parameters (`/admin;x/secret`) cannot skip a protected route', () => {
  // Tomcat/Spring drop `;params` before mapping, so `/admin;x/secret` IS `/admin/secret` upstream.
  // Matching routes on the raw segment let it miss `/admin` and fall to a public catch-all.
  let gateway: TestGateway;
  let catchAll: TestUpstream;
  let admin: TestUpstream;

  beforeAll(async () => {
    catchAll = await startUpstream();
    admin = await startUpstream();
    gateway = await startTestGateway({
      config: {
        routes: [
          { name: 'admin', match: { pathPrefix: '/admin' }, upstream: admin.url, auth: 'oauth2' },
          { name: 'site', match: { pathPrefix: '/' }, upstream: catchAll.url, auth: 'none' },
        ],
      },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await catchAll?.close();
    await admin?.close();
  });

  it.each([
    '/admin;x/secret',
    '/admin;jsessionid=0123/secret',
    '/admin;',
    '/admin;a;b=c/x;y',
    '/x/../admin;x/secret',
    '/%61dmin;x/secret',
  ])('%s is judged by the /admin route (401), never served by the catch-all', async (target) => {
    const reply = await rawRequest(gateway.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, {
      closeGraceMs: 1,
    });
    expect(reply.status).toBe(401);
    expect(catchAll.requests).toHaveLength(0);
    expect(admin.requests).toHaveLength(0);
  });

  it('a public path with parameters is still forwarded with them', async () => {
    const reply = await rawRequest(gateway.port, `GET /shop;jsessionid=1/cart HTTP/1.1\r\nHost: x\r\n\r\n`, {
      closeGraceMs: 1,
    });
    expect(reply.status).toBe(200);
    expect(catchAll.requests.at(-1)?.url).toBe('/shop;jsessionid=1/cart');
  });
});
