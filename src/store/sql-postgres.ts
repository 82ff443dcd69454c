/**
 * PostgreSQL for the SQL credential store: the one module that imports `pg`, loaded on demand by
 * sql-driver.ts. Every connection is opened read-only (default_transaction_read_only) with the
 * server-side statement_timeout; the gateway also keeps its own deadline, so a database that stops
 * answering (network gone, process stopped) fails the lookup in time and the connection is dropped.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
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

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;
/** Beyond the server's statement_timeout: the round trip that reports it. */
const CLIENT_GRACE_MS = 250;

/**
 * `timestamp without time zone` read as UTC, not as the gateway's local time: Django (USE_TZ
 * with TIME_ZONE = 'UTC') and SQLAlchemy `DateTime` columns hold UTC there.
 */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === TIMESTAMP_WITHOUT_TIME_ZONE && format !== 'binary') {
    return (value: string) => new Date(`${value.replace(' ', 'T')}Z`);
  }
  return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
}

function isDatabaseError(error: unknown): error is pg.DatabaseError {
  return error instanceof pg.DatabaseError;
}

class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #config: pg.ClientConfig;
  readonly #statementTimeoutMs: number;
  readonly #events: SqlDriverEvents;
  #listener: pg.Client | undefined;
  #listenChannel: string | undefined;
  readonly #subscribers = new Set<{ onNotify(payload: string): void; onLost(): void }>();
  #closed = false;

  constructor(options: SqlDriverOptions, events: SqlDriverEvents) {
    const ssl = tlsOptions(options);
    this.#statementTimeoutMs = options.statementTimeout;
    this.#events = events;
    this.#config = {
      connectionString: options.url,
      ...(ssl === undefined ? {} : { ssl }),
      connectionTimeoutMillis: options.pool.connectTimeout,
      statement_timeout: options.statementTimeout,
      application_name: 'oauth-gateway',
      // Read-only whatever the role may do: the gateway never writes the provider's tables.
      options: '-c default_transaction_read_only=on',
      types: { getTypeParser } as pg.CustomTypesConfig,
    };
    this.#pool = new pg.Pool({
      ...this.#config,
      max: options.pool.max,
      idleTimeoutMillis: options.pool.idleTimeout,
      allowExitOnIdle: true,
    });
    // An idle connection that breaks (server restart) is reported here; unhandled it would crash.
    this.#pool.on('error', (error) => events.onError?.(error.message));
    // So would a checked-out connection that breaks between queries: pg emits that on the client.
    // The lookup using it fails on its own (→ 503) and release(true) drops it.
    this.#pool.on('connect', (client) => client.on('error', (error) => events.onError?.(error.message)));
  }

  async query(name: string, text: string, param: string): Promise<SqlResult> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw new TemporarilyUnavailable(error);
    }
    // A named statement is parsed once per connection and can only ever bind, never splice.
    const statement = `oauth-gateway:${name}:${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    const running = client.query({ name: statement, text, values: [param] });
    let broken = false;
    try {
      const result = await withDeadline(running, this.#statementTimeoutMs + CLIENT_GRACE_MS, `query ${name}`);
      return { rows: result.rows as SqlResult['rows'], columns: result.fields.map((field) => field.name) };
    } catch (error) {
      if (isDatabaseError(error)) {
        // Class 22 (data exception): e.g. NUL in a string or text for an INTEGER key; no row can match.
        if (error.code?.startsWith('22') === true) throw new SqlDataError(error.code);
        throw new TemporarilyUnavailable(error);
      }
      broken = true;
      running.catch(() => {});
      throw error instanceof TemporarilyUnavailable ? error : new TemporarilyUnavailable(error);
    } finally {
      // A connection whose query timed out or failed at the socket is dropped, not reused.
      client.release(broken);
    }
  }

  async ping(): Promise<boolean> {
    try {
      const client = await this.#pool.connect();
      let broken = false;
      try {
        const running = client.query('SELECT 1');
        running.catch(() => {});
        await withDeadline(running, this.#statementTimeoutMs + CLIENT_GRACE_MS, 'ping');
      } catch (error) {
        broken = !isDatabaseError(error);
        throw error;
      } finally {
        client.release(broken);
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * LISTEN on its own connection (a pooled one would be handed to queries), reconnecting with
   * backoff until closed. Stores subscribe and unsubscribe as reloads replace them.
   */
  listen(channel: string, onNotify: (payload: string) => void, onLost: () => void): () => void {
    const subscriber = { onNotify, onLost };
    this.#subscribers.add(subscriber);
    if (this.#listenChannel === undefined) {
      this.#listenChannel = channel;
      void this.#connectListener(channel, 100);
    }
    return () => this.#subscribers.delete(subscriber);
  }

  async #connectListener(channel: string, delay: number): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    client.on('error', () => {});
    client.on('notification', (message) => {
      if (message.channel !== channel) return;
      for (const subscriber of this.#subscribers) subscriber.onNotify(message.payload ?? '');
    });
    let retried = false;
    const retry = () => {
      if (this.#listener === client) this.#listener = undefined;
      if (retried || this.#closed) return;
      retried = true;
      // Notifications sent while not listening are lost: subscribers drop their caches.
      for (const subscriber of this.#subscribers) subscriber.onLost();
      setTimeout(() => void this.#connectListener(channel, Math.min(delay * 2, 5000)), delay).unref();
    };
    client.on('end', retry);
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      this.#listener = client;
      if (this.#closed) await client.end();
      // Whatever changed while (re)connecting was not heard.
      for (const subscriber of this.#subscribers) subscriber.onLost();
    } catch (error) {
      this.#events.onError?.(`LISTEN ${channel}: ${(error as Error).message}`);
      await client.end().catch(() => {});
      retry();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.end().catch(() => {});
    await this.#pool.end().catch(() => {});
  }
}

export function createPostgresDriver(options: SqlDriverOptions, events: SqlDriverEvents = {}): SqlDriver {
  return new PostgresDriver(options, events);
}
