import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { createIntrospectionSource } from '../../../src/introspect/sources/introspection.js';
import type { TokenSource } from '../../../src/introspect/token-source.js';
import { basicAuthorization } from '../../../src/oauth2-client-http.js';
import { BackendFault } from '../../../src/observability/backend-failures.js';
import { freePort } from '../../helpers/ports.js';
import {
  type AuthorizationServer,
  GATEWAY_CLIENT,
  GATEWAY_POST_CLIENT,
  RESOURCES,
  SERVICE_CLIENT,
  startAuthorizationServer,
} from '../helpers/authorization-server.js';
import { oauth2Config } from '../helpers/config.js';

let as: AuthorizationServer;
let basic: TokenSource;
let post: TokenSource;

function introspectionSource(
  url: string,
  client: { clientId: string; clientSecret: string } = GATEWAY_CLIENT,
  authMethod = 'client_secret_basic',
  timeout = '2s',
) {
  const config = oauth2Config({
    tokenSources: ['introspection'],
    introspection: { url, clientId: client.clientId, clientSecret: client.clientSecret, authMethod, timeout },
  });
  return createIntrospectionSource(config.introspection!);
}

beforeAll(async () => {
  as = await startAuthorizationServer();
  basic = introspectionSource(as.introspectionUrl);
  post = introspectionSource(as.introspectionUrl, GATEWAY_POST_CLIENT, 'client_secret_post');
});
afterAll(async () => {
  await basic.close();
  await post.close();
  await as.close();
});

describe('RFC 7662 introspection against oidc-provider', () => {
  it('client_secret_basic form-encodes id and secret before base64 (RFC 6749 §2.3.1)', () => {
    const decoded = Buffer.from(basicAuthorization('a:b', 'c d+%').slice(6), 'base64').toString();
    expect(decoded).toBe('a%3Ab:c+d%2B%25');
  });

  it('active opaque token with a resource → scopes, client, audience, exp; no user for client_credentials', async () => {
    const token = await as.getToken({ resource: 'opaque', scope: 'read write' });
    const info = await basic.lookup(token);
    expect(info).toMatchObject({
      active: true,
      clientId: SERVICE_CLIENT.clientId,
      scopes: ['read', 'write'],
      aud: [RESOURCES.opaque],
    });
    expect(info?.user).toBeUndefined();
    expect(info?.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
  });

  it('client_secret_post works the same', async () => {
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    expect(await post.lookup(token)).toMatchObject({ active: true, scopes: ['read'] });
  });

  it('unknown token → inactive (definitive, not undefined)', async () => {
    expect(await basic.lookup('no-such-token')).toEqual({ active: false, scopes: [] });
  });

  it('revoked token → inactive', async () => {
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    expect((await basic.lookup(token))?.active).toBe(true);
    await as.revoke(token);
    expect((await basic.lookup(token))?.active).toBe(false);
  });

  it('expired token → inactive', async () => {
    // 2 s, not 1: exp is whole seconds from a truncated iat, so a 1 s token can already be expired
    // when issued in the last milliseconds of a second.
    const token = await as.getToken({ resource: 'opaque', scope: 'read', ttlSeconds: 2 });
    expect((await basic.lookup(token))?.active).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    expect((await basic.lookup(token))?.active).toBe(false);
  });

  it('a JWT access token (oidc-provider: unsupported_token_type) → undefined, so the jwt source can try', async () => {
    const token = await as.getToken({ resource: 'jwt', scope: 'read' });
    expect(await basic.lookup(token)).toBeUndefined();
  });

  it('wrong gateway credentials (401 from the AS) → TemporarilyUnavailable, never inactive', async () => {
    const wrong = introspectionSource(as.introspectionUrl, {
      clientId: GATEWAY_CLIENT.clientId,
      clientSecret: 'wrong',
    });
    const token = await as.getToken({ resource: 'opaque', scope: 'read' });
    await expect(wrong.lookup(token)).rejects.toBeInstanceOf(TemporarilyUnavailable);
    await wrong.close();
  });
});

describe('strict response handling (a misbehaving AS on port 0)', () => {
  let server: Server;
  let reply: { status: number; body: string; delayMs?: number };
  let seen: { authorization: string | undefined; body: string };
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen = { authorization: req.headers.authorization, body };
        setTimeout(() => {
          res.writeHead(reply.status, { 'content-type': 'application/json' });
          res.end(reply.body);
        }, reply.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends token and token_type_hint form-encoded, with client_secret_post credentials in the body', async () => {
    reply = { status: 200, body: '{"active":false}' };
    const source = introspectionSource(url, { clientId: 'gw', clientSecret: 's&x=y' }, 'client_secret_post');
    await source.lookup('tok+en/=');
    await source.close();
    expect(seen.authorization).toBeUndefined();
    const form = new URLSearchParams(seen.body);
    expect(form.get('token')).toBe('tok+en/=');
    expect(form.get('token_type_hint')).toBe('access_token');
    expect(form.get('client_secret')).toBe('s&x=y');
  });

  it.each([
    ['active as a string', 200, '{"active":"true"}', 'malformed_response', 'active'],
    ['active as a number', 200, '{"active":1}', 'malformed_response', 'active'],
    ['active missing', 200, '{"scope":"read"}', 'malformed_response', 'active'],
    ['exp as a string', 200, '{"active":true,"exp":"1900000000"}', 'malformed_response', 'exp'],
    ['scope as an array', 200, '{"active":true,"scope":["read"]}', 'malformed_response', 'scope'],
    ['aud as a number', 200, '{"active":true,"aud":5}', 'malformed_response', 'aud'],
    ['sub as a float', 200, '{"active":true,"sub":5.5}', 'malformed_response', 'sub'],
    ['sub as a boolean', 200, '{"active":true,"sub":true}', 'malformed_response', 'sub'],
    [
      'sub beyond 2^53 (digits already lost)',
      200,
      '{"active":true,"sub":9007199254740993}',
      'malformed_response',
      'sub',
    ],
    [
      'client_id as an object',
      200,
      '{"active":true,"client_id":{"id":1}}',
      'malformed_response',
      'client_id',
    ],
    ['not JSON', 200, '<html>ok</html>', 'malformed_response', '(not JSON)'],
    ['a JSON array', 200, '[{"active":true}]', 'malformed_response', '(root)'],
    ['500', 500, '{"active":true}', 'http_status', undefined],
    ['503', 503, '', 'http_status', undefined],
    ['400 other error', 400, '{"error":"invalid_request"}', 'http_status', undefined],
    [
      '401: our client credentials refused',
      401,
      '{"error":"invalid_client"}',
      'client_auth_refused',
      undefined,
    ],
  ])('%s → TemporarilyUnavailable (%s)', async (_name, status, body, reason, field) => {
    reply = { status, body };
    const source = introspectionSource(url);
    const error = await source.lookup('tok').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TemporarilyUnavailable);
    const fault = (error as Error).cause as BackendFault;
    expect(fault).toBeInstanceOf(BackendFault);
    expect(fault.source).toBe('introspection');
    expect(fault.reason).toBe(reason);
    expect(fault.details.status).toBe(status);
    expect(fault.details.field).toBe(field);
    await source.close();
  });

  it('integer sub and client_id (an Authlib handler answering token.user_id) become decimal strings', async () => {
    reply = { status: 200, body: '{"active":true,"client_id":7,"sub":42,"scope":"read"}' };
    const source = introspectionSource(url);
    expect(await source.lookup('tok')).toMatchObject({ active: true, clientId: '7', user: '42' });
    reply = { status: 200, body: '{"active":true,"client_id":"c","username":0}' };
    expect(await source.lookup('tok')).toMatchObject({ clientId: 'c', user: '0' });
    await source.close();
  });

  it('active with every member typed right → TokenInfo; username used when sub is absent; aud string → list', async () => {
    reply = {
      status: 200,
      body: '{"active":true,"client_id":"c","username":"bob","scope":"a  b","exp":1900000000,"nbf":1,"iat":1,"aud":"https://api"}',
    };
    const source = introspectionSource(url);
    expect(await source.lookup('tok')).toEqual({
      active: true,
      clientId: 'c',
      user: 'bob',
      scopes: ['a', 'b'],
      exp: 1900000000,
      nbf: 1,
      aud: ['https://api'],
    });
    await source.close();
  });

  it('a slow AS is cut off at the configured timeout', async () => {
    reply = { status: 200, body: '{"active":true}', delayMs: 1500 };
    const source = introspectionSource(url, GATEWAY_CLIENT, 'client_secret_basic', '200ms');
    const started = performance.now();
    const error = await source.lookup('tok').catch((caught: unknown) => caught);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(TemporarilyUnavailable);
    expect((error as Error).cause).toMatchObject({ source: 'introspection', reason: 'timeout' });
    await source.close();
  });

  it('connection refused → TemporarilyUnavailable (unreachable, ECONNREFUSED)', async () => {
    const port = await freePort();
    const source = introspectionSource(`http://127.0.0.1:${port}/introspect`);
    const error = await source.lookup('tok').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TemporarilyUnavailable);
    expect((error as Error).cause).toMatchObject({ source: 'introspection', reason: 'unreachable' });
    expect(((error as Error).cause as BackendFault).details.code).toBe('ECONNREFUSED');
    await source.close();
  });

  it('error causes never carry the token', async () => {
    reply = { status: 500, body: 'secret-token-value' };
    const source = introspectionSource(url);
    const error = await source.lookup('secret-token-value').catch((caught: unknown) => caught);
    expect(String((error as Error).message)).not.toContain('secret-token-value');
    expect(String(((error as Error).cause as Error).message)).not.toContain('secret-token-value');
    await source.close();
  });
});
