import { readFileSync } from 'node:fs';
import { TemporarilyUnavailable } from '../errors.js';
import { dialectOfUrl, type SqlDialect } from './sql-queries.js';
import type { SqlRow } from './sql-records.js';

/**
 * The narrow interface the SQL credential store needs from a database driver. Two
 * implementations, each the only importer of its driver and loaded only when configured:
 * sql-postgres.ts (pg) and sql-mysql.ts (mysql2). Neither is imported statically anywhere, so a
 * gateway without SQL credentials never loads them.
 */

export interface SqlResult {
  readonly rows: readonly SqlRow[];
  /** Result column names, known even when no row matched. */
  readonly columns: readonly string[];
}

/** The database said the value cannot match (SQLSTATE class 22, e.g. text for an INTEGER id). */
export class SqlDataError extends Error {}

export interface SqlDriver {
  readonly dialect: SqlDialect;
  /**
   * One parameterised SELECT, `param` bound as its single parameter (`$1` / `?`). Rejects with
   * TemporarilyUnavailable when the database cannot answer within the timeouts (cause: the driver
   * error), with SqlDataError when the value cannot match any row.
   */
  query(name: string, text: string, param: string): Promise<SqlResult>;
  /** SELECT 1 within the timeouts; never rejects. */
  ping(): Promise<boolean>;
  /**
   * PostgreSQL only: LISTEN on `channel` (one dedicated connection, reconnecting until closed).
   * `onLost` is called whenever notifications may have been missed. Returns the unsubscribe.
   */
  listen?(channel: string, onNotify: (payload: string) => void, onLost: () => void): () => void;
  close(): Promise<void>;
}

export interface SqlDriverOptions {
  readonly url: string;
  readonly tls?:
    | {
        readonly ca?: string | undefined;
        readonly rejectUnauthorized: boolean;
        readonly servername?: string | undefined;
      }
    | undefined;
  readonly pool: { readonly max: number; readonly idleTimeout: number; readonly connectTimeout: number };
  /** ms. */
  readonly statementTimeout: number;
}

export interface SqlDriverEvents {
  /** Connection-level trouble (refused, reset, auth): the message never holds the password. */
  onError?: (message: string) => void;
}

export interface TlsOptions {
  ca?: string;
  rejectUnauthorized: boolean;
  servername?: string;
}

/** TLS options for either driver; the CA file is read once when the pool is created. */
export function tlsOptions(options: SqlDriverOptions): TlsOptions | undefined {
  const tls = options.tls;
  if (tls === undefined) return undefined;
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca === undefined ? {} : { ca: readFileSync(tls.ca, 'utf8') }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  };
}

/**
 * Resolves like `promise`, or rejects with TemporarilyUnavailable after `ms`; `onLate` receives
 * the value if it arrives after that (so a connection acquired too late is given back).
 */
export function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new TemporarilyUnavailable(new Error(`${what} timed out after ${ms}ms`)));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (expired) onLate?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!expired) reject(error);
      },
    );
  });
}

/** Loads the driver module the URL asks for. */
export async function openSqlDriver(
  options: SqlDriverOptions,
  events: SqlDriverEvents = {},
): Promise<SqlDriver> {
  const dialect = dialectOfUrl(options.url);
  if (dialect === 'postgres') {
    const { createPostgresDriver } = await import('./sql-postgres.js');
    return createPostgresDriver(options, events);
  }
  if (dialect === 'mysql') {
    const { createMysqlDriver } = await import('./sql-mysql.js');
    return createMysqlDriver(options, events);
  }
  throw new Error('credentials.sql.url: unsupported scheme');
}
