import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseGatewayConfig } from '../../src/config/load.js';
import type { ConfigError } from '../../src/errors.js';
import { checkQueryText, presetQueries } from '../../src/store/sql-queries.js';
import {
  checkColumns,
  decodeBearerRow,
  decodeClientRow,
  decodeTokenRow,
} from '../../src/store/sql-records.js';

describe('checkQueryText', () => {
  it.each([
    ['postgres', 'SELECT client_id, client_secret FROM client WHERE client_id = $1'],
    ['postgres', '  -- comment\n select * from t where a = $1 or b = $1;'],
    ['postgres', 'SELECT \'$2 ? ;\' AS x, "we;ird$3" FROM t WHERE k = $1'],
    ['postgres', 'SELECT $tag$ $2 ; $tag$ AS x FROM t WHERE k = $1'],
    ['mysql', 'SELECT client_id FROM client WHERE client_id = ?'],
    ['mysql', "SELECT 'it''s ?' AS a, `odd?col`, \"x\\\"?\" FROM t /* ? */ WHERE k = ? # trailing ?"],
  ] as const)('accepts %s: %s', (dialect, text) => {
    expect(checkQueryText(text, dialect)).toBeUndefined();
  });

  it.each([
    ['postgres', 'DELETE FROM client WHERE client_id = $1', /single SELECT/],
    ['postgres', 'UPDATE t SET a = 1 WHERE k = $1', /single SELECT/],
    ['postgres', 'SELECT 1 FROM t WHERE k = $1; DROP TABLE t', /no ;/],
    ['postgres', 'SELECT 1 FROM t WHERE k = $1 AND j = $2', /exactly one parameter/],
    ['postgres', "SELECT 1 FROM t WHERE k = '$1'", /exactly one parameter/],
    ['postgres', 'SELECT 1 FROM t WHERE k = ?', /exactly one parameter, \$1/],
    ['mysql', 'SELECT 1 FROM t WHERE k = ? OR j = ?', /found 2/],
    ['mysql', 'SELECT 1 FROM t WHERE k = $1', /exactly one parameter, \?/],
    ['mysql', "/* SELECT */ INSERT INTO t VALUES ('?')", /single SELECT/],
  ] as const)('rejects %s: %s', (dialect, text, message) => {
    expect(checkQueryText(text, dialect)).toMatch(message);
  });

  it('every preset query passes its own check in both dialects', () => {
    for (const name of [
      'authlib-flask',
      'authlib-django',
      'django-oauth-toolkit',
      'django-oauth2-provider',
    ] as const) {
      for (const user of ['id', 'username'] as const) {
        for (const dialect of ['postgres', 'mysql'] as const) {
          const queries = presetQueries({ name, tables: {}, user, rsaKeyColumn: 'rsa_key' }, dialect);
          for (const text of Object.values(queries)) expect(checkQueryText(text!, dialect)).toBeUndefined();
        }
      }
    }
  });

  it('quotes configured table names for the dialect (user is reserved in PostgreSQL)', () => {
    const pg = presetQueries(
      { name: 'authlib-flask', tables: { token: 'oauth.tokens' }, user: 'username' },
      'postgres',
    );
    expect(pg.token).toContain('FROM "oauth"."tokens" t LEFT JOIN "user" u ON u.id = t.user_id');
    const my = presetQueries({ name: 'authlib-flask', tables: {}, user: 'id' }, 'mysql');
    expect(my.client).toBe(
      'SELECT c.client_id AS client_id, c.client_secret AS client_secret FROM `client` c WHERE c.client_id = ?',
    );
  });
});

describe('credentials.sql config', () => {
  const base = {
    routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'none' }],
  };
  const issues = (sql: unknown): readonly string[] => {
    try {
      parseGatewayConfig({ ...base, credentials: { type: 'sql', sql } }, {});
      return [];
    } catch (error) {
      return (error as ConfigError).issues;
    }
  };

  it('examples/sql/gateway.yaml is valid', async () => {
    const loaded = await loadConfig(
      fileURLToPath(new URL('../../examples/sql/gateway.yaml', import.meta.url)),
      {
        DB_PASSWORD: 'pw',
      },
    );
    expect(loaded.config.credentials).toMatchObject({
      type: 'sql',
      sql: { preset: { name: 'authlib-flask', user: 'username' }, notifyChannel: 'oauth_gateway' },
    });
  });

  it('accepts a preset by name and fills the defaults', () => {
    const config = parseGatewayConfig(
      {
        ...base,
        credentials: { type: 'sql', sql: { url: 'postgres://gw:${PW}@db/app', preset: 'authlib-flask' } },
      },
      { PW: 'secret' },
    );
    expect(config.credentials).toMatchObject({
      type: 'sql',
      sql: {
        url: 'postgres://gw:secret@db/app',
        preset: { name: 'authlib-flask', tables: {}, user: 'id' },
        cacheTtl: 5000,
        negativeTtl: 2000,
        statementTimeout: 2000,
        pool: { max: 10, maxWaiting: 1000 },
      },
    });
  });

  it('reports every problem at once, by path', () => {
    expect(
      issues({
        url: 'postgres://db/app',
        queries: {
          client: 'SELECT * FROM client WHERE client_id = ? ',
          token: 'DELETE FROM token_credential WHERE oauth_token = $1',
          bearerToken: 'SELECT * FROM t WHERE a = $1 AND b = $2',
        },
        extra: 1,
      }),
    ).toEqual([
      'credentials.sql: unknown key "extra"',
      'credentials.sql.queries.client: must use exactly one parameter, $1, for the looked-up value',
      'credentials.sql.queries.token: must be a single SELECT statement',
      'credentials.sql.queries.bearerToken: must use exactly one parameter, $1, for the looked-up value (found others)',
    ]);
  });

  it.each([
    [{ url: 'sqlite:///x.db', preset: 'authlib-flask' }, /credentials\.sql\.url: must be a postgres/],
    [{ url: 'mysql://db/app' }, /credentials\.sql\.preset: set either preset or queries/],
    [
      { url: 'mysql://db/app', preset: 'authlib-flask', queries: { client: 'SELECT 1 FROM t WHERE a = ?' } },
      /exactly one/,
    ],
    [
      { url: 'mysql://db/app', preset: 'authlib-flask', notifyChannel: 'x' },
      /notifyChannel: needs PostgreSQL/,
    ],
    [
      { url: 'mysql://db/app', preset: { name: 'authlib-flask', tables: { client: 'client; DROP' } } },
      /tables\.client/,
    ],
    [{ url: 'mysql://db/app', preset: 'authlib-rails' }, /credentials\.sql\.preset/],
  ])('rejects %j', (sql, message) => {
    expect(issues(sql).join('\n')).toMatch(message);
  });
});

describe('row decoding', () => {
  it('matches columns ignoring case and underscores, integer user ids become decimal strings', () => {
    expect(
      decodeTokenRow('t1', { TOKEN: 't1', tokensecret: 's', Client_Id: 'c', user_id: 42, scope: 'a  b' }),
    ).toEqual({ token: 't1', tokenSecret: 's', clientId: 'c', userId: '42', scopes: ['a', 'b'] });
    expect(
      decodeTokenRow('t1', { token: 't1', token_secret: 's', client_id: 'c', user_id: '9007199254740993' })
        ?.userId,
    ).toBe('9007199254740993');
  });

  it('refuses a row for another key (case-insensitive collation) and rows missing fields', () => {
    expect(decodeClientRow('abc', { client_id: 'ABC', client_secret: 's' })).toBeUndefined();
    expect(decodeClientRow('abc', { client_id: 'abc' })).toEqual({
      clientId: 'abc',
      clientSecret: '',
      rsaPublicKey: undefined,
    });
    expect(
      decodeClientRow('abc', { client_id: 'abc', client_secret: 's', rsa_public_key: 'not a pem' }),
    ).toBeUndefined();
  });

  it('reads Authlib-style expires_in / revoked_at and Django-style expires timestamps', () => {
    expect(
      decodeBearerRow({ client_id: 'c', issued_at: 100, expires_in: 3600, access_token_revoked_at: 0 }),
    ).toMatchObject({
      issuedAt: 100,
      expiresIn: 3600,
      revoked: false,
    });
    expect(
      decodeBearerRow({ client_id: 'c', issued_at: 100, expires_in: 0, revoked_at: 1700000000 })?.revoked,
    ).toBe(true);
    expect(decodeBearerRow({ client_id: 'c', issued_at: 100, expires_in: 0, revoked: 't' })?.revoked).toBe(
      true,
    );
    const expires = new Date('2030-01-01T00:00:00Z');
    const issued = new Date('2029-12-31T23:00:00Z');
    expect(decodeBearerRow({ client_id: 'c', issued_at: issued, expires_at: expires })).toMatchObject({
      issuedAt: issued.getTime() / 1000,
      expiresIn: 3600,
    });
    // Expired at (or before) issue time must stay expired, never turn into "0 = no expiry".
    const same = decodeBearerRow({ client_id: 'c', issued_at: expires, expires_at: expires });
    expect(same!.issuedAt + same!.expiresIn).toBe(expires.getTime() / 1000);
    expect(same!.expiresIn).toBeGreaterThan(0);
    expect(decodeBearerRow({ client_id: 'c', expires_at: null })?.expiresIn).toBe(0);
    expect(decodeBearerRow({ client_id: 'c', expires_at: 'soon' })).toBeUndefined();
    expect(
      decodeBearerRow({ client_id: 'c', issued_at: 1, expires_in: 1, revoked: 'maybe' }),
    ).toBeUndefined();
  });

  it('names missing result columns', () => {
    expect(checkColumns('client', ['client_id'])).toBe('returns no column clientsecret');
    expect(checkColumns('bearerToken', ['client_id', 'scope'])).toBe(
      'returns no column expires_in or expires_at',
    );
    expect(checkColumns('bearerToken', ['clientId', 'expires_at'])).toBeUndefined();
  });
});
