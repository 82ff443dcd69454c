import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/config/load.js';
import type { AssertionConfig } from '../../src/config/schema.js';
import { createAssertionSigner } from '../../src/identity/assertion.js';
import { AssertionKeyError, loadAssertionKeys } from '../../src/identity/assertion-keys.js';

/**
 * Key handling of the identity assertion: every key checked against the algorithm with a path-named
 * error, kids defaulting to the RFC 7638 thumbprint, the JWKS holding public members only, and the
 * CLI (`check`, `jwks`, `keygen`) built on it. Signatures are checked with jose, not our own code.
 */

const CLI = join(import.meta.dirname, '../../dist/main.js');

function pem(type: 'ed25519' | 'ec' | 'rsa', bits = 2048): string {
  const { privateKey } =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: bits });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function assertionConfig(extra: Record<string, unknown>): AssertionConfig {
  const config = parseGatewayConfig(
    {
      identity: { assertion: { keys: [{ path: 'a.pem' }], ...extra } },
      routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'oauth2' }],
    },
    {},
  );
  return config.identity.assertion!;
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
}

describe('assertion keys', () => {
  it.each([
    ['EdDSA', 'ed25519', { kty: 'OKP', crv: 'Ed25519' }],
    ['ES256', 'ec', { kty: 'EC', crv: 'P-256' }],
    ['RS256', 'rsa', { kty: 'RSA', e: 'AQAB' }],
  ] as const)(
    '%s: imports the key, thumbprint kid, public JWK only, and signs what jose verifies',
    async (algorithm, type, members) => {
      const config = assertionConfig({ algorithm });
      const keys = await loadAssertionKeys(config, [{ path: '/k/a.pem', pem: pem(type) }]);
      const [jwk] = (JSON.parse(keys.jwksJson) as { keys: Record<string, string>[] }).keys;
      expect(jwk).toMatchObject({ ...members, alg: algorithm, use: 'sig', kid: keys.signing.kid });
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(secret);
      expect(keys.signing.kid).toBe(await calculateJwkThumbprint(jwk!, 'sha256'));

      const signer = createAssertionSigner(config, keys, () => 1_700_000_000_000);
      const token = await signer.sign({
        identity: { method: 'oauth2', clientId: 'c', scopes: ['a', 'b'], user: 'u' },
        audience: 'r',
        jti: 'j',
        method: 'GET',
        url: 'http://h/x',
        body: undefined,
      });
      const { payload, protectedHeader } = await compactVerify(token, await importJWK(jwk!, algorithm));
      expect(protectedHeader).toEqual({
        alg: algorithm,
        typ: 'oauth-gateway-assertion+jwt',
        kid: keys.signing.kid,
      });
      expect(JSON.parse(Buffer.from(payload).toString())).toEqual({
        iss: 'oauth-gateway',
        aud: 'r',
        sub: 'u',
        client_id: 'c',
        scope: 'a b',
        auth_method: 'oauth2',
        iat: 1_700_000_000,
        exp: 1_700_000_060,
        jti: 'j',
        htm: 'GET',
        htu: 'http://h/x',
      });
    },
  );

  it('optional claims: no sub without a user, cnf.jkt for DPoP, body_sha256 of a read body', async () => {
    const config = assertionConfig({});
    const keys = await loadAssertionKeys(config, [{ path: '/k/a.pem', pem: pem('ed25519') }]);
    const signer = createAssertionSigner(config, keys, () => 1_700_000_000_000);
    const [jwk] = (JSON.parse(keys.jwksJson) as { keys: Record<string, string>[] }).keys;
    const token = await signer.sign({
      identity: {
        method: 'oauth2',
        clientId: 'svc',
        scopes: [],
        jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
      },
      audience: 'r',
      jti: 'j',
      method: 'POST',
      url: 'http://h/x',
      body: Buffer.from('a=1&b=2'),
    });
    const { payload } = await compactVerify(token, await importJWK(jwk!, 'EdDSA'));
    const claims = JSON.parse(Buffer.from(payload).toString()) as Record<string, unknown>;
    expect(claims).not.toHaveProperty('sub');
    expect(claims['scope']).toBe('');
    expect(claims['cnf']).toEqual({ jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' });
    // sha256("a=1&b=2"), base64url
    expect(claims['body_sha256']).toBe(createHash('sha256').update('a=1&b=2').digest('base64url'));
  });

  it('reports every bad key at once, each by config path and file', async () => {
    const config = parseGatewayConfig(
      {
        identity: { assertion: { keys: [{ path: 'a' }, { path: 'b' }, { path: 'c' }, { path: 'd' }] } },
        routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'oauth2' }],
      },
      {},
    ).identity.assertion!;
    const same = pem('ed25519');
    const error = await loadAssertionKeys(config, [
      { path: '/k/ok.pem', pem: same },
      { path: '/k/ec.pem', pem: pem('ec') },
      { path: '/k/junk.pem', pem: 'not a key' },
      { path: '/k/again.pem', pem: same },
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AssertionKeyError);
    expect((error as AssertionKeyError).issues).toEqual([
      'identity.assertion.keys[1].path: /k/ec.pem is a ec key, EdDSA needs Ed25519',
      'identity.assertion.keys[2].path: /k/junk.pem is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)',
      expect.stringMatching(/^identity\.assertion\.keys\[3\]: same kid ".+" as keys\[0\]/),
    ]);
  });

  it('refuses RSA keys under 2048 bits and P-384 keys for ES256', async () => {
    const rsa = assertionConfig({ algorithm: 'RS256' });
    await expect(loadAssertionKeys(rsa, [{ path: '/k/small.pem', pem: pem('rsa', 1024) }])).rejects.toThrow(
      /1024-bit RSA key, RS256 needs at least 2048 bits/,
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    await expect(
      loadAssertionKeys(assertionConfig({ algorithm: 'ES256' }), [{ path: '/k/p384.pem', pem: p384 }]),
    ).rejects.toThrow(/secp384r1 EC key, ES256 needs P-256/);
  });

  it('config: duplicate kids, ttl bounds and unknown algorithms are path-named errors', () => {
    expect(() =>
      parseGatewayConfig(
        {
          identity: {
            assertion: {
              algorithm: 'HS256',
              ttl: '2h',
              keys: [
                { path: 'a', kid: 'k1' },
                { path: 'b', kid: 'k1' },
              ],
            },
          },
          routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'oauth2' }],
        },
        {},
      ),
    ).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          expect.stringMatching(/^identity\.assertion\.algorithm: /),
          'identity.assertion.ttl: must be between 1s and 1h',
          'identity.assertion.keys[1].kid: duplicate kid (also keys[0])',
        ]),
      }),
    );
  });
});

describe('CLI: check, jwks, keygen', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oauth-gateway-keycli-'));
    await writeFile(join(dir, 'credentials.yaml'), '{}\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function config(keys: string[]): Promise<string> {
    const path = join(dir, 'gateway.yaml');
    await writeFile(
      path,
      `identity:\n  assertion:\n    keys: [${keys.map((k) => `{ path: ${k} }`).join(', ')}]\nroutes:\n  - { name: r, match: { pathPrefix: / }, upstream: "http://127.0.0.1:1", auth: oauth2 }\n`,
    );
    return path;
  }

  it('keygen writes a 0600 PKCS#8 key, refuses to overwrite it; jwks prints its public half', async () => {
    const out = join(dir, 'new.pem');
    const made = cli(['keygen', '--out', out]);
    expect(made.status).toBe(0);
    const kid = /kid \(RFC 7638 thumbprint\): (\S+)/.exec(made.stderr)?.[1];
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const text = await readFile(out, 'utf8');
    expect(text).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPrivateKey(text).asymmetricKeyType).toBe('ed25519');
    expect(cli(['keygen', '--out', out]).status).toBe(1);
    expect(await readFile(out, 'utf8')).toBe(text);

    const printed = cli(['jwks', '-c', await config(['./new.pem'])]);
    expect(printed.status).toBe(0);
    const jwks = JSON.parse(printed.stdout) as { keys: Record<string, string>[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kid, kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');

    const es = cli(['keygen', '--algorithm', 'ES256']);
    expect(es.status).toBe(0);
    expect(createPrivateKey(es.stdout).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cli(['keygen', '--algorithm', 'HS256']).status).toBe(1);
  });

  it('examples/identity-assertion/gateway.yaml passes check once keygen wrote its key', async () => {
    const example = await readFile(
      join(import.meta.dirname, '../../examples/identity-assertion/gateway.yaml'),
      'utf8',
    );
    const exampleDir = await mkdtemp(join(dir, 'example-'));
    await writeFile(join(exampleDir, 'gateway.yaml'), example);
    await writeFile(join(exampleDir, 'credentials.yaml'), '{}\n');
    expect(cli(['check', '-c', join(exampleDir, 'gateway.yaml')]).status).toBe(1);
    expect(cli(['keygen', '--out', join(exampleDir, 'assertion.pem')]).status).toBe(0);
    const checked = cli(['check', '-c', join(exampleDir, 'gateway.yaml')]);
    expect(checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  });

  it('check and run fail on a missing or unreadable key, naming the config path and the file', async () => {
    const path = await config(['./new.pem', './missing.pem']);
    const checked = cli(['check', '-c', path]);
    expect(checked.status).toBe(1);
    expect(checked.stderr).toContain(
      `identity.assertion.keys[1].path: cannot read ${join(dir, 'missing.pem')} (file not found)`,
    );
    await writeFile(join(dir, 'junk.pem'), 'junk');
    const junk = cli(['check', '-c', await config(['./junk.pem'])]);
    expect(junk.status).toBe(1);
    expect(junk.stderr).toContain(
      `identity.assertion.keys[0].path: ${join(dir, 'junk.pem')} is not a PEM private key`,
    );
    const started = cli(['run', '-c', await config(['./new.pem', './missing.pem'])]);
    expect(started.status).toBe(1);
    expect(started.stderr).toContain('identity.assertion.keys[1].path: cannot read');
    expect(cli(['check', '-c', await config(['./new.pem'])]).status).toBe(0);
  });
});
