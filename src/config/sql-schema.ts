import { z } from 'zod';
import { checkQueryText, dialectOfUrl, SQL_PRESETS } from '../store/sql-queries.js';
import type { duration as durationSchema } from './schema.js';

/**
 * `credentials.sql`: read the authorization server's own tables (docs/sql.md). Kept beside
 * schema.ts, which imports it, so the SQL options live in one place. Everything that can be judged
 * without a database is judged here, at load (and so by `oauth-gateway check`): the URL scheme,
 * that each query is one SELECT with exactly one parameter, preset names, identifier syntax.
 */

export const SQL_URL_PATTERN = /^(postgres|postgresql|mysql|mariadb):\/\/[^\s]+$/i;

/** `table` or `schema.table`, letters/digits/_ only: safe to quote into SQL (config, not input). */
const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/,
    'must be a table or column name like name or schema.name',
  );

type Duration = typeof durationSchema;

const presetObject = z.strictObject({
  name: z.enum(SQL_PRESETS),
  /** Table names when they differ from the framework's defaults (docs/sql.md per preset). */
  tables: z
    .strictObject({
      client: identifier.optional(),
      token: identifier.optional(),
      bearerToken: identifier.optional(),
      application: identifier.optional(),
      user: identifier.optional(),
    })
    .prefault({}),
  /** What goes into the user identity header: the user's primary key, or its joined username. */
  user: z.enum(['id', 'username']).default('id'),
  /** authlib presets: the Client column holding an RSA public key (PEM), if the model has one. */
  rsaKeyColumn: identifier.optional(),
});

/** schema.ts passes its `duration` in (importing it here would be a cycle). */
export function sqlCredentialsSchema(duration: Duration) {
  return z
    .strictObject({
      /** postgres://user:${DB_PASSWORD}@host:5432/db, mysql://…, mariadb://… */
      url: z
        .string()
        .regex(SQL_URL_PATTERN, 'must be a postgres://, postgresql://, mysql:// or mariadb:// URL'),
      /** TLS to the database; absent = as the URL says (sslmode=… for PostgreSQL), else plain TCP. */
      tls: z
        .strictObject({
          /** PEM file of the CA that signed the server certificate (relative to gateway.yaml). */
          ca: z.string().min(1).optional(),
          rejectUnauthorized: z.boolean().default(true),
          servername: z.string().min(1).optional(),
        })
        .optional(),
      pool: z
        .strictObject({
          max: z.number().int().positive().default(10),
          idleTimeout: duration.prefault('30s'),
          connectTimeout: duration.prefault('2s'),
          /** Lookups waiting for a connection beyond this many fail at once with 503. */
          maxWaiting: z.number().int().nonnegative().default(1000),
        })
        .prefault({}),
      /** Per query, enforced by the server and by the gateway; slower answers 503. */
      statementTimeout: duration.prefault('2s'),
      /** How long a found record is reused: the bound on how long a revoked/deleted record still works. */
      cacheTtl: duration.prefault('5s'),
      /** How long "not found" is reused: the bound on how long a new record stays unknown. */
      negativeTtl: duration.prefault('2s'),
      /** Records kept per type (clients, tokens, bearer tokens). */
      cacheMaxEntries: z.number().int().positive().default(100_000),
      preset: z
        .union([z.enum(SQL_PRESETS), presetObject])
        .transform((value) => (typeof value === 'string' ? presetObject.parse({ name: value }) : value))
        .optional(),
      queries: z
        .strictObject({
          client: z.string().min(1).optional(),
          token: z.string().min(1).optional(),
          bearerToken: z.string().min(1).optional(),
        })
        .optional(),
      /** PostgreSQL: LISTEN here and evict the record named in each notification (docs/sql.md). */
      notifyChannel: identifier.optional(),
    })
    .superRefine((sql, ctx) => {
      const dialect = dialectOfUrl(sql.url);
      if ((sql.preset === undefined) === (sql.queries === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['preset'],
          message: 'set either preset or queries (exactly one)',
        });
      }
      if (sql.queries !== undefined) {
        const names = ['client', 'token', 'bearerToken'] as const;
        if (names.every((name) => sql.queries?.[name] === undefined)) {
          ctx.addIssue({
            code: 'custom',
            path: ['queries'],
            message: 'needs at least one of client, token, bearerToken',
          });
        }
        for (const name of names) {
          const text = sql.queries[name];
          if (text === undefined || dialect === undefined) continue;
          const problem = checkQueryText(text, dialect);
          if (problem !== undefined)
            ctx.addIssue({ code: 'custom', path: ['queries', name], message: problem });
        }
      }
      if (sql.notifyChannel !== undefined && dialect !== 'postgres') {
        ctx.addIssue({
          code: 'custom',
          path: ['notifyChannel'],
          message: 'needs PostgreSQL (LISTEN/NOTIFY)',
        });
      }
    });
}
