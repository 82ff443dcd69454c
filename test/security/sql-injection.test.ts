import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { presetQueries } from '../../src/store/sql-queries.js';
import { send } from '../e2e/oauth2/support.js';
import { PrivatePostgres } from '../e2e/sql/private-postgres.js';
import { authlibFlask, type FlaskRows } from '../e2e/sql/support.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * SQL injection through every value the SQL credential store looks up: OAuth1 consumer keys and
 * tokens, bearer tokens (query and form, where any byte can travel). Each payload must be an
 * unknown credential (401), nothing may reach the upstream, the tables must be intact, and the
 * database's own statement log (log_statement = all on a PostgreSQL of the test's own) must show
 * only the preset's parameterised statements, with the payloads only ever as bound parameters.
 */

const PAYLOADS = [
  "'",
  '"',
  "''",
  '\\',
  "\\'",
  '--',
  '/*',
  ';',
  "' OR '1'='1",
  "' OR 1=1 --",
  '" OR ""="',
  "'; DROP TABLE client; --",
  "x' UNION SELECT client_id, client_secret FROM client --",
  '$1',
  '$$ OR 1=1 $$',
  '%27%20OR%201%3D1',
  'flask-consumer\u0000',
  '\u0000',
  `${"' OR '1'='1 ".repeat(1200)}`.slice(0, 16 * 1024),
];

const MARKER = "OR '1'='1";

let server: PrivatePostgres;
let upstream: TestUpstream;
let gateway: TestGateway;
let rows: FlaskRows;

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

beforeAll(async () => {
  server = await PrivatePostgres.start(['log_statement=all', "log_line_prefix='%m [%p] %a: '"]);
  const admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE app');
  await admin.end();
  rows = await authlibFlask.setup(server.url('app'));
  upstream = await startUpstream();
  gateway = await startTestGateway({
    config: {
      credentials: { type: 'sql', sql: { url: server.url('app'), preset: 'authlib-flask', negativeTtl: 0 } },
      oauth2: { tokenSources: ['store'], allowQueryToken: true, allowFormToken: true },
      routes: [
        { name: 'oauth1', match: { pathPrefix: '/oauth1' }, upstream: upstream.url, auth: 'oauth1' },
        { name: 'api', match: { pathPrefix: '/api' }, upstream: upstream.url, auth: 'oauth2' },
      ],
    },
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
  await server?.destroy();
});

describe('SQL injection payloads as credentials', () => {
  it('every payload as consumer key, token and bearer token → 401; nothing forwarded', async () => {
    const statuses = new Map<string, number[]>();
    const note = (what: string, status: number) =>
      statuses.set(what, [...(statuses.get(what) ?? []), status]);
    for (const payload of PAYLOADS) {
      const url = `${gateway.url}/oauth1/photos`;
      // OAuth1 parameters in the form body (RFC 5849 §3.5.2): any byte, any length fits there.
      const asConsumer = signOAuth1Request({
        method: 'POST',
        url,
        consumerKey: payload,
        consumerSecret: 'x',
      });
      const asToken = signOAuth1Request({
        method: 'POST',
        url,
        consumerKey: rows.client.clientId,
        consumerSecret: rows.client.clientSecret,
        token: payload,
        tokenSecret: 'x',
      });
      for (const [what, header] of [
        ['consumer', asConsumer],
        ['token', asToken],
      ] as const) {
        const params = Object.fromEntries(
          header
            .replace(/^OAuth /, '')
            .split(', ')
            .map((pair) => {
              const [k, v] = pair.split('=') as [string, string];
              return [k, decodeURIComponent(v.slice(1, -1))];
            }),
        );
        const reply = await send(gateway.url, '/oauth1/photos', {
          method: 'POST',
          headers: FORM,
          body: form(params),
        });
        note(what, reply.status);
      }
      note(
        'bearer-query',
        (await send(gateway.url, `/api/x?access_token=${encodeURIComponent(payload)}`)).status,
      );
      note(
        'bearer-form',
        (
          await send(gateway.url, '/api/x', {
            method: 'POST',
            headers: FORM,
            body: form({ access_token: payload }),
          })
        ).status,
      );
    }
    for (const [what, list] of statuses) {
      // 16 KB percent-encoded in the request line exceeds the header limit before any lookup (431).
      const expected = PAYLOADS.map((p) => (what === 'bearer-query' && p.length > 8000 ? 431 : 401));
      expect({ what, statuses: list }).toEqual({ what, statuses: expected });
    }
    expect(upstream.requests).toHaveLength(0);
  }, 120_000);

  it('the tables are intact and the real credentials still work', async () => {
    const db = new pg.Client({ connectionString: server.url('app') });
    await db.connect();
    try {
      const counts = await db.query<{ c: string; t: string; b: string }>(
        'SELECT (SELECT count(*) FROM client) AS c, (SELECT count(*) FROM token_credential) AS t, (SELECT count(*) FROM oauth2_token) AS b',
      );
      expect(counts.rows[0]).toEqual({ c: '1', t: '2', b: '4' });
    } finally {
      await db.end();
    }
    const reply = await send(gateway.url, '/api/x', {
      headers: { authorization: `Bearer ${rows.bearer.valid}` },
    });
    expect(reply.status).toBe(200);
  });

  it("the database log shows only the preset's parameterised statements; payloads only as parameters", async () => {
    const log = await server.log();
    const presets = new Set(
      Object.values(presetQueries({ name: 'authlib-flask', tables: {}, user: 'id' }, 'postgres')),
    );
    const gatewayLines = log.split('\n').filter((line) => line.includes(' oauth-gateway: LOG:'));
    const statements = gatewayLines.map((line) => line.slice(line.indexOf('LOG:') + 4).trim());
    expect(statements.length).toBeGreaterThan(PAYLOADS.length);
    for (const statement of statements) {
      // `execute <prepared name>: <text>`: the text must be exactly one of the preset's queries.
      const match = /^execute (oauth-gateway:[A-Za-z]+:[0-9a-f]{16}): (.*)$/.exec(statement);
      expect(match, statement.slice(0, 200)).not.toBeNull();
      expect(presets.has(match![2]!), match![2]).toBe(true);
    }
    // The payloads did reach the database — as bound parameters ($1 = '…'), nowhere else.
    const parameterLines = log.split('\n').filter((line) => line.includes('DETAIL:  parameters: $1 = '));
    expect(parameterLines.some((line) => line.includes(MARKER.replaceAll("'", "''")))).toBe(true);
    for (const line of log.split('\n')) {
      if (line.includes(MARKER) && !line.includes('DETAIL:  parameters: $1 = ')) {
        throw new Error(`payload outside a bound parameter: ${line.slice(0, 200)}`);
      }
    }
  });
});
