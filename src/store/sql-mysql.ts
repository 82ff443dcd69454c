/**
 * MySQL / MariaDB for the SQL credential store: the one module that imports `mysql2`, loaded on
 * demand by sql-driver.ts. Each connection is set read-only with a server-side statement time
 * limit (MariaDB max_statement_time, MySQL max_execution_time — each server ignores the other's);
 * the gateway keeps its own deadline too and drops a connection whose query did not come back.
 */
import {
  createPool,
  type FieldPacket,
  type Pool,
  type PoolConnection,
  type RowDataPacket,
} from 'mysql2/promise';
import { TemporarilyUnavailable } from '../errors.js';
import {
  SqlDataError,
  type SqlDriver,
  type SqlDriverEvents,
  type SqlDriverOptions,
  type SqlResult,
  tlsOptions,
  withDeadline,
} from './sql-driver.js';

const CLIENT_GRACE_MS = 250;

interface CoreConnection {
  query(sql: string, callback: (error: Error | null) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

/** mysql2 marks server-reported errors with an SQLSTATE; socket/protocol errors have none. */
function sqlState(error: unknown): string | undefined {
  const state = (error as { sqlState?: unknown }).sqlState;
  return typeof state === 'string' && state !== '' ? state : undefined;
}

class MysqlDriver implements SqlDriver {
  readonly dialect = 'mysql' as const;
  readonly #pool: Pool;
  readonly #statementTimeoutMs: number;
  readonly #connectTimeoutMs: number;

  constructor(options: SqlDriverOptions, events: SqlDriverEvents) {
    const ssl = tlsOptions(options);
    this.#statementTimeoutMs = options.statementTimeout;
    this.#connectTimeoutMs = options.pool.connectTimeout;
    this.#pool = createPool({
      // mysql2 knows mysql:// only; MariaDB speaks the same protocol.
      uri: options.url.replace(/^mariadb:/i, 'mysql:'),
      ...(ssl === undefined ? {} : { ssl }),
      connectionLimit: options.pool.max,
      maxIdle: options.pool.max,
      idleTimeout: options.pool.idleTimeout,
      connectTimeout: options.pool.connectTimeout,
      waitForConnections: true,
      // DATETIME columns hold UTC (Django with USE_TZ); read them as UTC, not local time.
      timezone: 'Z',
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
    });
    const seconds = Math.max(0.001, options.statementTimeout / 1000);
    this.#pool.on('connection', (connection) => {
      const core = connection as unknown as CoreConnection;
      // A connection that breaks while idle must not crash the process; lookups on it fail alone.
      core.on('error', (error) => events.onError?.(error.message));
      // Each runs before any lookup on this connection (commands are queued in order). A server
      // that does not know a variable answers an error, which is ignored.
      core.query('SET SESSION TRANSACTION READ ONLY', () => {});
      core.query(`SET SESSION max_statement_time = ${seconds}`, () => {});
      core.query(`SET SESSION max_execution_time = ${Math.ceil(options.statementTimeout)}`, () => {});
    });
  }

  async #connection(): Promise<PoolConnection> {
    try {
      // mysql2 waits for a free connection without a limit: bound it, and give back a late one.
      return await withDeadline(this.#pool.getConnection(), this.#connectTimeoutMs, 'connect', (late) =>
        late.release(),
      );
    } catch (error) {
      throw error instanceof TemporarilyUnavailable ? error : new TemporarilyUnavailable(error);
    }
  }

  async query(name: string, text: string, param: string): Promise<SqlResult> {
    const connection = await this.#connection();
    // execute: a server-side prepared statement, the value travels as a bound parameter.
    const running = connection.execute<RowDataPacket[]>({ sql: text }, [param]);
    let broken = false;
    try {
      const [rows, fields] = await withDeadline(
        running,
        this.#statementTimeoutMs + CLIENT_GRACE_MS,
        `query ${name}`,
      );
      return { rows, columns: (fields as FieldPacket[]).map((field) => field.name) };
    } catch (error) {
      const state = sqlState(error);
      if (state !== undefined && !(error as { fatal?: boolean }).fatal) {
        if (state.startsWith('22')) throw new SqlDataError(state);
        throw new TemporarilyUnavailable(error);
      }
      broken = true;
      running.catch(() => {});
      throw error instanceof TemporarilyUnavailable ? error : new TemporarilyUnavailable(error);
    } finally {
      if (broken) connection.destroy();
      else connection.release();
    }
  }

  async ping(): Promise<boolean> {
    try {
      const connection = await this.#connection();
      const running = connection.query('SELECT 1');
      running.catch(() => {});
      try {
        await withDeadline(running, this.#statementTimeoutMs + CLIENT_GRACE_MS, 'ping');
        connection.release();
      } catch {
        connection.destroy();
        return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => {});
  }
}

export function createMysqlDriver(options: SqlDriverOptions, events: SqlDriverEvents = {}): SqlDriver {
  return new MysqlDriver(options, events);
}
