import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../src/errors.js';
import { openSqlDriver, type SqlDriver } from '../../src/store/sql-driver.js';
import { presetQueries, type SqlQueries } from '../../src/store/sql-queries.js';
import { SqlCredentialStore, type SqlStoreObserver } from '../../src/store/sql-store.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from './sql-support.js';

/**
 * SqlCredentialStore behaviour beyond the shared conformance file, against real PostgreSQL and
 * MariaDB: cache and negative-cache bounds, statement timeout, result-column checks, ambiguous
 * rows, the pending-lookup bound, NOTIFY eviction and `check --connect`'s verify().
 */

let postgres: TestDatabase;
let mariadb: TestDatabase;
const drivers: SqlDriver[] = [];

const PG_QUERIES: SqlQueries = {
  client: 'SELECT client_id, client_secret FROM clients WHERE client_id = $1',
  token: 'SELECT token, token_secret, client_id, user_id FROM tokens WHERE token = $1',
  bearerToken:
    'SELECT client_id, user_id, scope, issued_at, expires_in, revoked_at FROM bearer WHERE token = $1',
};

async function driverFor(db: TestDatabase, statementTimeout = 2000): Promise<SqlDriver> {
  const driver = await openSqlDriver({
    url: db.url,
    pool: { max: 2, idleTimeout: 5000, connectTimeout: 1000 },
    statementTimeout,
  });
  drivers.push(driver);
  return driver;
}

function store(
  driver: SqlDriver,
  queries: SqlQueries,
  options: Partial<{ ttl: number; negative: number; maxPending: number; notifyChannel: string }> = {},
  observer: SqlStoreObserver = {},
) {
  return new SqlCredentialStore(driver, {
    queries,
    cacheTtlMs: options.ttl ?? 60_000,
    negativeTtlMs: options.negative ?? 60_000,
    maxEntries: 1000,
    maxPending: options.maxPending ?? 100,
    notifyChannel: options.notifyChannel,
    observer,
  });
}

beforeAll(async () => {
  postgres = await createPostgresDatabase('ogw_sqlstore');
  mariadb = await createMysqlDatabase('ogw_sqlstore');
  for (const db of [postgres, mariadb]) {
    await db.exec(
      'CREATE TABLE clients (client_id VARCHAR(64) NOT NULL, client_secret VARCHAR(64) NOT NULL)',
    );
    await db.exec(
      'CREATE TABLE tokens (token VARCHAR(64) PRIMARY KEY, token_secret VARCHAR(64), client_id VARCHAR(64), user_id INTEGER)',
    );
    await db.exec(
      'CREATE TABLE bearer (token VARCHAR(64) PRIMARY KEY, client_id VARCHAR(64), user_id BIGINT, scope TEXT, issued_at INTEGER, expires_in INTEGER, revoked_at INTEGER)',
    );
  }
  await postgres.exec("INSERT INTO clients VALUES ('c1', 's1'), ('dup', 'a'), ('dup', 'b')");
  await postgres.exec("INSERT INTO tokens VALUES ('t1', 'ts1', 'c1', 7)");
  await postgres.exec("INSERT INTO bearer VALUES ('b1', 'c1', 9007199254740993, 'read', 1700000000, 0, 0)");
});

afterAll(async () => {
  for (const driver of drivers) await driver.close();
  await postgres?.drop();
  await mariadb?.drop();
});

describe('SqlCredentialStore (PostgreSQL)', () => {
  it('keeps a found record cacheTtl and an unknown key negativeTtl, each counted from the answer', async () => {
    const queries: string[] = [];
    const s = store(
      await driverFor(postgres),
      PG_QUERIES,
      { ttl: 400, negative: 150 },
      { onQuery: (name, outcome) => queries.push(`${name}:${outcome}`) },
    );
    expect((await s.getToken('t1'))?.userId).toBe('7');
    expect(await s.getToken('late')).toBeUndefined();
    await postgres.exec("INSERT INTO tokens VALUES ('late', 'x', 'c1', 8)");
    await postgres.exec("UPDATE tokens SET user_id = 70 WHERE token = 't1'");
    // Both still answered from cache…
    expect((await s.getToken('t1'))?.userId).toBe('7');
    expect(await s.getToken('late')).toBeUndefined();
    // …the negative entry expires first, then the positive one.
    await new Promise((r) => setTimeout(r, 200));
    expect((await s.getToken('late'))?.userId).toBe('8');
    expect((await s.getToken('t1'))?.userId).toBe('7');
    await new Promise((r) => setTimeout(r, 300));
    expect((await s.getToken('t1'))?.userId).toBe('70');
    expect(queries).toEqual(['token:found', 'token:missing', 'token:found', 'token:found']);
  });

  it('reads a BIGINT user id exactly, as a decimal string', async () => {
    const s = store(await driverFor(postgres), PG_QUERIES);
    expect(await s.getBearerToken('b1')).toMatchObject({
      userId: '9007199254740993',
      scopes: ['read'],
      revoked: false,
    });
  });

  it('two rows for one key are ambiguous: unknown, and the operator is told', async () => {
    const problems: string[] = [];
    const s = store(await driverFor(postgres), PG_QUERIES, {}, { onProblem: (m) => problems.push(m) });
    expect(await s.getClient('dup')).toBeUndefined();
    expect(await s.getClient('c1')).toMatchObject({ clientSecret: 's1' });
    expect(problems).toEqual([
      'credentials.sql query "client" returned 2 rows for one key; treated as unknown',
    ]);
  });

  it('a query that cannot yield a record fails closed (503) and names the query and the column', async () => {
    const problems: string[] = [];
    const s = store(
      await driverFor(postgres),
      { client: 'SELECT client_id FROM clients WHERE client_id = $1' },
      {},
      { onProblem: (m) => problems.push(m) },
    );
    await expect(s.getClient('c1')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(problems[0]).toBe('credentials.sql query "client" returns no column clientsecret');
    expect(await s.verify()).toEqual(['credentials.sql.queries.client: returns no column clientsecret']);
  });

  it('verify() reports a missing table with the database message, per query', async () => {
    const s = store(await driverFor(postgres), {
      ...PG_QUERIES,
      token: 'SELECT token, token_secret, client_id FROM no_such_table WHERE token = $1',
    });
    expect(await s.verify()).toEqual([
      'credentials.sql.queries.token: relation "no_such_table" does not exist',
    ]);
  });

  it('a query slower than statementTimeout answers 503 in about that time, not later', async () => {
    const s = store(await driverFor(postgres, 200), {
      client: 'SELECT client_id, client_secret FROM clients, pg_sleep(2) WHERE client_id = $1',
    });
    const started = performance.now();
    await expect(s.getClient('c1')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('a value that cannot match the column type (text for INTEGER, NUL) is unknown, not an outage', async () => {
    const s = store(await driverFor(postgres), {
      token: 'SELECT token, token_secret, client_id FROM tokens WHERE user_id = $1',
    });
    expect(await s.getToken("' OR 1=1 --")).toBeUndefined();
    const s2 = store(await driverFor(postgres), PG_QUERIES);
    expect(await s2.getToken('t1\u0000')).toBeUndefined();
  });

  it('beyond maxPending concurrent misses, lookups fail at once instead of queueing', async () => {
    const s = store(
      await driverFor(postgres),
      { client: 'SELECT client_id, client_secret FROM clients, pg_sleep(0.3) WHERE client_id = $1' },
      { maxPending: 3 },
    );
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => s.getClient(`k${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(
      results.filter((r) => r.status === 'rejected' && r.reason instanceof TemporarilyUnavailable),
    ).toHaveLength(3);
  });

  it('notifyChannel: a NOTIFY evicts the named record at once', async () => {
    const s = store(await driverFor(postgres), PG_QUERIES, { notifyChannel: 'ogw_test_evict' });
    await new Promise((r) => setTimeout(r, 300)); // LISTEN connection up
    expect(await s.getClient('c1')).toMatchObject({ clientSecret: 's1' });
    await postgres.exec("UPDATE clients SET client_secret = 's1-rotated' WHERE client_id = 'c1'");
    expect(await s.getClient('c1')).toMatchObject({ clientSecret: 's1' }); // cached for a minute
    await postgres.exec("SELECT pg_notify('ogw_test_evict', 'client:c1')");
    const deadline = Date.now() + 1000;
    let secret: string | undefined;
    while (Date.now() < deadline) {
      secret = (await s.getClient('c1'))?.clientSecret;
      if (secret === 's1-rotated') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(secret).toBe('s1-rotated');
    await postgres.exec("UPDATE clients SET client_secret = 's1' WHERE client_id = 'c1'");
    await s.close();
  });
});

describe('SqlCredentialStore (MariaDB)', () => {
  it('a BIGINT beyond 2^53 and an INTEGER user id both come back as exact decimal strings', async () => {
    await mariadb.exec(
      "INSERT INTO bearer VALUES ('b1', 'c1', 9007199254740993, 'read', 1700000000, 0, NULL)",
    );
    await mariadb.exec("INSERT INTO tokens VALUES ('t1', 'ts1', 'c1', 7)");
    const driver = await driverFor(mariadb);
    const s = store(driver, {
      token: 'SELECT token, token_secret, client_id, user_id FROM tokens WHERE token = ?',
      bearerToken:
        'SELECT client_id, user_id, scope, issued_at, expires_in, revoked_at FROM bearer WHERE token = ?',
    });
    expect((await s.getBearerToken('b1'))?.userId).toBe('9007199254740993');
    expect((await s.getToken('t1'))?.userId).toBe('7');
  });

  it('a query slower than statementTimeout answers 503 promptly', async () => {
    const s = store(await driverFor(mariadb, 200), {
      client: 'SELECT client_id, client_secret, SLEEP(2) AS z FROM clients WHERE client_id = ?',
    });
    await mariadb.exec("INSERT INTO clients VALUES ('c1', 's1')");
    const started = performance.now();
    await expect(s.getClient('c1')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(performance.now() - started).toBeLessThan(1500);
    // The pool still works afterwards.
    const ok = store(await driverFor(mariadb), {
      client: 'SELECT client_id, client_secret FROM clients WHERE client_id = ?',
    });
    expect(await ok.getClient('c1')).toMatchObject({ clientSecret: 's1' });
  });

  it.each(['postgres', 'mariadb'])(
    'the %s connection is read-only: a write is refused by the server',
    async (which) => {
      const db = which === 'postgres' ? postgres : mariadb;
      const p = which === 'postgres' ? '$1' : '?';
      const driver = await driverFor(db);
      await expect(
        driver.query('client', `DELETE FROM clients WHERE client_id = ${p}`, 'c1'),
      ).rejects.toBeInstanceOf(TemporarilyUnavailable);
      expect(await db.exec("SELECT client_id FROM clients WHERE client_id = 'c1'")).toHaveLength(1);
    },
  );
});

describe.each(['postgres', 'mariadb'])('django-oauth2-provider preset (%s)', (which) => {
  // provider.oauth2.models as its migrations create them (the package is not in Debian, so the
  // tables are written here): scope is a bit mask, read = 2, write = 4 (provider.constants).
  it('reads the bit-mask scope as names, the client FK as the public client_id, expires as a timestamp', async () => {
    const db = which === 'postgres' ? postgres : mariadb;
    const dt = which === 'postgres' ? 'TIMESTAMP' : 'DATETIME(6)';
    await db.exec(
      'CREATE TABLE oauth2_client (id INTEGER PRIMARY KEY, user_id INTEGER, name VARCHAR(255), url VARCHAR(200), redirect_uri VARCHAR(200), client_id VARCHAR(255) NOT NULL, client_secret VARCHAR(255) NOT NULL, client_type INTEGER NOT NULL)',
    );
    await db.exec(
      `CREATE TABLE oauth2_accesstoken (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, token VARCHAR(255) NOT NULL, client_id INTEGER NOT NULL REFERENCES oauth2_client (id), expires ${dt} NOT NULL, scope INTEGER NOT NULL)`,
    );
    await db.exec("INSERT INTO oauth2_client VALUES (1, 5, 'app', '', '', 'dop-public-id', 'secret', 0)");
    const future = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    const past = new Date(Date.now() - 60_000).toISOString().slice(0, 19).replace('T', ' ');
    await db.exec(
      `INSERT INTO oauth2_accesstoken VALUES (1, 5, 'dop-rw', 1, '${future}', 6), (2, 5, 'dop-r', 1, '${future}', 2), (3, 5, 'dop-old', 1, '${past}', 4)`,
    );
    const driver = await driverFor(db);
    const s = store(
      driver,
      presetQueries({ name: 'django-oauth2-provider', tables: {}, user: 'id' }, driver.dialect),
    );
    const rw = await s.getBearerToken('dop-rw');
    expect(rw).toMatchObject({
      clientId: 'dop-public-id',
      userId: '5',
      scopes: ['read', 'write'],
      revoked: false,
    });
    expect(Math.abs(rw!.issuedAt + rw!.expiresIn - Date.parse(`${future}Z`) / 1000)).toBeLessThanOrEqual(1);
    expect((await s.getBearerToken('dop-r'))?.scopes).toEqual(['read']);
    const old = await s.getBearerToken('dop-old');
    expect((old!.issuedAt + old!.expiresIn) * 1000).toBeLessThan(Date.now());
    expect(await s.getBearerToken('dop-none')).toBeUndefined();
  });
});
