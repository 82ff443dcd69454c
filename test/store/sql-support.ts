import { randomBytes } from 'node:crypto';
import { createConnection as createMysqlConnection } from 'mysql2/promise';
import pg from 'pg';

/**
 * Real databases for SQL store tests: PostgreSQL (POSTGRES_URL, default postgres://postgres@
 * 127.0.0.1:5432/postgres, trust) and MariaDB/MySQL (MYSQL_URL, default mysql://root@127.0.0.1:3306).
 * Each test file creates its own uniquely named database and drops it after (`drop()`), so files
 * running in parallel never see each other's rows. .ci/run makes sure both servers answer.
 */

export const POSTGRES_ADMIN_URL =
  process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env['MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306';

export interface TestDatabase {
  /** URL of the new database, for the gateway. */
  readonly url: string;
  readonly name: string;
  /** Run setup/fixture SQL as the admin user in the new database. */
  exec(sql: string, params?: readonly unknown[]): Promise<unknown[]>;
  drop(): Promise<void>;
}

function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export async function createPostgresDatabase(prefix = 'ogw_test'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(POSTGRES_ADMIN_URL, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    name,
    exec: async (sql, params) => (await client.query(sql, params as unknown[] | undefined)).rows,
    drop: async () => {
      await client.end();
      const dropper = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

export async function createMysqlDatabase(prefix = 'ogw_test'): Promise<TestDatabase> {
  const name = uniqueName(prefix);
  const admin = await createMysqlConnection({ uri: MYSQL_ADMIN_URL });
  try {
    await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(MYSQL_ADMIN_URL, name);
  const connection = await createMysqlConnection({ uri: url, timezone: 'Z' });
  return {
    url,
    name,
    exec: async (sql, params) => {
      const [rows] = await connection.query(sql, params as unknown[] | undefined);
      return Array.isArray(rows) ? (rows as unknown[]) : [];
    },
    drop: async () => {
      await connection.end();
      const dropper = await createMysqlConnection({ uri: MYSQL_ADMIN_URL });
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name}`);
      } finally {
        await dropper.end();
      }
    },
  };
}
