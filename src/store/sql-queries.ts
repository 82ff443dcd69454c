/**
 * The SQL the SQL credential store runs: checks on user-written queries, and the presets that
 * match the tables of the frameworks this gateway's users run (docs/sql.md shows each preset's SQL).
 * Pure: no driver, no I/O. The request value is only ever a bound parameter (`$1` / `?`); the
 * only things ever placed into SQL text here are table/column names from the validated config.
 */

export type SqlDialect = 'postgres' | 'mysql';
export type SqlQueryName = 'client' | 'token' | 'bearerToken';
export const SQL_QUERY_NAMES: readonly SqlQueryName[] = ['client', 'token', 'bearerToken'];

export const SQL_PRESETS = [
  'authlib-flask',
  'authlib-django',
  'django-oauth-toolkit',
  'django-oauth2-provider',
] as const;
export type SqlPresetName = (typeof SQL_PRESETS)[number];

export interface SqlPresetOptions {
  readonly name: SqlPresetName;
  readonly tables: {
    readonly client?: string | undefined;
    readonly token?: string | undefined;
    readonly bearerToken?: string | undefined;
    readonly application?: string | undefined;
    readonly user?: string | undefined;
  };
  readonly user: 'id' | 'username';
  readonly rsaKeyColumn?: string | undefined;
}

export type SqlQueries = { readonly [name in SqlQueryName]?: string | undefined };

export function dialectOfUrl(url: string): SqlDialect | undefined {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  return undefined;
}

// ── Checking user-written queries ──────────────────────────────────────────────────────────────

interface Scan {
  /** Text with comments removed and literals/quoted identifiers blanked, for keyword checks. */
  readonly code: string;
  /** `$n` numbers (postgres) or the count of `?` (mysql) seen outside literals. */
  readonly placeholders: readonly string[];
  readonly semicolonAt: number[];
}

/**
 * Walks the query once, skipping what cannot hold a placeholder: '…' strings ('' and, in MySQL,
 * backslash escapes), "…" (identifiers in PostgreSQL, strings in MySQL), `…` identifiers,
 * PostgreSQL $tag$…$tag$ strings, -- and /* *\/ comments and MySQL # comments.
 */
function scan(text: string, dialect: SqlDialect): Scan {
  let code = '';
  const placeholders: string[] = [];
  const semicolonAt: number[] = [];
  let i = 0;
  const n = text.length;
  const skipQuoted = (quote: string, backslash: boolean) => {
    i++;
    while (i < n) {
      const c = text[i];
      if (backslash && c === '\\') {
        i += 2;
        continue;
      }
      if (c === quote) {
        if (text[i + 1] === quote) {
          i += 2;
          continue;
        }
        i++;
        return;
      }
      i++;
    }
  };
  while (i < n) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      while (i < n && text[i] !== '\n') i++;
      code += ' ';
    } else if (c === '#' && dialect === 'mysql') {
      while (i < n && text[i] !== '\n') i++;
      code += ' ';
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      code += ' ';
    } else if (c === "'") {
      skipQuoted("'", dialect === 'mysql');
      code += "''";
    } else if (c === '"') {
      skipQuoted('"', dialect === 'mysql');
      code += '""';
    } else if (c === '`' && dialect === 'mysql') {
      skipQuoted('`', false);
      code += '``';
    } else if (c === '$' && dialect === 'postgres') {
      const number = /^\$(\d+)/.exec(text.slice(i, i + 12));
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i, i + 66));
      if (number !== null) {
        placeholders.push(number[1]!);
        code += ' ? ';
        i += number[0].length;
      } else if (tag !== null) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? n : end + tag[0].length;
        code += "''";
      } else {
        code += c;
        i++;
      }
    } else if (c === '?' && dialect === 'mysql') {
      placeholders.push('?');
      code += ' ? ';
      i++;
    } else {
      if (c === ';') semicolonAt.push(code.length);
      code += c;
      i++;
    }
  }
  return { code, placeholders, semicolonAt };
}

/**
 * undefined if `text` is one SELECT with exactly one parameter (`$1` in PostgreSQL, `?` in
 * MySQL/MariaDB; `$1` may appear more than once), else what is wrong. The lookup key is bound to
 * that parameter; nothing is ever spliced into the text.
 */
export function checkQueryText(text: string, dialect: SqlDialect): string | undefined {
  const { code, placeholders, semicolonAt } = scan(text, dialect);
  const trimmed = code.trim();
  if (!/^select\b/i.test(trimmed)) return 'must be a single SELECT statement';
  const lastSemicolon = semicolonAt.at(-1);
  if (
    semicolonAt.length > 1 ||
    (lastSemicolon !== undefined && code.slice(lastSemicolon + 1).trim() !== '')
  ) {
    return 'must be a single SELECT statement (no ; between statements)';
  }
  const want = dialect === 'postgres' ? '$1' : '?';
  if (placeholders.length === 0) return `must use exactly one parameter, ${want}, for the looked-up value`;
  if (dialect === 'postgres' && placeholders.some((p) => p !== '1')) {
    return 'must use exactly one parameter, $1, for the looked-up value (found others)';
  }
  if (dialect === 'mysql' && placeholders.length > 1) {
    return `must use exactly one parameter, ?, for the looked-up value (found ${placeholders.length})`;
  }
  return undefined;
}

// ── Presets ────────────────────────────────────────────────────────────────────────────────────

/** Quote a validated `name` / `schema.name` for the dialect (`user` is reserved in PostgreSQL). */
export function quoteIdentifier(name: string, dialect: SqlDialect): string {
  const q = dialect === 'postgres' ? '"' : '`';
  return name
    .split('.')
    .map((part) => `${q}${part}${q}`)
    .join('.');
}

/**
 * The queries of a preset, in the dialect of the database. Column aliases are the record field
 * names in snake_case (the store matches columns case- and underscore-insensitively).
 */
export function presetQueries(preset: SqlPresetOptions, dialect: SqlDialect): SqlQueries {
  const p = dialect === 'postgres' ? '$1' : '?';
  const id = (name: string) => quoteIdentifier(name, dialect);
  const t = preset.tables;
  /** The user id column of `alias`, or the username joined from `users`. */
  const user = (alias: string, users: string) =>
    preset.user === 'username'
      ? {
          select: 'u.username AS user_id',
          join: ` LEFT JOIN ${id(users)} u ON u.id = ${alias}.user_id`,
        }
      : { select: `${alias}.user_id AS user_id`, join: '' };
  const rsa = preset.rsaKeyColumn === undefined ? '' : `, c.${id(preset.rsaKeyColumn)} AS rsa_public_key`;

  switch (preset.name) {
    case 'authlib-flask':
    case 'authlib-django': {
      // Authlib's OAuth1 server docs: Client(client_id, client_secret, user), TokenCredential
      // (client_id, oauth_token, oauth_token_secret, user). Flask-SQLAlchemy names tables after
      // the class in snake_case; Django names them <app_label>_<model>.
      const flask = preset.name === 'authlib-flask';
      const clients = t.client ?? (flask ? 'client' : 'oauth1_client');
      const tokens = t.token ?? (flask ? 'token_credential' : 'oauth1_tokencredential');
      const users = t.user ?? (flask ? 'user' : 'auth_user');
      const u = user('t', users);
      const queries: Partial<Record<SqlQueryName, string>> = {
        client: `SELECT c.client_id AS client_id, c.client_secret AS client_secret${rsa} FROM ${id(clients)} c WHERE c.client_id = ${p}`,
        token:
          `SELECT t.oauth_token AS token, t.oauth_token_secret AS token_secret, t.client_id AS client_id, ${u.select}` +
          ` FROM ${id(tokens)} t${u.join} WHERE t.oauth_token = ${p}`,
      };
      if (flask) {
        // Authlib OAuth2TokenMixin (authlib.integrations.sqla_oauth2): is_revoked() is
        // access_token_revoked_at or refresh_token_revoked_at; expires_in 0 = never expires.
        const bearer = t.bearerToken ?? 'oauth2_token';
        const b = user('b', users);
        queries.bearerToken =
          `SELECT b.client_id AS client_id, ${b.select}, b.scope AS scope, b.issued_at AS issued_at, b.expires_in AS expires_in,` +
          ' CASE WHEN b.access_token_revoked_at <> 0 OR b.refresh_token_revoked_at <> 0 THEN 1 ELSE 0 END AS revoked' +
          ` FROM ${id(bearer)} b${b.join} WHERE b.access_token = ${p}`;
      }
      return queries;
    }
    case 'django-oauth-toolkit': {
      // oauth2_provider.models.AccessToken: token, expires, scope, user, application (FK whose
      // client_id is the public client id); revocation deletes the row.
      const bearer = t.bearerToken ?? 'oauth2_provider_accesstoken';
      const apps = t.application ?? 'oauth2_provider_application';
      const b = user('b', t.user ?? 'auth_user');
      return {
        bearerToken:
          `SELECT a.client_id AS client_id, ${b.select}, b.scope AS scope, b.created AS issued_at, b.expires AS expires_at` +
          ` FROM ${id(bearer)} b JOIN ${id(apps)} a ON a.id = b.application_id${b.join} WHERE b.token = ${p}`,
      };
    }
    case 'django-oauth2-provider': {
      // provider.oauth2.models.AccessToken: token, expires, scope (a bit mask: read = 2,
      // write = 4, provider.constants), user, client (FK whose client_id is the public id).
      const bearer = t.bearerToken ?? 'oauth2_accesstoken';
      const clients = t.application ?? 'oauth2_client';
      const b = user('b', t.user ?? 'auth_user');
      return {
        bearerToken:
          `SELECT c.client_id AS client_id, ${b.select},` +
          " CONCAT_WS(' ', CASE WHEN (b.scope & 2) <> 0 THEN 'read' END, CASE WHEN (b.scope & 4) <> 0 THEN 'write' END) AS scope," +
          ` b.expires AS expires_at FROM ${id(bearer)} b JOIN ${id(clients)} c ON c.id = b.client_id${b.join} WHERE b.token = ${p}`,
      };
    }
  }
}
