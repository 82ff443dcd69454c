import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { bearer, type Reply, send } from '../oauth2/support.js';
import { PrivatePostgres } from './private-postgres.js';
import { authlibFlask, type FlaskRows, msUntil } from './support.js';

/**
 * Fail closed: a PostgreSQL of the test's own, holding Authlib's Flask tables, is stopped while
 * requests keep coming. Tokens already cached keep working (cacheTtl), tokens never seen get 503
 * temporarily_unavailable, an unknown token is never let through, and no other 5xx ever appears.
 * Started again, the same gateway (no restart, no reload) serves uncached tokens again.
 */

const UNCACHED = 40;

let server: PrivatePostgres;
let upstream: TestUpstream;
let gateway: TestGateway;
let rows: FlaskRows;
const uncached: string[] = [];

async function readyz(): Promise<{ status: number; checks: Record<string, boolean> }> {
  const res = await fetch(`${gateway.adminUrl}/readyz`);
  return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
}

const errorOf = (reply: Reply): unknown => (JSON.parse(reply.text) as { error?: unknown }).error;

beforeAll(async () => {
  server = await PrivatePostgres.start();
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE app');
  await admin.end();
  rows = await authlibFlask.setup(server.url('app'));
  // Valid tokens that no request will have presented before the outage.
  const db = new pg.Client({ connectionString: server.url('app') });
  await db.connect();
  for (let i = 0; i < UNCACHED; i++) {
    const token = `uncached-${i}`;
    uncached.push(token);
    await db.query(
      `INSERT INTO oauth2_token (client_id, token_type, access_token, scope, issued_at, access_token_revoked_at, refresh_token_revoked_at, expires_in, user_id)
       SELECT client_id, token_type, $1, scope, issued_at, 0, 0, expires_in, user_id FROM oauth2_token WHERE access_token = $2`,
      [token, rows.bearer.valid],
    );
  }
  await db.end();
  upstream = await startUpstream();
  gateway = await startTestGateway({
    config: {
      credentials: {
        type: 'sql',
        sql: {
          // trust authentication ignores the password; it is here to prove it is never logged.
          url: server.url('app').replace('postgres@', 'postgres:Db-Pa55word-never-logged@'),
          preset: 'authlib-flask',
          cacheTtl: '5m',
          negativeTtl: '100ms',
          statementTimeout: '500ms',
          pool: { max: 4, connectTimeout: '500ms' },
        },
      },
      oauth2: { tokenSources: ['store'] },
      routes: [{ name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' }],
    },
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
  await server?.destroy();
});

describe('database stopped under load', () => {
  it('cached → 200, uncached → 503, unknown never 200, nothing but 200/401/503; restarted → recovers', async () => {
    const cached = rows.bearer.valid;
    expect((await send(gateway.url, '/api/x', { headers: bearer(cached) })).status).toBe(200);
    expect(await readyz()).toEqual({ status: 200, checks: { config: true, database: true } });

    // Load: cached, unknown and (once the database is gone) never-seen tokens, until told to stop.
    const statuses = { cached: new Map<number, number>(), unknown: new Map<number, number>() };
    const count = (map: Map<number, number>, status: number) => map.set(status, (map.get(status) ?? 0) + 1);
    let loading = true;
    const load = (async () => {
      let i = 0;
      while (loading) {
        const [a, b] = await Promise.all([
          send(gateway.url, '/api/x', { headers: bearer(cached) }),
          send(gateway.url, '/api/x', { headers: bearer(`unknown-${i++}`) }),
        ]);
        count(statuses.cached, a.status);
        count(statuses.unknown, b.status);
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.stop();

    // Never-seen valid tokens while the database is down: 503 temporarily_unavailable, promptly.
    const outage = await Promise.all(
      uncached.slice(0, UNCACHED / 2).map((t) => send(gateway.url, '/api/x', { headers: bearer(t) })),
    );
    for (const reply of outage) {
      expect(reply.status).toBe(503);
      expect(errorOf(reply)).toBe('temporarily_unavailable');
      // connectTimeout 500 ms bounds each lookup; generous for a loaded machine.
      expect(reply.ms).toBeLessThan(5000);
    }
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.checks['database']).toBe(false);

    await server.start();
    // Recovery without restart or reload: the pool reconnects on the next lookup.
    const ms = await msUntil(
      async () =>
        (await send(gateway.url, '/api/x', { headers: bearer(uncached[UNCACHED / 2]!) })).status === 200,
      15_000,
      100,
    );
    expect(ms).toBeLessThan(15_000);
    loading = false;
    await load;

    const recovered = await Promise.all(
      uncached.slice(UNCACHED / 2 + 1).map((t) => send(gateway.url, '/api/x', { headers: bearer(t) })),
    );
    expect(recovered.map((r) => r.status)).toEqual(recovered.map(() => 200));
    expect(await readyz()).toEqual({ status: 200, checks: { config: true, database: true } });

    // The cached token never failed; an unknown one was refused (401) or, while down, 503 — never 200.
    expect([...statuses.cached.keys()]).toEqual([200]);
    expect([...statuses.unknown.keys()].every((status) => status === 401 || status === 503)).toBe(true);
    expect(statuses.unknown.get(503) ?? 0).toBeGreaterThan(0);

    // The outage was logged (rate-limited), without the connection password or any token.
    const logs = gateway.logs.join('\n');
    expect(logs).toContain('credentials.sql query');
    expect(logs).not.toContain('Db-Pa55word-never-logged');
    expect(logs).not.toContain('uncached-');
  }, 120_000);
});
