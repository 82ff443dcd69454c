import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, parseGatewayConfig } from '../../src/config/load.js';
import { gatewayJsonSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const route = { name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:3000', auth: 'none' };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

function tempDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('parseGatewayConfig', () => {
  test('applies documented defaults and parses durations to milliseconds', () => {
    const config = parseGatewayConfig(
      { routes: [route], limits: { upstreamTimeout: '5m', headersTimeout: 2 } },
      {},
    );
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(config.limits.upstreamTimeout).toBe(300_000);
    expect(config.limits.headersTimeout).toBe(2_000);
    expect(config.oauth1.timestampWindow).toBe(300_000);
    expect(config.oauth1.signatureMethods).toEqual(['HMAC-SHA1', 'HMAC-SHA256', 'RSA-SHA1']);
    expect(config.identity.headers.user).toBe('X-OAuth-User');
    expect(config.routes[0]?.passAuthorization).toBe(false);
  });

  test.each([
    ['300ms', 300],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    [0.25, 250],
  ])('duration %s = %d ms', (value, ms) => {
    expect(
      parseGatewayConfig({ routes: [route], oauth1: { timestampWindow: value } }, {}).oauth1.timestampWindow,
    ).toBe(ms);
  });

  test('reports every problem at once, each with its path', () => {
    const issues = issuesOf(() =>
      parseGatewayConfig(
        {
          listn: {},
          limits: { upstreamTimeout: 'soon' },
          routes: [
            route,
            { ...route, name: 'b', upstream: 'ftp://x' },
            { ...route, name: 'c', auth: 'magic' },
          ],
        },
        {},
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\(root\): unknown key "listn"/),
        expect.stringMatching(/^limits\.upstreamTimeout: must be a duration/),
        expect.stringMatching(/^routes\[1\]\.upstream: must be an http\(s\) URL/),
        expect.stringMatching(/^routes\[2\]\.auth: /),
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  test('unknown keys are rejected at every depth', () => {
    const issues = issuesOf(() =>
      parseGatewayConfig(
        { routes: [{ ...route, match: { pathPrefix: '/', hots: 'x' } }], oauth1: { nonceStor: 'redis' } },
        {},
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^routes\[0\]\.match: unknown key "hots"/),
        expect.stringMatching(/^oauth1: unknown key "nonceStor"/),
      ]),
    );
  });

  test('cross-field rules: duplicate route names, token sources need their sections', () => {
    const issues = issuesOf(() =>
      parseGatewayConfig(
        { routes: [route, route], oauth2: { tokenSources: ['store', 'introspection', 'jwt'] } },
        {},
      ),
    );
    expect(issues).toEqual([
      'routes[1].name: duplicate route name (also routes[0])',
      'oauth2.introspection: required when tokenSources lists introspection',
      'oauth2.jwt: required when tokenSources lists jwt',
    ]);
  });

  test('${VAR} and ${VAR:-default} interpolation; an unset variable without default is an error', () => {
    const config = parseGatewayConfig(
      {
        routes: [{ ...route, upstream: '${UP}', name: '${NAME:-fallback}' }],
        redis: { keyPrefix: 'lit-$${x}' },
      },
      { UP: 'http://10.0.0.1:81' },
    );
    expect(config.routes[0]?.upstream).toBe('http://10.0.0.1:81');
    expect(config.routes[0]?.name).toBe('fallback');
    expect(config.redis.keyPrefix).toBe('lit-${x}');
    const issues = issuesOf(() =>
      parseGatewayConfig({ routes: [{ ...route, upstream: '${MISSING_UPSTREAM}' }] }, {}),
    );
    expect(issues).toContain('routes[0].upstream: environment variable MISSING_UPSTREAM is not set');
  });

  test('PORT overrides listen.port', () => {
    expect(parseGatewayConfig({ routes: [route], listen: { port: 1 } }, { PORT: '8181' }).listen.port).toBe(
      8181,
    );
  });
});

describe('loadConfig', () => {
  test('loads gateway.yaml and credentials.yaml relative to it, deep-frozen', async () => {
    const dir = tempDir({
      'gateway.yaml':
        'routes:\n  - { name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:3000", auth: oauth1 }\ncredentials: { type: file, path: creds.yaml }\n',
      'creds.yaml': 'clients:\n  - { clientId: c1, clientSecret: s1 }\n',
    });
    const loaded = await loadConfig(join(dir, 'gateway.yaml'), {});
    expect(loaded.credentials?.clients[0]?.clientId).toBe('c1');
    expect(Object.isFrozen(loaded.config.routes[0]?.match)).toBe(true);
    expect(() => {
      (loaded.config.routes as unknown as unknown[]).push(1);
    }).toThrow(TypeError);
    expect(loaded.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  test('YAML syntax errors name file, line and column', async () => {
    const dir = tempDir({ 'gateway.yaml': 'routes:\n  - name: [unclosed\n' });
    await expect(loadConfig(join(dir, 'gateway.yaml'), {})).rejects.toMatchObject({
      issues: [expect.stringMatching(/gateway\.yaml:\d+:\d+: /)],
    });
  });

  test('missing files are reported, not thrown as ENOENT', async () => {
    await expect(loadConfig('/nonexistent/gateway.yaml', {})).rejects.toMatchObject({
      issues: ['gateway.yaml: cannot read /nonexistent/gateway.yaml (file not found)'],
    });
    const dir = tempDir({
      'gateway.yaml':
        'routes:\n  - { name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:3000", auth: none }\n',
    });
    await expect(loadConfig(join(dir, 'gateway.yaml'), {})).rejects.toMatchObject({
      issues: [
        expect.stringMatching(/^credentials\.path: cannot read .*credentials\.yaml \(file not found\)/),
      ],
    });
  });

  test('errors in gateway.yaml and credentials.yaml are reported together', async () => {
    const dir = tempDir({
      'gateway.yaml':
        'routes:\n  - { name: r, match: { pathPrefix: nope }, upstream: "http://127.0.0.1:3000", auth: none }\n',
      'credentials.yaml':
        'clients:\n  - { clientId: c1 }\ntokens:\n  - { token: t, tokenSecret: s, clientId: c1, extra: 1 }\n',
    });
    const error = await loadConfig(join(dir, 'gateway.yaml'), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual(
      expect.arrayContaining([
        'routes[0].match.pathPrefix: must start with /',
        expect.stringMatching(/^credentials\.yaml: clients\[0\]\.clientSecret: /),
        'credentials.yaml: tokens[0]: unknown key "extra"',
      ]),
    );
  });
});

describe('route anyScopes (issue 14)', () => {
  test('anyScopes is one-of; with scopes both apply; an empty list or a scope in both lists is an error', () => {
    const config = parseGatewayConfig(
      { routes: [{ ...route, scopes: ['profile'], anyScopes: ['photos:read', 'admin'] }] },
      {},
    );
    expect(config.routes[0]).toMatchObject({ scopes: ['profile'], anyScopes: ['photos:read', 'admin'] });
    expect(parseGatewayConfig({ routes: [route] }, {}).routes[0]?.anyScopes).toBeUndefined();
    const issues = issuesOf(() =>
      parseGatewayConfig(
        {
          routes: [
            { ...route, name: 'a', anyScopes: [] },
            { ...route, name: 'b', scopes: ['admin', 'profile'], anyScopes: ['photos:read', 'admin'] },
            { ...route, name: 'c', anyScopes: ['bad scope'] },
          ],
        },
        {},
      ),
    );
    expect(issues).toEqual([
      expect.stringMatching(/^routes\[0\]\.anyScopes: /),
      'routes[1].anyScopes[1]: "admin" is also in scopes: with both, every scope in scopes AND one of anyScopes is required, so this entry would always be satisfied',
      'routes[2].anyScopes[0]: must be a valid scope token',
    ]);
  });
});

describe('credentials.yaml ids (issue 14: Authlib models keep user_id as an Integer)', () => {
  test('integer userId/clientId load as decimal strings; floats, booleans and unsafe integers are errors', async () => {
    const dir = tempDir({
      'gateway.yaml':
        'routes:\n  - { name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:3000", auth: any }\n',
      'credentials.yaml': [
        'clients:\n  - { clientId: 7, clientSecret: s }',
        'tokens:\n  - { token: t, tokenSecret: s, clientId: 7, userId: 42 }',
        'bearerTokens:\n  - { accessToken: a, clientId: 7, userId: 0, issuedAt: 1, expiresIn: 0 }',
      ].join('\n'),
    });
    const loaded = await loadConfig(join(dir, 'gateway.yaml'), {});
    expect(loaded.credentials?.clients[0]?.clientId).toBe('7');
    expect(loaded.credentials?.tokens[0]).toMatchObject({ clientId: '7', userId: '42' });
    expect(loaded.credentials?.bearerTokens[0]).toMatchObject({ clientId: '7', userId: '0' });

    const bad = tempDir({
      'gateway.yaml':
        'routes:\n  - { name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:3000", auth: any }\n',
      'credentials.yaml': [
        'tokens:',
        '  - { token: t, tokenSecret: s, clientId: c, userId: 4.5 }',
        '  - { token: u, tokenSecret: s, clientId: c, userId: true }',
        '  - { token: v, tokenSecret: s, clientId: c, userId: 9007199254740993 }',
      ].join('\n'),
    });
    const error = await loadConfig(join(bad, 'gateway.yaml'), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    for (const index of [0, 1, 2]) {
      expect(issues).toContain(
        `credentials.yaml: tokens[${index}].userId: must be a non-empty string or a safe integer`,
      );
    }
  });
});

test('JSON Schema describes the file users write', () => {
  const schema = gatewayJsonSchema() as {
    properties: Record<string, { additionalProperties?: boolean }>;
    required?: string[];
  };
  expect(Object.keys(schema.properties)).toEqual(
    expect.arrayContaining([
      'listen',
      'admin',
      'trustedProxies',
      'limits',
      'redis',
      'identity',
      'credentials',
      'oauth1',
      'oauth2',
      'routes',
      'egress',
    ]),
  );
  // routes, or egress (an egress-only sidecar).
  expect((schema as { anyOf?: unknown }).anyOf).toEqual([{ required: ['routes'] }, { required: ['egress'] }]);
  expect(schema.properties['oauth1']?.additionalProperties).toBe(false);
});
