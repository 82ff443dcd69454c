import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

// `listen.tls`: the gateway terminates TLS itself, so the client's scheme is https: PLAINTEXT is
// accepted (RFC 5849 §3.4.4 requires TLS) and base strings use https://host:port.

const CLIENT = { clientId: 'tls-client', clientSecret: 'tls client secret' };
const TOKEN = {
  token: 'tls-token',
  tokenSecret: 'tls-token-secret',
  clientId: CLIENT.clientId,
  userId: 'carol',
};

let dir: string;
let upstream: TestUpstream;
let gw: TestGateway;

function get(path: string, authorization: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        path,
        method: 'GET',
        headers: { authorization },
        rejectUnauthorized: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  upstream = await startUpstream();
  gw = await startTestGateway({
    config: {
      listen: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } },
      oauth1: { signatureMethods: ['HMAC-SHA1', 'PLAINTEXT'] },
      routes: [{ name: 'photos', match: { pathPrefix: '/photos' }, upstream: upstream.url, auth: 'oauth1' }],
    },
    credentials: { clients: [CLIENT], tokens: [TOKEN] },
  });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

function sign(signatureMethod: 'HMAC-SHA1' | 'PLAINTEXT', scheme: string): string {
  return signOAuth1Request({
    method: 'GET',
    url: `${scheme}://127.0.0.1:${gw.port}/photos/1?size=s`,
    consumerKey: CLIENT.clientId,
    consumerSecret: CLIENT.clientSecret,
    token: TOKEN.token,
    tokenSecret: TOKEN.tokenSecret,
    signatureMethod,
  });
}

test.each(['HMAC-SHA1', 'PLAINTEXT'] as const)('%s over the TLS listener is accepted', async (method) => {
  const res = await get('/photos/1?size=s', sign(method, 'https'));
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body).headers['x-oauth-user']).toBe('carol');
});

test('a signature computed for http:// does not verify on the https listener', async () => {
  const res = await get('/photos/1?size=s', sign('HMAC-SHA1', 'http'));
  expect(res.status).toBe(401);
  expect(JSON.parse(res.body).error).toBe('invalid_signature');
});

test('unreadable certificate files are configuration errors naming the key', async () => {
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(
    configPath,
    'listen: { tls: { cert: missing-cert.pem, key: missing-key.pem } }\ncredentials: { type: redis }\n' +
      'routes: [{ name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:1", auth: none }]\n',
  );
  const error = await loadConfig(configPath, {}).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).issues).toEqual([
    expect.stringMatching(/^listen\.tls\.cert: cannot read .*missing-cert\.pem \(file not found\)$/),
    expect.stringMatching(/^listen\.tls\.key: cannot read .*missing-key\.pem \(file not found\)$/),
  ]);
});
