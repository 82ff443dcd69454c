import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, parseGatewayConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

const oauth1 = { consumerKey: 'ck', consumerSecret: 'cs', token: 't', tokenSecret: 'ts' };
const egressRoute = (extra: Record<string, unknown> = {}) => ({
  name: 'api',
  match: { pathPrefix: '/api' },
  upstream: 'https://api.example.com/1.1',
  sign: { oauth1 },
  ...extra,
});

describe('egress configuration', () => {
  test('an egress-only sidecar needs no ingress routes; defaults are safe', () => {
    const config = parseGatewayConfig({ egress: { routes: [egressRoute()] } }, {});
    expect(config.routes).toEqual([]);
    expect(config.egress?.listen).toEqual({ host: '127.0.0.1', port: 9292 });
    const route = config.egress!.routes[0]!;
    expect(route.stripPrefix).toBe(true);
    expect(route.authorization).toBe('replace');
    expect(route.sign?.oauth1).toMatchObject({
      signatureMethod: 'HMAC-SHA1',
      placement: 'header',
      bodyHash: false,
    });
  });

  test('without egress, routes are still required', () => {
    expect(issuesOf(() => parseGatewayConfig({}, {}))).toEqual([
      'routes: must list at least one route (or configure egress)',
    ]);
  });

  test('every problem at once, each named by its path', () => {
    const issues = issuesOf(() =>
      parseGatewayConfig(
        {
          egress: {
            listen: { port: 'x' },
            routes: [
              egressRoute({ upstream: 'http://api.example.com' }),
              egressRoute({ name: 'b', sign: { oauth1: { ...oauth1, signatureMethod: 'RSA-SHA1' } } }),
              egressRoute({
                name: 'c',
                upstream: 'http://127.0.0.1:8080',
                sign: { oauth1: { ...oauth1, signatureMethod: 'PLAINTEXT' } },
              }),
              egressRoute({
                name: 'd',
                sign: { oauth1, oauth2: { tokenUrl: 'https://as/token', clientId: 'a', clientSecret: 'b' } },
              }),
              egressRoute({
                name: 'e',
                sign: { oauth1: { consumerKey: 'k', consumerSecret: 's', token: 't' } },
              }),
              egressRoute({ name: 'f', tls: { caFile: 'ca.pem', insecure: true } }),
              egressRoute({
                name: 'g',
                sign: {
                  oauth2: { tokenUrl: 'http://as.example.com/token', clientId: 'a', clientSecret: 'b' },
                },
              }),
              egressRoute({ name: 'b' }),
            ],
          },
        },
        {},
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^egress\.listen\.port: /),
        'egress.routes[0].upstream: must be an https URL (http is allowed only to a loopback host)',
        'egress.routes[2].sign.oauth1.signatureMethod: PLAINTEXT is only allowed to an https upstream',
        'egress.routes[5].tls: unknown key "insecure"',
        'egress.routes[6].sign.oauth2.tokenUrl: must be an https URL (http is allowed only to a loopback host)',
      ]),
    );
  });

  test('cross-field rules inside a route', () => {
    const issues = issuesOf(() =>
      parseGatewayConfig(
        {
          egress: {
            routes: [
              egressRoute({ name: 'b', sign: { oauth1: { ...oauth1, signatureMethod: 'RSA-SHA1' } } }),
              egressRoute({
                name: 'd',
                sign: { oauth1, oauth2: { tokenUrl: 'https://as/token', clientId: 'a', clientSecret: 'b' } },
              }),
              egressRoute({
                name: 'e',
                sign: { oauth1: { consumerKey: 'k', consumerSecret: 's', token: 't' } },
              }),
              egressRoute({
                name: 'j',
                sign: {
                  oauth2: { tokenUrl: 'https://as/token', clientId: 'a', authMethod: 'private_key_jwt' },
                },
              }),
              egressRoute({ name: 's', sign: { oauth2: { tokenUrl: 'https://as/token', clientId: 'a' } } }),
              egressRoute({ name: 'b' }),
            ],
          },
        },
        {},
      ),
    );
    expect(issues).toEqual([
      'egress.routes[0].sign.oauth1.privateKeyFile: is required for RSA-SHA1',
      'egress.routes[1].sign: must have exactly one of oauth1, oauth2',
      'egress.routes[2].sign.oauth1.tokenSecret: token and tokenSecret go together',
      'egress.routes[3].sign.oauth2.privateKeyFile: is required for private_key_jwt',
      'egress.routes[4].sign.oauth2.clientSecret: is required for client_secret_basic',
      'egress.routes[5].name: duplicate egress route name (also egress.routes[0])',
    ]);
  });

  test('files are read with the config: a missing CA file and a bad key are reported by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'egress-config-'));
    try {
      await writeFile(join(dir, 'not-a-key.pem'), 'hello');
      await writeFile(
        join(dir, 'gateway.yaml'),
        stringify({
          egress: {
            routes: [
              egressRoute({ tls: { caFile: './missing-ca.pem' } }),
              egressRoute({
                name: 'rsa',
                sign: {
                  oauth1: {
                    consumerKey: 'k',
                    signatureMethod: 'RSA-SHA256',
                    privateKeyFile: 'not-a-key.pem',
                  },
                },
              }),
            ],
          },
        }),
      );
      await writeFile(join(dir, 'credentials.yaml'), '{}\n');
      const error = await loadConfig(join(dir, 'gateway.yaml'), {}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toEqual([
        `egress.routes[0].tls.caFile: cannot read ${join(dir, 'missing-ca.pem')} (file not found)`,
        'egress.routes[1].sign.oauth1.privateKeyFile: must be a PEM RSA private key',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an egress-only sidecar loads without a credentials file (it verifies nothing)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'egress-config-'));
    try {
      await writeFile(join(dir, 'gateway.yaml'), stringify({ egress: { routes: [egressRoute()] } }));
      const loaded = await loadConfig(join(dir, 'gateway.yaml'), {});
      expect(loaded.config.egress?.routes[0]?.name).toBe('api');
      // With ingress routes, the file is required as before.
      await writeFile(
        join(dir, 'gateway.yaml'),
        stringify({
          egress: { routes: [egressRoute()] },
          routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'oauth1' }],
        }),
      );
      const error = await loadConfig(join(dir, 'gateway.yaml'), {}).catch((e: unknown) => e);
      expect((error as ConfigError).issues).toEqual([
        `credentials.path: cannot read ${join(dir, 'credentials.yaml')} (file not found)`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
