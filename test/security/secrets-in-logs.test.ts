import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAuthorizationHeader, signOAuth1Params } from '../../src/oauth1-client/sign.js';
import { percentEncode } from '../../src/verify/oauth1/encoding.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { BEARER, CONSUMER, credentialsFile, TOKEN } from './helpers/credentials.js';
import { builtGatewayAvailable, spawnGateway } from './helpers/spawned-gateway.js';
import { Tally } from './helpers/tally.js';

/**
 * Secrets in logs: the real CLI at LOG_LEVEL=debug handles signed OAuth1 requests (header, query
 * and form placement), bearer tokens (header and query), failures of every kind, introspection
 * (with its client secret) and a reload; then every byte it printed is searched for every secret
 * used, raw and in the encodings it travelled in.
 */

const INTROSPECTION_SECRET = 'introspection-secret-Hv93kQ2z';
const INTROSPECTED_TOKEN = 'introspectedTokenPq81Zx4Lm';
const SECOND_BEARER = 'reloadedBearerTokenWc27Nf0';

describe.skipIf(!builtGatewayAvailable())('secrets in logs', () => {
  let upstream: TestUpstream;
  let introspection: Server;
  let introspectionUrl: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    introspection = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const token = new URLSearchParams(body).get('token');
        if (token === INTROSPECTED_TOKEN) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ active: true, client_id: 'ic', scope: 'read', exp: 4102444800 }));
        } else if (token?.startsWith('failing')) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`internal error for ${token}`);
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"active":false}');
        }
      });
    });
    await new Promise<void>((resolve) => introspection.listen(0, '127.0.0.1', resolve));
    introspectionUrl = `http://127.0.0.1:${(introspection.address() as AddressInfo).port}/introspect`;
  });
  afterAll(async () => {
    await upstream?.close();
    introspection?.closeAllConnections();
    await new Promise<void>((resolve) => introspection?.close(() => resolve()));
  });

  it('prints no token, secret or signature at debug level', async () => {
    const config = {
      oauth2: {
        tokenSources: ['store', 'introspection'],
        allowQueryToken: true,
        introspection: { url: introspectionUrl, clientId: 'gateway', clientSecret: INTROSPECTION_SECRET },
      },
      routes: [
        { name: 'signed', match: { pathPrefix: '/signed' }, upstream: upstream.url, auth: 'oauth1' },
        { name: 'bearer', match: { pathPrefix: '/bearer' }, upstream: upstream.url, auth: 'oauth2' },
        {
          name: 'scoped',
          match: { pathPrefix: '/scoped' },
          upstream: upstream.url,
          auth: 'oauth2',
          scopes: ['admin'],
        },
      ],
    };
    const gw = await spawnGateway({ config, credentials: credentialsFile(), env: { LOG_LEVEL: 'debug' } });
    const agent = new Agent({ keepAliveTimeout: 1_000 });
    const secrets = new Set<string>([
      CONSUMER.clientSecret,
      TOKEN.token,
      TOKEN.tokenSecret,
      BEARER.accessToken,
      INTROSPECTION_SECRET,
      INTROSPECTED_TOKEN,
      SECOND_BEARER,
    ]);
    const statuses: number[] = [];
    const send = async (
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: string,
    ) => {
      const res = await agent.request({
        origin: gw.url,
        path,
        method: method as 'GET',
        headers,
        body: body ?? null,
      });
      await res.body.dump();
      statuses.push(res.statusCode);
      return res.statusCode;
    };
    const host = `127.0.0.1:${gw.port}`;
    const sign = (
      method: string,
      target: string,
      extra: Record<string, string> = {},
      tokenSecret: string = TOKEN.tokenSecret,
    ) => {
      const params = signOAuth1Params({
        method,
        url: `http://${host}${target}`,
        consumerKey: CONSUMER.clientId,
        consumerSecret: CONSUMER.clientSecret,
        token: TOKEN.token,
        tokenSecret,
        ...extra,
      });
      const signature = params.find(([n]) => n === 'oauth_signature')![1];
      secrets.add(signature);
      return params;
    };
    try {
      // OAuth1: header placement, valid.
      for (let i = 0; i < 3; i++) {
        const target = `/signed/photos?file=vacation.jpg&i=${i}`;
        expect(
          await send('GET', target, { authorization: formatAuthorizationHeader(sign('GET', target)) }),
        ).toBe(200);
      }
      // OAuth1: query placement (RFC 5849 §3.5.3), valid.
      {
        const target = '/signed/q';
        const params = sign('GET', target);
        const query = params.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&');
        await send('GET', `${target}?${query}`);
      }
      // OAuth1: form body placement (§3.5.2).
      {
        const target = '/signed/form';
        const params = sign('POST', target, {});
        const form = params.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&');
        await send('POST', target, { 'content-type': 'application/x-www-form-urlencoded' }, form);
      }
      // OAuth1 failures: wrong token secret (bad signature), replayed nonce, unknown token.
      {
        const target = '/signed/bad';
        const bad = sign('GET', target, {}, 'not-the-secret');
        expect(await send('GET', target, { authorization: formatAuthorizationHeader(bad) })).toBe(401);
        const good = formatAuthorizationHeader(sign('GET', target));
        await send('GET', target, { authorization: good });
        expect(await send('GET', target, { authorization: good })).toBe(401);
        const unknown = signOAuth1Params({
          method: 'GET',
          url: `http://${host}${target}`,
          consumerKey: CONSUMER.clientId,
          consumerSecret: CONSUMER.clientSecret,
          token: 'unknownTokenSecretish77',
          tokenSecret: 'unknown-token-secret-88',
        });
        secrets.add('unknownTokenSecretish77').add('unknown-token-secret-88');
        secrets.add(unknown.find(([n]) => n === 'oauth_signature')![1]);
        expect(await send('GET', target, { authorization: formatAuthorizationHeader(unknown) })).toBe(401);
      }
      // Bearer: header, query, wrong scope, unknown, malformed, introspected, introspection failing.
      expect(await send('GET', '/bearer/x', { authorization: `Bearer ${BEARER.accessToken}` })).toBe(200);
      expect(await send('GET', `/bearer/x?access_token=${BEARER.accessToken}`)).toBe(200);
      expect(await send('GET', '/scoped/x', { authorization: `Bearer ${BEARER.accessToken}` })).toBe(403);
      secrets.add('unknownBearerTokenYt55');
      expect(await send('GET', '/bearer/x', { authorization: 'Bearer unknownBearerTokenYt55' })).toBe(401);
      secrets.add('malformedSecret');
      expect(await send('GET', '/bearer/x', { authorization: 'Bearer malformedSecret ,,' })).toBe(400);
      expect(await send('GET', '/bearer/x', { authorization: `Bearer ${INTROSPECTED_TOKEN}` })).toBe(200);
      secrets.add('failingTokenGh31');
      expect(await send('GET', '/bearer/x', { authorization: 'Bearer failingTokenGh31' })).toBe(503);
      secrets.add('twoMethodsTokenKk9');
      expect(
        await send('GET', '/bearer/x?access_token=twoMethodsTokenKk9', {
          authorization: 'Bearer twoMethodsTokenKk9',
        }),
      ).toBe(400);
      // A reload that adds a token, then that token in use.
      await gw.writeCredentials(
        credentialsFile([{ accessToken: SECOND_BEARER, clientId: 'c2', issuedAt: 1, expiresIn: 0 }]),
      );
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/"msg":"configuration reloaded"/);
      expect(await send('GET', '/bearer/x', { authorization: `Bearer ${SECOND_BEARER}` })).toBe(200);
      // An invalid reload too: its error report must not echo the secrets it contains either.
      await gw.writeCredentials({
        clients: [{ clientId: 'x', clientSecret: CONSUMER.clientSecret, bogus: TOKEN.tokenSecret }],
      });
      gw.child.kill('SIGHUP');
      await gw.waitForLog(/"msg":"configuration reload rejected/);

      gw.child.kill('SIGTERM');
      await gw.exited;
      const output = gw.output();
      if (process.env['SHOW_GATEWAY_OUTPUT']) console.log(output);
      const tally = new Tally('secrets-in-logs');
      for (const secret of secrets) {
        const forms = new Set([
          secret,
          percentEncode(secret),
          encodeURIComponent(secret),
          Buffer.from(secret).toString('base64'),
          Buffer.from(`gateway:${secret}`).toString('base64'),
          JSON.stringify(secret).slice(1, -1),
        ]);
        for (const form of forms) {
          if (form.length >= 8 && output.includes(form))
            tally.bypass(`found ${JSON.stringify(form)} in the output`);
          else tally.reject();
        }
      }
      tally.report({
        secrets: secrets.size,
        outputLines: output.split('\n').length,
        requests: statuses.length,
      });
      expect(tally.findings).toEqual([]);
      // The scan had something to scan: debug logging really was on and requests were logged.
      expect((output.match(/"msg":"request"/g) ?? []).length).toBe(statuses.length);
    } finally {
      await agent.close();
      await gw.dispose();
    }
  });
  it('egress: no consumer/token/client secret, signature or access token at debug level', async () => {
    const CONSUMER_SECRET = 'egress-consumer-secret-Qw83';
    const TOKEN_SECRET = 'egress-token-secret-Zp47';
    const OAUTH1_TOKEN = 'egressOAuth1TokenMv52';
    const CLIENT_SECRET = 'egress-client-secret-Lk09';
    const POST_SECRET = 'egress-post-secret-Rt61';
    const issued: string[] = [];
    // A token endpoint that checks the client's credentials and issues a new token every time;
    // under /fail it misbehaves and echoes the credentials it got in a 500 body.
    const tokenEndpoint = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        if (req.url === '/fail') {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`cannot issue for ${req.headers.authorization} ${body}`);
          return;
        }
        const token = `egressIssuedAccessToken${issued.length}Xy`;
        issued.push(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((resolve) => tokenEndpoint.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}`;
    const api = await startUpstream((req, res, record) => {
      const reply = () => {
        const status = record.url.includes('/reject') ? 401 : 200;
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      };
      if (req.readableEnded) reply();
      else req.once('end', reply);
    });
    const oauth1 = (placement: string) => ({
      oauth1: {
        consumerKey: 'egress-consumer',
        consumerSecret: CONSUMER_SECRET,
        token: OAUTH1_TOKEN,
        tokenSecret: TOKEN_SECRET,
        placement,
      },
    });
    const oauth2 = (path: string, extra: Record<string, unknown> = {}) => ({
      oauth2: {
        tokenUrl: `${tokenUrl}${path}`,
        clientId: 'egress-client',
        clientSecret: CLIENT_SECRET,
        ...extra,
      },
    });
    const route = (name: string, sign: unknown) => ({
      name,
      match: { pathPrefix: `/${name}` },
      upstream: api.url,
      sign,
    });
    const gw = await spawnGateway({
      config: {
        egress: {
          listen: { host: '127.0.0.1', port: 0 },
          routes: [
            route('header', oauth1('header')),
            route('query', oauth1('query')),
            route('body', oauth1('body')),
            route('basic', oauth2('/token')),
            route('post', {
              oauth2: {
                tokenUrl: `${tokenUrl}/token`,
                clientId: 'egress-post',
                clientSecret: POST_SECRET,
                authMethod: 'client_secret_post',
              },
            }),
            route('failing', oauth2('/fail')),
          ],
        },
      },
      env: { LOG_LEVEL: 'debug' },
    });
    const agent = new Agent({ keepAliveTimeout: 1_000 });
    const statuses: number[] = [];
    const send = async (
      method: string,
      path: string,
      headers: Record<string, string> = {},
      body?: string,
    ) => {
      const res = await agent.request({
        origin: `http://127.0.0.1:${gw.egressPort}`,
        path,
        method: method as 'GET',
        headers,
        body: body ?? null,
      });
      await res.body.dump();
      statuses.push(res.statusCode);
      return res.statusCode;
    };
    try {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      expect(await send('GET', '/header/a?x=1', { authorization: 'Bearer appOwnSecretTokenHh72' })).toBe(200);
      expect(await send('GET', '/query/a?x=1')).toBe(200);
      expect(await send('POST', '/body/a', form, 'text=hello')).toBe(200);
      expect(await send('POST', '/header/a', form, 'text=hello')).toBe(200);
      expect(await send('GET', '/header/a?oauth_token=appOauthParamSecret88')).toBe(400);
      expect(await send('GET', '/basic/a')).toBe(200);
      expect(await send('GET', '/basic/reject')).toBe(401); // retried once with a renewed token
      expect(await send('GET', '/post/a')).toBe(200);
      expect(await send('GET', '/failing/a')).toBe(503);
      gw.child.kill('SIGTERM');
      await gw.exited;
      const output = gw.output();
      if (process.env['SHOW_GATEWAY_OUTPUT']) console.log(output);

      const secrets = new Set<string>([
        CONSUMER_SECRET,
        TOKEN_SECRET,
        OAUTH1_TOKEN,
        CLIENT_SECRET,
        POST_SECRET,
        'appOwnSecretTokenHh72',
        'appOauthParamSecret88',
        ...issued,
      ]);
      expect(issued.length).toBeGreaterThanOrEqual(3);
      // Every signature the API received.
      for (const record of api.requests) {
        const text = `${record.url} ${record.headers.authorization ?? ''} ${record.body.toString()}`;
        for (const match of text.matchAll(/oauth_signature(?:=|=")([^&",\s]+)/g)) {
          secrets.add(decodeURIComponent(match[1]!));
        }
      }
      expect(api.requests.length).toBeGreaterThanOrEqual(7);
      const tally = new Tally('secrets-in-logs (egress)');
      for (const secret of secrets) {
        const forms = new Set([
          secret,
          percentEncode(secret),
          encodeURIComponent(secret),
          Buffer.from(secret).toString('base64'),
          Buffer.from(`egress-client:${secret}`).toString('base64'),
          JSON.stringify(secret).slice(1, -1),
        ]);
        for (const shape of forms) {
          if (shape.length >= 8 && output.includes(shape))
            tally.bypass(`found ${JSON.stringify(shape)} in the output`);
          else tally.reject();
        }
      }
      tally.report({
        secrets: secrets.size,
        outputLines: output.split('\n').length,
        requests: statuses.length,
      });
      expect(tally.findings).toEqual([]);
      expect((output.match(/"msg":"egress"/g) ?? []).length).toBe(statuses.length);
    } finally {
      await agent.close();
      await gw.dispose();
      await api.close();
      tokenEndpoint.closeAllConnections();
      await new Promise<void>((resolve) => tokenEndpoint.close(() => resolve()));
    }
  });
});
