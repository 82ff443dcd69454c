import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../helpers/upstream.js';
import { BEARER, credentialsFile, oauth1Authorization, TOKEN } from './helpers/credentials.js';
import { mapConcurrent, Tally } from './helpers/tally.js';

/**
 * Identity-header spoofing (the APISIX class): a client sends its own X-OAuth-User & co. hoping the
 * upstream trusts them. Every inbound copy must be gone before the gateway adds its own — any case,
 * duplicated, `_` for `-`, whitespace around the value, in chunked trailers, and for the
 * `identity.strip` extras — on OAuth1, bearer and `auth: none` routes alike. The oracle is what the
 * upstream actually received (rawHeaders and rawTrailers), never what the gateway meant to send.
 */

const MARK = 'spoofed';
const IDENTITY_NAMES = ['X-OAuth-User', 'X-OAuth-Client-Id', 'X-OAuth-Scope', 'X-OAuth-Method'];
const STRIP_EXTRAS = ['X-Tenant-Id', 'X-Internal-Role'];

/** Every spelling an upstream (or a CGI/WSGI layer) could read as the same header. */
function spellings(name: string): string[] {
  const lower = name.toLowerCase();
  const underscored = name.replaceAll('-', '_');
  const mixedSeparators = name.replace('-', '_');
  const alternating = [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
  return [
    name,
    lower,
    name.toUpperCase(),
    alternating,
    underscored,
    underscored.toLowerCase(),
    underscored.toUpperCase(),
    mixedSeparators,
    mixedSeparators.toLowerCase(),
  ];
}

interface Variant {
  readonly label: string;
  /** Header lines (without CRLF) carrying the spoofed values. */
  readonly lines: readonly string[];
  /** Send the lines as chunked trailers instead of headers. */
  readonly trailers?: boolean;
}

function variants(): Variant[] {
  const out: Variant[] = [];
  for (const name of [...IDENTITY_NAMES, ...STRIP_EXTRAS]) {
    for (const spelling of spellings(name)) {
      out.push({ label: `${spelling}`, lines: [`${spelling}: ${MARK}-1`] });
      out.push({ label: `${spelling} ×2`, lines: [`${spelling}: ${MARK}-1`, `${spelling}: ${MARK}-2`] });
      out.push({
        label: `${spelling} + lower-case duplicate`,
        lines: [`${spelling}: ${MARK}-1`, `${name.toLowerCase()}: ${MARK}-2`],
      });
      out.push({ label: `${spelling} leading/trailing space`, lines: [`${spelling}:    ${MARK}-ws   `] });
      out.push({ label: `${spelling} tabs`, lines: [`${spelling}:\t${MARK}-tab\t`] });
      out.push({ label: `${spelling} empty then value`, lines: [`${spelling}:`, `${spelling}: ${MARK}-e`] });
      out.push({ label: `${spelling} in trailers`, lines: [`${spelling}: ${MARK}-t`], trailers: true });
    }
    // Shapes Node's strict parser refuses (space before the colon, obs-fold): must not pass either.
    out.push({ label: `${name} space before colon`, lines: [`${name} : ${MARK}-sp`] });
    out.push({ label: `${name} obs-fold`, lines: [`${name}: ok`, ` ${MARK}-fold`] });
    out.push({ label: `${name} comma list`, lines: [`${name}: ${MARK}-a, ${MARK}-b`] });
  }
  // Connection-nominated: naming an identity header as hop-by-hop must not keep a client copy.
  out.push({
    label: 'Connection names X-OAuth-User',
    lines: ['Connection: X-OAuth-User', `X-OAuth-User: ${MARK}-c`],
  });
  return out;
}

type Auth = 'none' | 'oauth1' | 'bearer';

describe('identity header spoofing', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;
  const trailersOf = new Map<RecordedRequest, string[]>();

  beforeAll(async () => {
    upstream = await startUpstream((req, res, record) => {
      req.resume();
      req.once('end', () => {
        trailersOf.set(record, [...req.rawTrailers]);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
    gw = await startTestGateway({
      config: {
        identity: { strip: STRIP_EXTRAS },
        routes: [
          { name: 'public', match: { pathPrefix: '/public' }, upstream: upstream.url, auth: 'none' },
          { name: 'signed', match: { pathPrefix: '/signed' }, upstream: upstream.url, auth: 'oauth1' },
          { name: 'bearer', match: { pathPrefix: '/bearer' }, upstream: upstream.url, auth: 'oauth2' },
        ],
      },
      credentials: credentialsFile(),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  function build(variant: Variant, auth: Auth, index: number): string {
    const path = `/${auth === 'none' ? 'public' : auth === 'oauth1' ? 'signed' : 'bearer'}/item/${index}`;
    const host = `127.0.0.1:${gw.port}`;
    const head = [`POST ${path} HTTP/1.1`, `Host: ${host}`, `X-Request-Id: spoof-${auth}-${index}`];
    if (auth === 'oauth1')
      head.push(`Authorization: ${oauth1Authorization('POST', `http://${host}${path}`)}`);
    if (auth === 'bearer') head.push(`Authorization: Bearer ${BEARER.accessToken}`);
    if (variant.trailers) {
      head.push('Content-Type: text/plain', 'Transfer-Encoding: chunked', 'Trailer: X-OAuth-User');
      return `${head.join('\r\n')}\r\n\r\n5\r\nhello\r\n0\r\n${variant.lines.map((l) => `${l}\r\n`).join('')}\r\n`;
    }
    head.push(...variant.lines, 'Content-Type: text/plain', 'Content-Length: 5');
    return `${head.join('\r\n')}\r\n\r\nhello`;
  }

  /** The identity the upstream must see: exactly the verified one, or none at all. */
  const EXPECTED: Record<Auth, Record<string, string[]>> = {
    none: { 'x-oauth-user': [], 'x-oauth-client-id': [], 'x-oauth-scope': [], 'x-oauth-method': [] },
    oauth1: {
      'x-oauth-user': [TOKEN.userId],
      'x-oauth-client-id': [TOKEN.clientId],
      'x-oauth-scope': [TOKEN.scope],
      'x-oauth-method': ['oauth1'],
    },
    bearer: {
      'x-oauth-user': [BEARER.userId],
      'x-oauth-client-id': [BEARER.clientId],
      'x-oauth-scope': [BEARER.scope],
      'x-oauth-method': ['oauth2'],
    },
  };

  it('never lets a client-supplied identity value reach the upstream', async () => {
    const tally = new Tally('identity-spoofing');
    const cases = (['none', 'oauth1', 'bearer'] as const).flatMap((auth) =>
      variants().map((variant) => ({ auth, variant })),
    );
    const replies = await mapConcurrent(cases, 32, ({ auth, variant }, index) =>
      rawRequest(gw.port, build(variant, auth, index), { closeGraceMs: 1 }),
    );
    await Promise.all(upstream.requests.map((r) => r.settled));
    const byId = new Map<string, RecordedRequest[]>();
    for (const record of upstream.requests) {
      for (const id of receivedHeader(record, 'x-request-id'))
        byId.set(id, [...(byId.get(id) ?? []), record]);
    }
    cases.forEach(({ auth, variant }, index) => {
      const reply = replies[index]!;
      const seen = byId.get(`spoof-${auth}-${index}`) ?? [];
      const label = `${auth} / ${variant.label}`;
      if (seen.length === 0) {
        if (reply.status >= 400 && reply.status < 500) tally.reject();
        else tally.bypass(`${label}: nothing forwarded but status ${reply.status}`);
        return;
      }
      const leaks: string[] = [];
      for (const record of seen) {
        const all = [...record.rawHeaders, ...(trailersOf.get(record) ?? [])];
        for (let i = 0; i < all.length; i += 2) {
          if (all[i + 1]!.includes(MARK) || all[i]!.includes(MARK)) leaks.push(`${all[i]}: ${all[i + 1]}`);
        }
        for (const [name, values] of Object.entries(EXPECTED[auth])) {
          const got = receivedHeader(record, name);
          if (JSON.stringify(got) !== JSON.stringify(values)) leaks.push(`${name}=${JSON.stringify(got)}`);
        }
        for (const extra of STRIP_EXTRAS) {
          const got = receivedHeader(record, extra);
          if (got.length > 0) leaks.push(`${extra}=${JSON.stringify(got)}`);
        }
      }
      if (seen.length !== 1) leaks.push(`${seen.length} upstream requests`);
      if (reply.status !== 200) leaks.push(`status ${reply.status}`);
      if (leaks.length > 0) tally.bypass(`${label}: ${leaks.join('; ')}`);
      else tally.pass();
    });
    // Every upstream request belongs to exactly one variant (none arrived without our request id).
    expect(upstream.requests.length).toBe([...byId.values()].reduce((n, list) => n + list.length, 0));
    tally.report();
    expect(tally.findings).toEqual([]);
    expect(tally.bypasses).toBe(0);
    // The authenticated variants really were authenticated (a 401 everywhere would prove nothing).
    expect(tally.passed).toBeGreaterThan(tally.variants / 2);
  });
});
