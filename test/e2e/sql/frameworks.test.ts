import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import {
  type RecordedRequest,
  receivedHeader,
  startUpstream,
  type TestUpstream,
} from '../../helpers/upstream.js';
import { createMysqlDatabase, createPostgresDatabase, type TestDatabase } from '../../store/sql-support.js';
import { bearer, errorCode, send } from '../oauth2/support.js';
import {
  authlibFlask,
  type DjangoRows,
  django,
  type FlaskRows,
  msUntil,
  signWithOauthlib,
} from './support.js';

/**
 * The SQL credential store through the running gateway, against tables and rows made by the real
 * frameworks (python/): Authlib's Flask-SQLAlchemy models in PostgreSQL, django-oauth-toolkit and
 * Authlib's Django OAuth1 models in MariaDB. OAuth1 requests are signed by python oauthlib. Each
 * gateway caches 1 s, so a revocation through the ORM must be refused within about that.
 */

const CACHE_TTL_MS = 1000;
/** Revocation bound: cacheTtl, plus one lookup and polling on a loaded machine. */
const REVOCATION_LIMIT_MS = CACHE_TTL_MS + 2000;

let upstream: TestUpstream;
let postgres: TestDatabase;
let mariadb: TestDatabase;
let flask: FlaskRows;
let dj: DjangoRows;
let flaskGateway: TestGateway;
let dotGateway: TestGateway;
let authlibDjangoGateway: TestGateway;

function routes(upstreamUrl: string) {
  return [
    { name: 'oauth1', match: { pathPrefix: '/oauth1' }, upstream: upstreamUrl, auth: 'oauth1' },
    { name: 'api', match: { pathPrefix: '/api' }, upstream: upstreamUrl, auth: 'oauth2' },
  ];
}

function sqlGateway(url: string, preset: unknown, cacheTtlMs = CACHE_TTL_MS): Promise<TestGateway> {
  return startTestGateway({
    config: {
      credentials: {
        type: 'sql',
        sql: { url, preset, cacheTtl: `${cacheTtlMs}ms`, negativeTtl: `${cacheTtlMs}ms` },
      },
      oauth2: { tokenSources: ['store'] },
      routes: routes(upstream.url),
    },
  });
}

function identity(record: RecordedRequest) {
  return {
    user: receivedHeader(record, 'x-oauth-user'),
    client: receivedHeader(record, 'x-oauth-client-id'),
    scope: receivedHeader(record, 'x-oauth-scope'),
    method: receivedHeader(record, 'x-oauth-method'),
  };
}

async function oauth1(
  gateway: TestGateway,
  creds: {
    client_key: string;
    client_secret: string;
    resource_owner_key?: string;
    resource_owner_secret?: string;
  },
  path = '/oauth1/photos?size=original',
) {
  const [signed] = await signWithOauthlib([{ ...creds, method: 'GET', url: `${gateway.url}${path}` }]);
  const target = signed!.url.slice(gateway.url.length);
  return send(gateway.url, target, { headers: signed!.headers });
}

/** Sends and returns the reply with what the upstream received (if it was forwarded). */
async function forwarded(reply: Promise<{ status: number; text: string }>) {
  const before = upstream.requests.length;
  const result = await reply;
  return { ...result, received: upstream.requests.length > before ? upstream.requests.at(-1) : undefined };
}

beforeAll(async () => {
  upstream = await startUpstream();
  [postgres, mariadb] = await Promise.all([
    createPostgresDatabase('ogw_flask'),
    createMysqlDatabase('ogw_django'),
  ]);
  [flask, dj] = await Promise.all([authlibFlask.setup(postgres.url), django.setup(mariadb.url)]);
  [flaskGateway, dotGateway, authlibDjangoGateway] = await Promise.all([
    sqlGateway(postgres.url, 'authlib-flask'),
    sqlGateway(mariadb.url, 'django-oauth-toolkit'),
    sqlGateway(mariadb.url, { name: 'authlib-django', user: 'username' }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([flaskGateway?.stop(), dotGateway?.stop(), authlibDjangoGateway?.stop()]);
  await upstream?.close();
  await Promise.all([postgres?.drop(), mariadb?.drop()]);
});

describe('authlib-flask preset (PostgreSQL, tables from db.create_all())', () => {
  it('OAuth1 request signed by oauthlib with the ORM rows → 200 with the user id', async () => {
    const reply = await forwarded(
      oauth1(flaskGateway, {
        client_key: flask.client.clientId,
        client_secret: flask.client.clientSecret,
        resource_owner_key: flask.token.token,
        resource_owner_secret: flask.token.tokenSecret,
      }),
    );
    expect(reply.status).toBe(200);
    expect(identity(reply.received!)).toEqual({
      user: [flask.userId],
      client: [flask.client.clientId],
      scope: [''],
      method: ['oauth1'],
    });
  });

  it('two-legged (consumer only) → 200 without a user', async () => {
    const reply = await forwarded(
      oauth1(flaskGateway, { client_key: flask.client.clientId, client_secret: flask.client.clientSecret }),
    );
    expect(reply.status).toBe(200);
    expect(identity(reply.received!).user).toEqual([]);
  });

  it('unknown consumer, unknown token, wrong secret → 401 and nothing forwarded', async () => {
    const cases = [
      { client_key: 'nobody', client_secret: 'x' },
      {
        client_key: flask.client.clientId,
        client_secret: flask.client.clientSecret,
        resource_owner_key: 'no-such-token',
        resource_owner_secret: 'x',
      },
      {
        client_key: flask.client.clientId,
        client_secret: 'wrong-secret',
        resource_owner_key: flask.token.token,
        resource_owner_secret: flask.token.tokenSecret,
      },
    ];
    const codes: unknown[] = [];
    for (const creds of cases) {
      const reply = await forwarded(oauth1(flaskGateway, creds));
      expect(reply.status).toBe(401);
      expect(reply.received).toBeUndefined();
      codes.push(errorCode(reply as never));
    }
    expect(codes).toEqual(['invalid_client', 'invalid_token', 'invalid_signature']);
  });

  it('OAuth2Token rows: valid → 200 with user and scope; expired and revoked → 401', async () => {
    const valid = await forwarded(send(flaskGateway.url, '/api/me', { headers: bearer(flask.bearer.valid) }));
    expect(valid.status).toBe(200);
    expect(identity(valid.received!)).toEqual({
      user: [flask.userId],
      client: ['flask-app'],
      scope: ['photos:read profile'],
      method: ['oauth2'],
    });
    for (const token of [flask.bearer.expired, flask.bearer.revoked, 'never-issued']) {
      const reply = await send(flaskGateway.url, '/api/me', { headers: bearer(token) });
      expect(reply.status).toBe(401);
      expect(errorCode(reply)).toBe('invalid_token');
    }
  });

  it('a token revoked through the ORM is refused within cacheTtl', async () => {
    const token = flask.bearer.to_revoke;
    expect((await send(flaskGateway.url, '/api/me', { headers: bearer(token) })).status).toBe(200);
    await authlibFlask.revoke(postgres.url, token);
    const ms = await msUntil(
      async () => (await send(flaskGateway.url, '/api/me', { headers: bearer(token) })).status === 401,
      REVOCATION_LIMIT_MS,
    );
    expect(ms).toBeLessThan(REVOCATION_LIMIT_MS);
  });

  it('a TokenCredential deleted through the ORM is refused within cacheTtl', async () => {
    const creds = {
      client_key: flask.client.clientId,
      client_secret: flask.client.clientSecret,
      resource_owner_key: flask.doomed.token,
      resource_owner_secret: flask.doomed.tokenSecret,
    };
    expect((await oauth1(flaskGateway, creds)).status).toBe(200);
    await authlibFlask.deleteTokenCredential(postgres.url, flask.doomed.token);
    const ms = await msUntil(
      async () => (await oauth1(flaskGateway, creds)).status === 401,
      REVOCATION_LIMIT_MS + 2000,
    );
    expect(ms).toBeLessThan(REVOCATION_LIMIT_MS + 2000);
  });

  it('1000 concurrent requests with one uncached token make exactly one query', async () => {
    // A long cacheTtl: 1000 connections take more than 1 s to open here, and later arrivals must
    // be cache hits, not a second query after expiry. What is measured is the coalescing.
    const gateway = await sqlGateway(postgres.url, 'authlib-flask', 60_000);
    // Counted twice: by the gateway's metric and by PostgreSQL itself (scans of oauth2_token).
    const scans = async () => {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await client.query<{ n: string }>(
          "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'oauth2_token'",
        );
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    };
    const queries = async () => {
      const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('oauth_gateway_sql_queries_total{query="bearerToken",outcome="found"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    // Statistics reach pg_stat_user_tables when a backend exits or has idled a while.
    const settle = async () => {
      let last = await scans();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1200));
        const now = await scans();
        if (now === last) return now;
        last = now;
      }
    };
    // A valid token nobody has presented to this gateway yet.
    const fresh = `flask-burst-${Date.now()}`;
    // On a connection of its own that then ends: a backend's statistics are flushed when it exits.
    const writer = new pg.Client({ connectionString: postgres.url });
    await writer.connect();
    await writer.query(
      `INSERT INTO oauth2_token (client_id, token_type, access_token, scope, issued_at, access_token_revoked_at, refresh_token_revoked_at, expires_in, user_id)
       SELECT client_id, token_type, $1, scope, issued_at, 0, 0, expires_in, user_id FROM oauth2_token WHERE access_token = $2`,
      [fresh, flask.bearer.valid],
    );
    await writer.end();
    const scansBefore = await settle();
    const queriesBefore = await queries();
    let stopped = false;
    try {
      const replies = await Promise.all(
        Array.from({ length: 1000 }, () =>
          send(gateway.url, '/api/burst', { headers: bearer(fresh), timeoutMs: 60_000 }),
        ),
      );
      expect(replies.filter((r) => r.status === 200)).toHaveLength(1000);
      expect((await queries()) - queriesBefore).toBe(1);
      // Closing the gateway's pool ends its backends, which flushes their scan counts.
      await gateway.stop();
      stopped = true;
      expect((await settle()) - scansBefore).toBe(1);
    } finally {
      if (!stopped) await gateway.stop();
    }
  }, 120_000);
});

describe('notifyChannel (PostgreSQL LISTEN) with the trigger SQL from docs/sql.md', () => {
  it('a token revoked through the ORM is refused within 1 s although cacheTtl is 5 minutes', async () => {
    // The docs' trigger block, executed as written: the docs cannot drift from what works.
    const docs = await readFile(fileURLToPath(new URL('../../../docs/sql.md', import.meta.url)), 'utf8');
    const section = docs.slice(docs.indexOf('### Immediate eviction'));
    const triggers = /```sql\n([\s\S]*?)```/.exec(section)![1]!;
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      await admin.query(triggers);
      await admin.query(
        `INSERT INTO oauth2_token (client_id, token_type, access_token, scope, issued_at, access_token_revoked_at, refresh_token_revoked_at, expires_in, user_id)
         SELECT client_id, token_type, 'flask-notify', scope, issued_at, 0, 0, expires_in, user_id FROM oauth2_token WHERE access_token = $1`,
        [flask.bearer.valid],
      );
    } finally {
      await admin.end();
    }
    const gateway = await startTestGateway({
      config: {
        credentials: {
          type: 'sql',
          sql: { url: postgres.url, preset: 'authlib-flask', cacheTtl: '5m', notifyChannel: 'oauth_gateway' },
        },
        oauth2: { tokenSources: ['store'] },
        routes: routes(upstream.url),
      },
    });
    try {
      const ask = async () =>
        (await send(gateway.url, '/api/me', { headers: bearer('flask-notify') })).status;
      // Wait for the LISTEN connection (its first connect clears the cache, so warm up after).
      await msUntil(async () => (await fetch(`${gateway.adminUrl}/readyz`)).status === 200, 5000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await ask()).toBe(200);
      await authlibFlask.revoke(postgres.url, 'flask-notify');
      const ms = await msUntil(async () => (await ask()) === 401, 1000, 20);
      expect(ms).toBeLessThan(1000);
    } finally {
      await gateway.stop();
    }
  });
});

describe('django-oauth-toolkit preset (MariaDB, tables from migrate)', () => {
  it('valid token → 200 with the user id and the Application client_id', async () => {
    const reply = await forwarded(send(dotGateway.url, '/api/me', { headers: bearer(dj.bearer.valid) }));
    expect(reply.status).toBe(200);
    expect(identity(reply.received!)).toEqual({
      user: [dj.userId],
      client: [dj.clientId],
      scope: ['read write'],
      method: ['oauth2'],
    });
  });

  it('a token without a user (client credentials) → 200 without a user header', async () => {
    const reply = await forwarded(send(dotGateway.url, '/api/me', { headers: bearer(dj.bearer.machine) }));
    expect(reply.status).toBe(200);
    expect(identity(reply.received!).user).toEqual([]);
  });

  it('expired and unknown → 401; the preset has no OAuth1 tables, so OAuth1 is unknown', async () => {
    for (const token of [dj.bearer.expired, 'never-issued']) {
      const reply = await send(dotGateway.url, '/api/me', { headers: bearer(token) });
      expect(reply.status).toBe(401);
      expect(errorCode(reply)).toBe('invalid_token');
    }
    const reply = await oauth1(dotGateway, {
      client_key: dj.client.clientId,
      client_secret: dj.client.clientSecret,
    });
    expect(reply.status).toBe(401);
  });

  it('AccessToken.revoke() through the ORM (row deleted) is refused within cacheTtl', async () => {
    const token = dj.bearer.to_revoke;
    expect((await send(dotGateway.url, '/api/me', { headers: bearer(token) })).status).toBe(200);
    await django.revoke(mariadb.url, token);
    const ms = await msUntil(
      async () => (await send(dotGateway.url, '/api/me', { headers: bearer(token) })).status === 401,
      REVOCATION_LIMIT_MS,
    );
    expect(ms).toBeLessThan(REVOCATION_LIMIT_MS);
  });
});

describe('authlib-django preset (MariaDB, Authlib Django OAuth1 models), user: username', () => {
  it('OAuth1 request signed by oauthlib → 200 with the joined username', async () => {
    const reply = await forwarded(
      oauth1(authlibDjangoGateway, {
        client_key: dj.client.clientId,
        client_secret: dj.client.clientSecret,
        resource_owner_key: dj.token.token,
        resource_owner_secret: dj.token.tokenSecret,
      }),
    );
    expect(reply.status).toBe(200);
    expect(identity(reply.received!)).toMatchObject({ user: [dj.username], client: [dj.client.clientId] });
  });

  it('MariaDB compares case-insensitively; the gateway does not: another case is unknown', async () => {
    const reply = await oauth1(authlibDjangoGateway, {
      client_key: dj.client.clientId.toUpperCase(),
      client_secret: dj.client.clientSecret,
    });
    expect(reply.status).toBe(401);
    expect(errorCode(reply)).toBe('invalid_client');
  });
});
