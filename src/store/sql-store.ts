import { TemporarilyUnavailable } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { RecordCache } from './record-cache.js';
import { SqlDataError, type SqlDriver } from './sql-driver.js';
import { SQL_QUERY_NAMES, type SqlQueries, type SqlQueryName } from './sql-queries.js';
import {
  checkColumns,
  decodeBearerRow,
  decodeClientRow,
  decodeTokenRow,
  type SqlRow,
} from './sql-records.js';
import type { BearerToken, CredentialStore, OAuth1Client, OAuth1Token } from './types.js';

/**
 * Credentials read from the authorization server's own tables (docs/sql.md). Nothing here knows
 * the driver: sql-postgres.ts / sql-mysql.ts run the queries.
 *
 * - Caching: found records are reused `cacheTtl`, unknown keys `negativeTtl` (counted from the
 *   database's answer, never extended), so a row revoked, deleted or created at t is seen by
 *   t + cacheTtl (t + negativeTtl for a new one) at the latest; with `notifyChannel` at once.
 *   Concurrent lookups of one key share one query.
 * - Fail closed: a database that is down, too slow (statementTimeout) or answers with an error
 *   (a missing table) rejects the lookup with TemporarilyUnavailable (503); cached records keep
 *   working until they expire. A value that cannot match (SQLSTATE class 22) is unknown (401).
 * - Bounded: at most `maxPending` lookups are at the database at once (pool.max + pool.maxWaiting);
 *   beyond that a miss fails at once instead of queueing.
 */

export type SqlQueryOutcome = 'found' | 'missing' | 'error';

export interface SqlStoreObserver {
  /** A lookup of one record type, answered from cache or not (hits = lookups − queries). */
  onLookup?(record: SqlQueryName): void;
  /** One database round trip: which query, how it ended, how long it took. */
  onQuery?(query: SqlQueryName, outcome: SqlQueryOutcome, seconds: number): void;
  /** Something an operator must fix or know (never a credential value). */
  onProblem?(message: string): void;
}

export interface SqlCredentialStoreOptions {
  readonly queries: SqlQueries;
  readonly cacheTtlMs: number;
  readonly negativeTtlMs: number;
  readonly maxEntries: number;
  readonly maxPending: number;
  /** PostgreSQL LISTEN channel whose notifications evict records (see `evict`). */
  readonly notifyChannel?: string | undefined;
  readonly observer?: SqlStoreObserver | undefined;
}

export interface SqlCacheStats {
  /** Per record type: lookups served, and those that had to ask the database. */
  readonly lookups: Readonly<Record<SqlQueryName, number>>;
  readonly queries: Readonly<Record<SqlQueryName, number>>;
}

const PROBLEM_LOG_INTERVAL_MS = 10_000;

export class SqlCredentialStore implements CredentialStore {
  readonly #driver: SqlDriver;
  readonly #queries: SqlQueries;
  readonly #observer: SqlStoreObserver;
  readonly #maxPending: number;
  #pending = 0;
  /** Queries whose result columns were checked (once; a reload builds a new store). */
  readonly #checked = new Set<SqlQueryName>();
  readonly #lastProblem = new Map<string, number>();
  readonly #lookups: Record<SqlQueryName, number> = { client: 0, token: 0, bearerToken: 0 };
  readonly #clients: RecordCache<OAuth1Client>;
  readonly #tokens: RecordCache<OAuth1Token>;
  readonly #bearerTokens: RecordCache<BearerToken>;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(driver: SqlDriver, options: SqlCredentialStoreOptions) {
    this.#driver = driver;
    this.#queries = options.queries;
    this.#observer = options.observer ?? {};
    this.#maxPending = options.maxPending;
    const cache = {
      ttlMs: options.cacheTtlMs,
      negativeTtlMs: options.negativeTtlMs,
      maxEntries: options.maxEntries,
    };
    this.#clients = new RecordCache(async (clientId) => {
      const row = await this.#lookup('client', clientId);
      return row === undefined ? undefined : decodeClientRow(clientId, row);
    }, cache);
    this.#tokens = new RecordCache(async (token) => {
      const row = await this.#lookup('token', token);
      return row === undefined ? undefined : decodeTokenRow(token, row);
    }, cache);
    // Cached under sha256(token) so the raw token is never a map key; queried by its value.
    this.#bearerTokens = new RecordCache(async (_hash, accessToken) => {
      const row = await this.#lookup('bearerToken', accessToken);
      return row === undefined ? undefined : decodeBearerRow(row);
    }, cache);
    const channel = options.notifyChannel;
    this.#unsubscribe =
      channel === undefined || driver.listen === undefined
        ? undefined
        : driver.listen(
            channel,
            (payload) => this.evict(payload),
            () => this.clear(),
          );
  }

  getClient(clientId: string): Promise<OAuth1Client | undefined> {
    this.#lookups.client++;
    this.#observer.onLookup?.('client');
    return this.#queries.client === undefined
      ? Promise.resolve(undefined)
      : this.#clients.get(clientId, clientId);
  }

  getToken(token: string): Promise<OAuth1Token | undefined> {
    this.#lookups.token++;
    this.#observer.onLookup?.('token');
    return this.#queries.token === undefined ? Promise.resolve(undefined) : this.#tokens.get(token, token);
  }

  getBearerToken(accessToken: string): Promise<BearerToken | undefined> {
    this.#lookups.bearerToken++;
    this.#observer.onLookup?.('bearerToken');
    if (this.#queries.bearerToken === undefined) return Promise.resolve(undefined);
    return this.#bearerTokens.get(sha256Hex(accessToken), accessToken);
  }

  /**
   * Forget one record now (PostgreSQL NOTIFY, docs/sql.md): `client:<id>`, `token:<token>`,
   * `bearer:<token>`, `bearer-sha256:<hex>`; anything else (or `*`) drops every cached record.
   */
  evict(payload: string): void {
    const colon = payload.indexOf(':');
    const kind = colon === -1 ? payload : payload.slice(0, colon);
    const key = payload.slice(colon + 1);
    if (colon !== -1 && kind === 'client') this.#clients.delete(key);
    else if (colon !== -1 && kind === 'token') this.#tokens.delete(key);
    else if (colon !== -1 && kind === 'bearer') this.#bearerTokens.delete(sha256Hex(key));
    else if (colon !== -1 && kind === 'bearer-sha256') this.#bearerTokens.delete(key.toLowerCase());
    else this.clear();
  }

  /** Drop every cached record (the NOTIFY connection was lost, so changes may have been missed). */
  clear(): void {
    this.#clients.clear();
    this.#tokens.clear();
    this.#bearerTokens.clear();
  }

  stats(): SqlCacheStats {
    return {
      lookups: { ...this.#lookups },
      queries: {
        client: this.#clients.loads,
        token: this.#tokens.loads,
        bearerToken: this.#bearerTokens.loads,
      },
    };
  }

  /**
   * `oauth-gateway check --connect`: runs each configured query once with a key no row can have
   * and returns what is wrong (the query's name and the database's message), [] if all is well.
   */
  async verify(): Promise<string[]> {
    const issues: string[] = [];
    const impossible = `oauth-gateway-check-${sha256Hex(String(Date.now()))}`;
    for (const name of SQL_QUERY_NAMES) {
      const text = this.#queries[name];
      if (text === undefined) continue;
      try {
        const result = await this.#driver.query(name, text, impossible);
        const problem = checkColumns(name, result.columns);
        if (problem !== undefined) issues.push(`credentials.sql.queries.${name}: ${problem}`);
      } catch (error) {
        const cause = error instanceof TemporarilyUnavailable ? error.cause : error;
        issues.push(
          `credentials.sql.queries.${name}: ${cause instanceof Error ? cause.message : String(cause)}`,
        );
      }
    }
    return issues;
  }

  ping(): Promise<boolean> {
    return this.#driver.ping();
  }

  /** Drops the caches; the driver (its pool) belongs to the runtime, which may carry it over. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.clear();
  }

  async #lookup(name: SqlQueryName, value: string): Promise<SqlRow | undefined> {
    const text = this.#queries[name]!;
    if (this.#pending >= this.#maxPending) {
      this.#problem('pool', 'too many lookups waiting for a database connection; answering 503');
      this.#observer.onQuery?.(name, 'error', 0);
      throw new TemporarilyUnavailable(new Error('sql lookup queue full'));
    }
    this.#pending++;
    const started = performance.now();
    let outcome: SqlQueryOutcome = 'error';
    try {
      const result = await this.#driver.query(name, text, value);
      if (!this.#checked.has(name)) {
        const problem = checkColumns(name, result.columns);
        if (problem !== undefined) {
          // A query that cannot produce a record is a configuration error: refuse (503), loudly.
          this.#problem(name, `credentials.sql query "${name}" ${problem}`);
          throw new TemporarilyUnavailable(new Error(`query ${name} ${problem}`));
        }
        this.#checked.add(name);
      }
      if (result.rows.length > 1) {
        // Ambiguous (e.g. client_id without a unique index): refuse rather than pick one.
        this.#problem(
          `${name}:rows`,
          `credentials.sql query "${name}" returned ${result.rows.length} rows for one key; treated as unknown`,
        );
        outcome = 'missing';
        return undefined;
      }
      outcome = result.rows.length === 1 ? 'found' : 'missing';
      return result.rows[0];
    } catch (error) {
      if (error instanceof SqlDataError) {
        outcome = 'missing';
        return undefined;
      }
      const cause = error instanceof TemporarilyUnavailable ? error.cause : error;
      this.#problem(
        name,
        `credentials.sql query "${name}" failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
      throw error instanceof TemporarilyUnavailable ? error : new TemporarilyUnavailable(error);
    } finally {
      this.#pending--;
      this.#observer.onQuery?.(name, outcome, (performance.now() - started) / 1000);
    }
  }

  /** At most one message per kind per 10 s: an outage must not flood the log. */
  #problem(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.#lastProblem.get(kind) ?? 0) < PROBLEM_LOG_INTERVAL_MS) return;
    this.#lastProblem.set(kind, now);
    this.#observer.onProblem?.(message);
  }
}
