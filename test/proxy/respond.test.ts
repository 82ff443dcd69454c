import {
  Agent,
  createServer as createHttpServer,
  get,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationRefused,
  BadGateway,
  BadRequest,
  CredentialsMissing,
  ERROR_CODES,
  type GatewayError,
  GatewayTimeout,
  HeadersTooLarge,
  InsufficientScope,
  InternalError,
  InvalidClient,
  InvalidDpopProof,
  InvalidNonce,
  InvalidRequest,
  InvalidSignature,
  InvalidTimestamp,
  InvalidToken,
  NotFound,
  PayloadTooLarge,
  RequestTimeout,
  SigningFailed,
  TemporarilyUnavailable,
  UntrustedPeer,
  UseDpopNonce,
} from '../../src/errors.js';
import { type Realms, sendError, sendErrorOnSocket, toGatewayError } from '../../src/proxy/respond.js';
import { rawRequest } from '../helpers/raw-http.js';

/**
 * respond.ts is the one error → HTTP mapping (DESIGN "Client-facing statuses", docs/errors.md).
 * One row per case, over every error code: the status, the JSON body and the exact
 * `WWW-Authenticate` challenges a real client receives, through a real node:http response and
 * through the raw-socket path used for upgrades and parser errors.
 */

// A realm with a quote and a backslash: quoted-string escaping is part of the contract.
const REALMS: Realms = { oauth1: 'photos "1" \\ api', oauth2: 'api', dpopAlgorithms: 'ES256 RS256' };
const OAUTH = 'OAuth realm="photos \\"1\\" \\\\ api"';

interface Case {
  readonly name: string;
  readonly code: string;
  readonly error: () => GatewayError;
  readonly status: number;
  readonly challenges: readonly string[];
  /** Extra response headers the case must carry. */
  readonly headers?: Readonly<Record<string, string>>;
}

const bearer = (code: string, description: string, extra = '') =>
  `Bearer realm="api", error="${code}", error_description="${description}"${extra}`;

const CASES: readonly Case[] = [
  { name: 'no route', code: 'not_found', error: () => new NotFound(), status: 404, challenges: [] },
  { name: 'bad framing', code: 'bad_request', error: () => new BadRequest(), status: 400, challenges: [] },
  {
    name: 'untrusted peer',
    code: 'untrusted_peer',
    error: () => new UntrustedPeer(),
    status: 403,
    challenges: [],
  },
  {
    name: 'body too large',
    code: 'payload_too_large',
    error: () => new PayloadTooLarge(),
    status: 413,
    challenges: [],
  },
  {
    name: 'headers too large',
    code: 'headers_too_large',
    error: () => new HeadersTooLarge(),
    status: 431,
    challenges: [],
  },
  {
    name: 'slow headers',
    code: 'request_timeout',
    error: () => new RequestTimeout(),
    status: 408,
    challenges: [],
  },
  {
    name: 'no credentials, auth: any (RFC 6750 §3.1: no error code)',
    code: 'unauthorized',
    error: () => new CredentialsMissing(['oauth1', 'oauth2']),
    status: 401,
    challenges: [OAUTH, 'Bearer realm="api"'],
  },
  {
    name: 'no credentials, auth: oauth2',
    code: 'unauthorized',
    error: () => new CredentialsMissing(['oauth2']),
    status: 401,
    challenges: ['Bearer realm="api"'],
  },
  {
    name: 'OAuth1 parameter absent',
    code: 'invalid_request',
    error: () =>
      new InvalidRequest('oauth1', 'Missing OAuth protocol parameter oauth_nonce', 'parameter_absent'),
    status: 400,
    challenges: [`${OAUTH}, oauth_problem="parameter_absent"`],
  },
  {
    name: 'bearer sent twice',
    code: 'invalid_request',
    error: () => new InvalidRequest('oauth2', 'The access token must be sent by exactly one method, once'),
    status: 400,
    challenges: [bearer('invalid_request', 'The access token must be sent by exactly one method, once')],
  },
  {
    name: 'unknown consumer',
    code: 'invalid_client',
    error: () => new InvalidClient(),
    status: 401,
    challenges: [`${OAUTH}, oauth_problem="consumer_key_unknown"`],
  },
  {
    name: 'unknown OAuth1 token',
    code: 'invalid_token',
    error: () => new InvalidToken('oauth1'),
    status: 401,
    challenges: [`${OAUTH}, oauth_problem="token_rejected"`],
  },
  {
    name: 'inactive bearer token',
    code: 'invalid_token',
    error: () => new InvalidToken('oauth2'),
    status: 401,
    challenges: [bearer('invalid_token', 'The access token is not valid')],
  },
  {
    name: 'bad DPoP proof',
    code: 'invalid_dpop_proof',
    error: () => new InvalidDpopProof(),
    status: 401,
    challenges: [
      'DPoP realm="api", algs="ES256 RS256", error="invalid_dpop_proof", error_description="The DPoP proof is not valid"',
    ],
  },
  {
    name: 'DPoP nonce required (RFC 9449 §9)',
    code: 'use_dpop_nonce',
    error: () => new UseDpopNonce('nonce-1'),
    status: 401,
    challenges: [
      'DPoP realm="api", algs="ES256 RS256", error="use_dpop_nonce", error_description="Resource server requires a DPoP nonce"',
    ],
    headers: { 'dpop-nonce': 'nonce-1' },
  },
  {
    name: 'bad signature',
    code: 'invalid_signature',
    error: () => new InvalidSignature(),
    status: 401,
    challenges: [`${OAUTH}, oauth_problem="signature_invalid"`],
  },
  {
    name: 'replayed nonce',
    code: 'invalid_nonce',
    error: () => new InvalidNonce(),
    status: 401,
    challenges: [`${OAUTH}, oauth_problem="nonce_used"`],
  },
  {
    name: 'stale timestamp',
    code: 'invalid_timestamp',
    error: () => new InvalidTimestamp(),
    status: 401,
    challenges: [`${OAUTH}, oauth_problem="timestamp_refused"`],
  },
  {
    name: 'bearer lacks a scope',
    code: 'insufficient_scope',
    error: () => new InsufficientScope('oauth2', 'photos:read admin'),
    status: 403,
    challenges: [
      bearer(
        'insufficient_scope',
        'The token does not grant the scope this route requires',
        ', scope="photos:read admin"',
      ),
    ],
  },
  {
    name: 'OAuth1 token lacks a scope (no Problem Reporting name for it)',
    code: 'insufficient_scope',
    error: () => new InsufficientScope('oauth1', 'photos:read'),
    status: 403,
    challenges: [OAUTH],
  },
  {
    name: 'auth backend down',
    code: 'temporarily_unavailable',
    error: () => new TemporarilyUnavailable(new Error('redis at 10.0.0.1 refused')),
    status: 503,
    challenges: [],
    headers: { 'retry-after': '1' },
  },
  { name: 'upstream down', code: 'bad_gateway', error: () => new BadGateway(), status: 502, challenges: [] },
  {
    name: 'upstream slow',
    code: 'gateway_timeout',
    error: () => new GatewayTimeout(),
    status: 504,
    challenges: [],
  },
  {
    name: 'egress refuses a caller Authorization',
    code: 'authorization_refused',
    error: () => new AuthorizationRefused(),
    status: 400,
    challenges: [],
  },
  {
    name: 'egress signing failed',
    code: 'signing_failed',
    error: () => new SigningFailed(),
    status: 500,
    challenges: [],
  },
  {
    name: 'a bug (not a GatewayError): nothing of it leaks',
    code: 'internal_error',
    error: () => toGatewayError(new TypeError('secret-token-abc at /srv/app.js:1')),
    status: 500,
    challenges: [],
  },
  {
    name: 'internal error',
    code: 'internal_error',
    error: () => new InternalError(),
    status: 500,
    challenges: [],
  },
];

/** Statuses after which a client that sent an unread body cannot reuse the connection. */
const CLOSES = new Set([400, 413, 431]);

function expectedBody(testCase: Case, error: GatewayError): Record<string, string> {
  // RFC 6750 §3.1: a request without credentials gets no error code, in the challenge or the body.
  return testCase.code === 'unauthorized'
    ? { error_description: error.description }
    : { error: testCase.code, error_description: error.description };
}

// Keep-alive, so `Connection: close` in an answer is respond.ts's decision, not the client's.
const agent = new Agent({ keepAlive: true });
let http: Server;
let tcp: TcpServer;
let httpPort: number;
let tcpPort: number;

beforeAll(async () => {
  // The case index travels in the path; each request is answered by sendError alone.
  http = createHttpServer((req, res) => {
    const testCase = CASES[Number(req.url!.slice(1))]!;
    sendError(res, testCase.error(), REALMS, 'req-1');
  });
  tcp = createTcpServer((socket) => {
    socket.once('data', (data) => {
      const path = /^GET \/(\d+) /.exec(data.toString('latin1'))![1]!;
      sendErrorOnSocket(socket, CASES[Number(path)]!.error(), REALMS, 'req-1');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as AddressInfo).port;
  tcpPort = (tcp.address() as AddressInfo).port;
});

afterAll(async () => {
  agent.destroy();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  await new Promise((resolve) => tcp.close(resolve));
});

function fetchCase(
  index: number,
): Promise<{ status: number; headers: IncomingHttpHeaders; distinct: NodeJS.Dict<string[]>; text: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: httpPort, path: `/${index}`, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          distinct: res.headersDistinct,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    }).on('error', reject);
  });
}

describe('respond.ts maps every error code', () => {
  it('the table covers every code in ERROR_CODES', () => {
    expect(new Set(CASES.map((testCase) => testCase.code))).toEqual(new Set(ERROR_CODES));
  });

  it.each(CASES.map((testCase, index) => [testCase.name, testCase.code, index] as const))(
    '%s → %s (ServerResponse)',
    async (_name, _code, index) => {
      const testCase = CASES[index]!;
      const error = testCase.error();
      const reply = await fetchCase(index);
      expect(reply.status).toBe(testCase.status);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.headers['x-request-id']).toBe('req-1');
      expect(JSON.parse(reply.text)).toEqual(expectedBody(testCase, error));
      expect(reply.distinct['www-authenticate'] ?? []).toEqual(testCase.challenges);
      for (const [name, value] of Object.entries(testCase.headers ?? {}))
        expect(reply.headers[name]).toBe(value);
      if (testCase.headers?.['retry-after'] === undefined)
        expect(reply.headers['retry-after']).toBeUndefined();
      if (testCase.headers?.['dpop-nonce'] === undefined) expect(reply.headers['dpop-nonce']).toBeUndefined();
      expect(reply.headers['connection']).toBe(CLOSES.has(testCase.status) ? 'close' : 'keep-alive');
      // Descriptions are fixed texts: a cause never reaches the client.
      expect(reply.text).not.toMatch(/secret|10\.0\.0\.1|\/srv\//);
    },
  );

  it.each(CASES.map((testCase, index) => [testCase.name, testCase.code, index] as const))(
    '%s → %s (raw socket, then close)',
    async (_name, _code, index) => {
      const testCase = CASES[index]!;
      const error = testCase.error();
      const reply = await rawRequest(tcpPort, `GET /${index} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(reply.status).toBe(testCase.status);
      expect(reply.closed).toBe(true);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.headers['x-request-id']).toBe('req-1');
      expect(JSON.parse(reply.body)).toEqual(expectedBody(testCase, error));
      expect(
        reply.headerList.filter(([name]) => name === 'www-authenticate').map(([, value]) => value),
      ).toEqual(testCase.challenges);
      for (const [name, value] of Object.entries(testCase.headers ?? {}))
        expect(reply.headers[name]).toBe(value);
    },
  );
});
