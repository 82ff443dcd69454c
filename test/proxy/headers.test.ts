import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/config/load.js';
import {
  buildHeaderPolicy,
  buildUpstreamHeaders,
  canonicalHeaderName,
  type ForwardContext,
  filterResponseHeaders,
  identityHeaderValue,
  requestIdFrom,
} from '../../src/proxy/headers.js';
import type { Identity } from '../../src/verify/identity.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function policyFor(identity: Record<string, unknown> = {}) {
  return buildHeaderPolicy(
    parseGatewayConfig(
      { identity, routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://h', auth: 'none' }] },
      {},
    ).identity,
  );
}

const defaultPolicy = policyFor();

function context(overrides: Partial<ForwardContext> = {}): ForwardContext {
  return {
    policy: defaultPolicy,
    identity: undefined,
    passAuthorization: false,
    upgrade: false,
    clientIp: '203.0.113.7',
    proto: 'http',
    host: 'api.example.com',
    requestId: 'req-1',
    ...overrides,
  };
}

/** Run buildUpstreamHeaders the way server.ts does (Connection read from the parsed headers). */
function build(raw: string[], overrides: Partial<ForwardContext> = {}): string[] {
  const connection: string[] = [];
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.toLowerCase() === 'connection') connection.push(raw[i + 1]!);
  return buildUpstreamHeaders(
    raw,
    connection.length === 0 ? undefined : connection.join(', '),
    context(overrides),
  );
}

function names(out: string[]): string[] {
  return out.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

function values(out: string[], name: string): string[] {
  const wanted = name.toLowerCase();
  return out.filter((_, i) => i % 2 === 1 && out[i - 1]!.toLowerCase() === wanted);
}

describe('buildUpstreamHeaders: hop-by-hop', () => {
  const hopByHop: [name: string, value: string][] = [
    ['Connection', 'keep-alive'],
    ['Keep-Alive', 'timeout=5'],
    ['Proxy-Connection', 'keep-alive'],
    ['Proxy-Authenticate', 'Basic'],
    ['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
    ['TE', 'trailers'],
    ['Trailer', 'X-Checksum'],
    ['Transfer-Encoding', 'chunked'],
    ['Upgrade', 'h2c'],
    ['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA'],
  ];
  it.each(hopByHop)('%s is never forwarded', (name, value) => {
    for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
      const out = build(['Host', 'h', spelling, value, 'Accept', '*/*']);
      expect(names(out)).not.toContain(name.toLowerCase());
      expect(values(out, 'accept')).toEqual(['*/*']);
    }
  });

  it('headers nominated by Connection are removed, wherever they appear and however spelled', () => {
    const out = build([
      'X-Before',
      '1',
      'Connection',
      'close, X-Before,  x-secret-hop ',
      'X-Secret-Hop',
      'a',
      'x-secret-hop',
      'b',
      'connection',
      'X-Second-Line',
      'X-Second-Line',
      'c',
      'X-Kept',
      'k',
    ]);
    expect(names(out)).not.toContain('x-before');
    expect(names(out)).not.toContain('x-secret-hop');
    expect(names(out)).not.toContain('x-second-line');
    expect(names(out)).not.toContain('connection');
    expect(values(out, 'x-kept')).toEqual(['k']);
  });

  it('Upgrade is kept (with Connection: upgrade) only for an upgrade handshake', () => {
    const raw = ['Host', 'h', 'Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'abc'];
    const out = build(raw, { upgrade: true });
    expect(values(out, 'upgrade')).toEqual(['websocket']);
    expect(values(out, 'connection')).toEqual(['upgrade']);
    expect(values(out, 'sec-websocket-key')).toEqual(['abc']);
    const plain = build(raw);
    expect(names(plain)).not.toContain('upgrade');
    expect(names(plain)).not.toContain('connection');
  });

  it('Expect is consumed on the client hop (Node answers 100 Continue; undici cannot send it)', () => {
    const out = build(['Host', 'h', 'Expect', '100-continue', 'Content-Length', '5000']);
    expect(names(out)).not.toContain('expect');
    expect(values(out, 'content-length')).toEqual(['5000']);
  });

  it('end-to-end headers keep their case, order and duplicates', () => {
    const out = build(['Host', 'h', 'Accept', 'a', 'X-Dup', '1', 'x-dup', '2', 'Cookie', 'c=1']);
    expect(out.slice(0, 10)).toEqual([
      'Host',
      'h',
      'Accept',
      'a',
      'X-Dup',
      '1',
      'x-dup',
      '2',
      'Cookie',
      'c=1',
    ]);
  });
});

describe('buildUpstreamHeaders: identity headers', () => {
  const spoofed: [spelling: string][] = [
    ['X-OAuth-User'],
    ['x-oauth-user'],
    ['X-OAUTH-USER'],
    ['X_OAuth_User'],
    ['x_oauth-user'],
    ['X-OAuth-Client-Id'],
    ['X_OAUTH_CLIENT_ID'],
    ['X-OAuth-Scope'],
    ['x_oauth_scope'],
    ['X-OAuth-Method'],
    ['X-Oauth_Method'],
  ];
  it.each(spoofed)('inbound %s is removed (no identity)', (spelling) => {
    const out = build(['Host', 'h', spelling, 'admin', spelling, 'root']);
    expect(names(out).map(canonicalHeaderName)).not.toContain(canonicalHeaderName(spelling));
    expect(out).not.toContain('admin');
    expect(out).not.toContain('root');
  });

  it('inbound copies are removed and replaced by the verified identity', () => {
    const identity: Identity = {
      user: 'alice',
      clientId: 'demo',
      scopes: ['photos:read', 'photos:write'],
      method: 'oauth2',
    };
    const out = build(
      [
        'Host',
        'h',
        'X-OAuth-User',
        'mallory',
        'x-oauth-user',
        'eve',
        'X_OAuth_User',
        'trent',
        'X-OAuth-Scope',
        'admin',
      ],
      { identity },
    );
    expect(values(out, 'x-oauth-user')).toEqual(['alice']);
    expect(values(out, 'x-oauth-client-id')).toEqual(['demo']);
    expect(values(out, 'x-oauth-scope')).toEqual(['photos:read photos:write']);
    expect(values(out, 'x-oauth-method')).toEqual(['oauth2']);
    expect(names(out).filter((n) => canonicalHeaderName(n) === 'x-oauth-user')).toHaveLength(1);
  });

  it('no user header at all when the identity has no user (two-legged / client_credentials)', () => {
    const identity: Identity = { user: undefined, clientId: 'svc', scopes: [], method: 'oauth1' };
    const out = build(['Host', 'h', 'X-OAuth-User', 'mallory'], { identity });
    expect(names(out).map(canonicalHeaderName)).not.toContain('x-oauth-user');
    expect(values(out, 'x-oauth-client-id')).toEqual(['svc']);
    expect(values(out, 'x-oauth-scope')).toEqual(['']);
    expect(values(out, 'x-oauth-method')).toEqual(['oauth1']);
  });

  it('custom identity header names and identity.strip extras are stripped in every spelling', () => {
    const policy = policyFor({
      headers: { user: 'X-Remote-User' },
      strip: ['X-Internal-Role', 'Remote_Groups'],
    });
    const identity: Identity = { user: 'bob', clientId: 'c', scopes: ['s'], method: 'oauth1' };
    const out = build(
      [
        'Host',
        'h',
        'x-remote-user',
        'root',
        'X_REMOTE_USER',
        'root',
        'X-Internal-Role',
        'admin',
        'x_internal_role',
        'admin',
        'Remote-Groups',
        'wheel',
        'X-OAuth-User',
        'not-an-identity-header-any-more',
      ],
      { policy, identity },
    );
    expect(values(out, 'x-remote-user')).toEqual(['bob']);
    expect(names(out).map(canonicalHeaderName)).not.toContain('x-internal-role');
    expect(names(out).map(canonicalHeaderName)).not.toContain('remote-groups');
    // The default name is no longer an identity header once renamed: it passes through.
    expect(values(out, 'x-oauth-user')).toEqual(['not-an-identity-header-any-more']);
  });
});

describe('buildUpstreamHeaders: identity assertion header', () => {
  const identity: Identity = { user: 'alice', clientId: 'demo', scopes: ['s'], method: 'oauth2' };
  const forged = ['X-OAuth-Assertion', 'x_oauth_assertion', 'X_OAUTH-ASSERTION'];

  it('client copies are stripped even when assertions are off (default name)', () => {
    const out = build(['Host', 'h', ...forged.flatMap((name) => [name, 'forged'])], { identity });
    expect(out).not.toContain('forged');
    expect(names(out).map(canonicalHeaderName)).not.toContain('x-oauth-assertion');
  });

  it('the gateway’s assertion is the only copy, under the configured name; the default name stays stripped', () => {
    const policy = policyFor({ assertion: { header: 'X-Gateway-Proof', keys: [{ path: 'k.pem' }] } });
    const out = build(
      [
        'Host',
        'h',
        'x_gateway_proof',
        'forged',
        'X-Gateway-Proof',
        'forged',
        ...forged.flatMap((n) => [n, 'forged']),
      ],
      { policy, identity, assertion: 'header.payload.signature' },
    );
    expect(out).not.toContain('forged');
    expect(values(out, 'x-gateway-proof')).toEqual(['header.payload.signature']);
    expect(names(out).map(canonicalHeaderName)).not.toContain('x-oauth-assertion');
  });
});

describe('buildUpstreamHeaders: Authorization', () => {
  it.each([['Authorization'], ['authorization'], ['AUTHORIZATION']])(
    '%s is removed by default',
    (spelling) => {
      const out = build(['Host', 'h', spelling, 'Bearer secret-token']);
      expect(names(out)).not.toContain('authorization');
      expect(out.join('\n')).not.toContain('secret-token');
    },
  );

  it('is forwarded unchanged with passAuthorization', () => {
    const out = build(['Host', 'h', 'Authorization', 'OAuth oauth_consumer_key="k"'], {
      passAuthorization: true,
    });
    expect(values(out, 'authorization')).toEqual(['OAuth oauth_consumer_key="k"']);
  });
});

describe('buildUpstreamHeaders: X-Forwarded-* and X-Request-Id', () => {
  it('X-Forwarded-For is appended to every inbound copy, in order', () => {
    const out = build([
      'Host',
      'h',
      'X-Forwarded-For',
      '198.51.100.1',
      'x-forwarded-for',
      '10.0.0.1, 10.0.0.2',
    ]);
    expect(values(out, 'x-forwarded-for')).toEqual(['198.51.100.1, 10.0.0.1, 10.0.0.2, 203.0.113.7']);
  });

  it('X-Forwarded-For is the client address when none came in', () => {
    expect(values(build(['Host', 'h']), 'x-forwarded-for')).toEqual(['203.0.113.7']);
  });

  it('client X-Forwarded-Proto/Host/Port are replaced by what the gateway decided', () => {
    const out = build(
      [
        'Host',
        'h',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'evil.example',
        'X-Forwarded-Port',
        '443',
      ],
      { proto: 'http', host: 'api.example.com:8080' },
    );
    expect(values(out, 'x-forwarded-proto')).toEqual(['http']);
    expect(values(out, 'x-forwarded-host')).toEqual(['api.example.com:8080']);
    expect(names(out)).not.toContain('x-forwarded-port');
  });

  it('Host is forwarded as the client sent it', () => {
    expect(values(build(['Host', 'api.example.com:8080']), 'host')).toEqual(['api.example.com:8080']);
  });

  it('exactly one X-Request-Id: the one the server decided, never the client duplicates', () => {
    const out = build(['Host', 'h', 'X-Request-Id', 'client-1', 'x-request-id', 'client-2'], {
      requestId: 'client-1',
    });
    expect(values(out, 'x-request-id')).toEqual(['client-1']);
  });

  it.each([
    ['abc-123', 'abc-123'],
    ['0f8fad5b-d9cb-469f-a165-70867728950e', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['~!@#$%^&*()_+', '~!@#$%^&*()_+'],
  ])('requestIdFrom keeps a sane id %s', (input, expected) => {
    expect(requestIdFrom(input)).toBe(expected);
  });

  it.each([[undefined], [''], ['has space'], ['tab\tinside'], ['caf\u00e9'], ['x'.repeat(201)]])(
    'requestIdFrom replaces %j with a generated UUID',
    (input) => {
      const id = requestIdFrom(input);
      expect(id).toMatch(UUID);
      expect(requestIdFrom(input)).not.toBe(id);
    },
  );
});

describe('filterResponseHeaders', () => {
  it('drops hop-by-hop and Connection-nominated response headers, keeps the rest', () => {
    const out = filterResponseHeaders({
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'x-hop': '1',
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'x-missing': undefined,
    });
    expect(out).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
  });
});

describe('identityHeaderValue', () => {
  it.each([
    ['alice', 'alice'],
    ['user@example.com', 'user@example.com'],
    ['read write', 'read write'],
    ['josé', 'jos%C3%A9'],
    ['张三', '%E5%BC%A0%E4%B8%89'],
    ['50%off', '50%25off'],
    ['a\r\nX-OAuth-User: admin', 'a%0D%0AX-OAuth-User: admin'],
    ['tab\there', 'tab%09here'],
  ])('%j → %j, and decodes back', (value, sent) => {
    expect(identityHeaderValue(value)).toBe(sent);
    expect(decodeURIComponent(identityHeaderValue(value))).toBe(value);
  });
});
