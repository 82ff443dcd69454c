import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CredentialsFile, credentialsFileSchema } from '../../src/config/credentials-schema.js';
import { FileCredentialStore } from '../../src/store/file.js';
import { createRedisClient, RedisCredentialStore } from '../../src/store/redis.js';
import { openSqlDriver, type SqlDriver } from '../../src/store/sql-driver.js';
import type { SqlDialect, SqlQueries } from '../../src/store/sql-queries.js';
import { SqlCredentialStore } from '../../src/store/sql-store.js';
import type { CredentialStore } from '../../src/store/types.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from './sql-support.js';
import { testRedisConfig } from './support.js';

/**
 * The same credentials loaded from a credentials file, written into Redis the way an
 * authorization server would (HSET with string fields), and stored as rows in PostgreSQL and
 * MariaDB tables read with explicit queries, must look up identically.
 */

interface KeyVector {
  readonly id: string;
  readonly baseString: string;
  readonly signature: string;
  readonly signatureMethod: string;
  readonly rsaPublicKey?: string;
  readonly rsaCertificate?: string;
}
const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/oauth1-vectors.json', import.meta.url), 'utf8'),
) as { vectors: KeyVector[]; signOnly: KeyVector[] };
const wiki = vectors.vectors.find((v) => v.rsaCertificate !== undefined)!;
const pkcs1 = vectors.signOnly.find((v) => v.rsaPublicKey?.includes('BEGIN RSA PUBLIC KEY') === true)!;

const file: CredentialsFile = credentialsFileSchema.parse({
  clients: [
    { clientId: 'hmac-client', clientSecret: 'kd94hf93k423kf44' },
    { clientId: 'spki-client', clientSecret: 's1', rsaPublicKey: wiki.rsaPublicKey },
    { clientId: 'cert-client', clientSecret: 's2', rsaPublicKey: wiki.rsaCertificate },
    { clientId: 'pkcs1-client', clientSecret: 's3', rsaPublicKey: pkcs1.rsaPublicKey },
  ],
  tokens: [
    {
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      clientId: 'hmac-client',
      userId: 'alice',
      scope: 'photos:read  photos:write ',
    },
    { token: 'two-legged-ish', tokenSecret: 'ts2', clientId: 'spki-client' },
  ],
  bearerTokens: [
    {
      accessToken: '2YotnFZFEjr1zCsicMWpAA',
      clientId: 'demo-client',
      userId: 'alice',
      scope: 'photos:read photos:write',
      revoked: false,
      issuedAt: 1700000000,
      expiresIn: 3600,
      audience: 'https://api.example.com',
    },
    {
      accessToken: 'revoked-token',
      clientId: 'demo-client',
      revoked: true,
      issuedAt: 1700000100,
      expiresIn: 0,
      audience: ['https://a.example', 'https://b.example'],
    },
    { accessToken: 'machine-token', clientId: 'svc', scope: 'jobs:run', issuedAt: 1, expiresIn: 60 },
  ],
});

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

/** What an authorization server writes: strings only, absent/null fields left out. */
async function writeToRedis(client: Redis, prefix: string, credentials: CredentialsFile): Promise<void> {
  const fields = (record: Record<string, unknown>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(record)) {
      if (value === null || value === undefined) continue;
      if (typeof value === 'boolean') out[name] = value ? '1' : '0';
      else if (Array.isArray(value)) out[name] = JSON.stringify(value);
      else out[name] = String(value);
    }
    return out;
  };
  for (const record of credentials.clients)
    await client.hset(`${prefix}oauth1:client:${record.clientId}`, fields(record));
  for (const record of credentials.tokens)
    await client.hset(`${prefix}oauth1:token:${record.token}`, fields(record));
  for (const record of credentials.bearerTokens) {
    await client.hset(`${prefix}oauth2:token:${sha256Hex(record.accessToken)}`, fields(record));
  }
}

/**
 * Tables an authorization server might have (column names of its own choosing), and the queries
 * that map them to record fields. Timestamps as a real server keeps them: issued_at as a
 * timestamp column, revocation as a boolean.
 */
async function writeToSql(
  db: TestDatabase,
  dialect: SqlDialect,
  credentials: CredentialsFile,
): Promise<SqlQueries> {
  const bool = dialect === 'postgres' ? 'BOOLEAN' : 'TINYINT(1)';
  await db.exec(
    'CREATE TABLE consumers (id INTEGER PRIMARY KEY, consumer_key VARCHAR(64) NOT NULL UNIQUE, secret VARCHAR(120) NOT NULL, rsa_key TEXT)',
  );
  await db.exec(
    'CREATE TABLE oauth1_tokens (token VARCHAR(84) PRIMARY KEY, token_secret VARCHAR(84) NOT NULL, consumer_key VARCHAR(64) NOT NULL, owner VARCHAR(64), scope TEXT)',
  );
  await db.exec(
    `CREATE TABLE access_tokens (token VARCHAR(255) PRIMARY KEY, client VARCHAR(64) NOT NULL, user_id VARCHAR(64), scope TEXT, revoked ${bool} NOT NULL, issued_at BIGINT NOT NULL, expires_in INTEGER NOT NULL, aud TEXT)`,
  );
  const p = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const ps = (count: number) => Array.from({ length: count }, (_, i) => p(i + 1)).join(', ');
  let id = 0;
  for (const c of credentials.clients) {
    await db.exec(`INSERT INTO consumers VALUES (${ps(4)})`, [
      ++id,
      c.clientId,
      c.clientSecret,
      c.rsaPublicKey ?? null,
    ]);
  }
  for (const t of credentials.tokens) {
    await db.exec(`INSERT INTO oauth1_tokens VALUES (${ps(5)})`, [
      t.token,
      t.tokenSecret,
      t.clientId,
      t.userId ?? null,
      t.scope ?? null,
    ]);
  }
  for (const b of credentials.bearerTokens) {
    const aud =
      b.audience === undefined || b.audience === null
        ? null
        : Array.isArray(b.audience)
          ? JSON.stringify(b.audience)
          : b.audience;
    await db.exec(`INSERT INTO access_tokens VALUES (${ps(8)})`, [
      b.accessToken,
      b.clientId,
      b.userId ?? null,
      b.scope ?? null,
      b.revoked,
      b.issuedAt,
      b.expiresIn,
      aud,
    ]);
  }
  const one = p(1);
  return {
    client: `SELECT consumer_key AS client_id, secret AS client_secret, rsa_key AS rsa_public_key FROM consumers WHERE consumer_key = ${one}`,
    token:
      `SELECT token, token_secret, consumer_key AS "clientId", owner AS user_id, scope FROM oauth1_tokens WHERE token = ${one}`.replaceAll(
        '"clientId"',
        dialect === 'postgres' ? '"clientId"' : '`clientId`',
      ),
    bearerToken: `SELECT client AS client_id, user_id, scope, revoked, issued_at, expires_in, aud AS audience FROM access_tokens WHERE token = ${one}`,
  };
}

const postgres = await createPostgresDatabase('ogw_conformance');
const mariadb = await createMysqlDatabase('ogw_conformance');
const sqlDrivers: SqlDriver[] = [];
async function sqlStore(db: TestDatabase, dialect: SqlDialect): Promise<SqlCredentialStore> {
  const queries = await writeToSql(db, dialect, file);
  const driver = await openSqlDriver({
    url: db.url,
    pool: { max: 4, idleTimeout: 10_000, connectTimeout: 2000 },
    statementTimeout: 2000,
  });
  sqlDrivers.push(driver);
  return new SqlCredentialStore(driver, {
    queries,
    cacheTtlMs: 1000,
    negativeTtlMs: 1000,
    maxEntries: 1000,
    maxPending: 100,
  });
}
const postgresStore = await sqlStore(postgres, 'postgres');
const mariadbStore = await sqlStore(mariadb, 'mysql');

const config = testRedisConfig(inject('redisUrl'));
const connection = createRedisClient(config);
const writer = new Redis(config.url);

beforeAll(() => writeToRedis(writer, config.keyPrefix, file));
afterAll(async () => {
  const keys = await writer.keys(`${config.keyPrefix}*`);
  if (keys.length > 0) await writer.del(...keys);
  writer.disconnect();
  await connection.close();
  for (const driver of sqlDrivers) await driver.close();
  await postgres.drop();
  await mariadb.drop();
});

describe.each<[string, () => CredentialStore]>([
  ['FileCredentialStore', () => new FileCredentialStore(file)],
  ['RedisCredentialStore', () => new RedisCredentialStore(connection, { cacheTtlMs: 1000 })],
  ['SqlCredentialStore (PostgreSQL)', () => postgresStore],
  ['SqlCredentialStore (MariaDB)', () => mariadbStore],
])('%s', (_name, createStore) => {
  const store = createStore();

  it('finds an HMAC-only client with its secret and no RSA key', async () => {
    const client = await store.getClient('hmac-client');
    expect(client).toEqual({
      clientId: 'hmac-client',
      clientSecret: 'kd94hf93k423kf44',
      rsaPublicKey: undefined,
    });
  });

  it.each([
    ['spki-client', wiki],
    ['cert-client', wiki],
    ['pkcs1-client', pkcs1],
  ])(
    'parses the RSA key of %s into a key that verifies its published signature',
    async (clientId, vector) => {
      const client = await store.getClient(clientId);
      expect(client?.rsaPublicKey?.asymmetricKeyType).toBe('rsa');
      const hash = vector.signatureMethod === 'RSA-SHA256' ? 'sha256' : 'sha1';
      const data = Buffer.from(vector.baseString);
      const signature = Buffer.from(vector.signature, 'base64');
      expect(verify(hash, data, client!.rsaPublicKey!, signature)).toBe(true);
      expect(verify(hash, Buffer.from(`${vector.baseString}x`), client!.rsaPublicKey!, signature)).toBe(
        false,
      );
    },
  );

  it('finds token credentials with the user and the scope split into a list', async () => {
    expect(await store.getToken('nnch734d00sl2jdk')).toEqual({
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      clientId: 'hmac-client',
      userId: 'alice',
      scopes: ['photos:read', 'photos:write'],
    });
    expect(await store.getToken('two-legged-ish')).toEqual({
      token: 'two-legged-ish',
      tokenSecret: 'ts2',
      clientId: 'spki-client',
      userId: undefined,
      scopes: [],
    });
  });

  it('finds bearer tokens by the token itself (stored by sha256)', async () => {
    expect(await store.getBearerToken('2YotnFZFEjr1zCsicMWpAA')).toEqual({
      clientId: 'demo-client',
      userId: 'alice',
      scopes: ['photos:read', 'photos:write'],
      revoked: false,
      issuedAt: 1700000000,
      expiresIn: 3600,
      audience: ['https://api.example.com'],
    });
    expect(await store.getBearerToken('revoked-token')).toEqual({
      clientId: 'demo-client',
      userId: undefined,
      scopes: [],
      revoked: true,
      issuedAt: 1700000100,
      expiresIn: 0,
      audience: ['https://a.example', 'https://b.example'],
    });
    expect(await store.getBearerToken('machine-token')).toMatchObject({
      clientId: 'svc',
      scopes: ['jobs:run'],
    });
  });

  it('answers undefined for anything unknown', async () => {
    expect(await store.getClient('nobody')).toBeUndefined();
    expect(await store.getClient('HMAC-CLIENT')).toBeUndefined();
    expect(await store.getToken('unknown-token')).toBeUndefined();
    expect(await store.getBearerToken('unknown-bearer')).toBeUndefined();
    // The storage key is not a credential: presenting the hash must not find the token.
    expect(await store.getBearerToken(sha256Hex('2YotnFZFEjr1zCsicMWpAA'))).toBeUndefined();
    // An OAuth1 token is not a bearer token and vice versa.
    expect(await store.getBearerToken('nnch734d00sl2jdk')).toBeUndefined();
    expect(await store.getToken('2YotnFZFEjr1zCsicMWpAA')).toBeUndefined();
  });

  it('answers the same record twice in a row (cache or not)', async () => {
    const first = await store.getToken('nnch734d00sl2jdk');
    const second = await store.getToken('nnch734d00sl2jdk');
    expect(second).toEqual(first);
  });

  it('reports itself ready', async () => {
    expect(await store.ping()).toBe(true);
  });
});

describe('FileCredentialStore load errors', () => {
  it('lists every unusable record by position without echoing secrets', () => {
    const bad = credentialsFileSchema.parse({
      clients: [
        {
          clientId: 'a',
          clientSecret: 'x',
          rsaPublicKey: '-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----',
        },
        { clientId: 'b', clientSecret: 'y' },
        { clientId: 'b', clientSecret: 'z' },
      ],
      tokens: [
        { token: 'secret-token-value', tokenSecret: 't', clientId: 'b' },
        { token: 'secret-token-value', tokenSecret: 't', clientId: 'b' },
      ],
    });
    let issues: readonly string[] = [];
    try {
      new FileCredentialStore(bad);
    } catch (error) {
      issues = (error as { issues: readonly string[] }).issues;
    }
    expect(issues).toEqual([
      'credentials.yaml: clients[0].rsaPublicKey: not a valid RSA public key or certificate',
      'credentials.yaml: clients[2].clientId: duplicate client "b"',
      'credentials.yaml: tokens[1].token: duplicate token',
    ]);
    expect(issues.join('\n')).not.toContain('secret-token-value');
  });

  it('rejects a non-RSA public key for an RSA client', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const bad = credentialsFileSchema.parse({
      clients: [{ clientId: 'ec', clientSecret: 'x', rsaPublicKey: pem }],
    });
    expect(() => new FileCredentialStore(bad)).toThrow(/clients\[0\]\.rsaPublicKey/);
  });
});
