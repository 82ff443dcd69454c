import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../../../src/errors.js';
import { openSqlDriver, type SqlDriver } from '../../../src/store/sql-driver.js';
import { makeTestPki, type TestPki } from '../../egress/helpers.js';
import { PrivatePostgres } from './private-postgres.js';

/**
 * credentials.sql.tls against a PostgreSQL of the test's own serving TLS with a certificate from a
 * throwaway CA: trusting that CA connects over TLS (the server confirms it in pg_stat_ssl); trusting
 * another CA is refused (503), never silently downgraded.
 */

let pki: TestPki;
let server: PrivatePostgres;
const drivers: SqlDriver[] = [];

const SSL_QUERY = 'SELECT s.ssl AS ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid() AND $1 = $1';

function driver(ca: string): Promise<SqlDriver> {
  return openSqlDriver({
    url: server.url(),
    tls: { ca, rejectUnauthorized: true },
    pool: { max: 1, idleTimeout: 5000, connectTimeout: 2000 },
    statementTimeout: 2000,
  }).then((d) => {
    drivers.push(d);
    return d;
  });
}

beforeAll(async () => {
  pki = await makeTestPki();
  server = await PrivatePostgres.start(
    ['ssl=on', 'ssl_cert_file={dir}/server.crt', 'ssl_key_file={dir}/server.key'],
    async (dir) => {
      copyFileSync(pki.certFile, join(dir, 'server.crt'));
      copyFileSync(pki.keyFile, join(dir, 'server.key'));
      chmodSync(join(dir, 'server.key'), 0o600);
      if (process.getuid?.() === 0) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        for (const file of ['server.crt', 'server.key']) chownSync(join(dir, file), uid, gid);
      }
    },
  );
}, 60_000);

afterAll(async () => {
  for (const d of drivers) await d.close();
  await server?.destroy();
  await pki?.dispose();
});

describe('credentials.sql.tls (PostgreSQL)', () => {
  it('connects over TLS when the server certificate chains to the configured CA', async () => {
    const d = await driver(pki.caFile);
    const result = await d.query('client', SSL_QUERY, 'x');
    expect(result.rows).toEqual([{ ssl: true }]);
  });

  it('refuses a server whose certificate does not chain to the configured CA (503, no fallback)', async () => {
    const d = await driver(pki.otherCaFile);
    await expect(d.query('client', SSL_QUERY, 'x')).rejects.toBeInstanceOf(TemporarilyUnavailable);
    expect(await d.ping()).toBe(false);
  });
});
