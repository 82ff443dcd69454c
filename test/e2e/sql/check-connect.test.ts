import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createPostgresDatabase, type TestDatabase } from '../../store/sql-support.js';

/**
 * `oauth-gateway check --connect` (the built CLI, dist/main.js) runs each configured SQL query once
 * against the database and names the query and the database's complaint; plain `check` only judges
 * the file. The password comes from ${VAR} and never appears in the output.
 */

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../../dist/main.js', import.meta.url));

let db: TestDatabase;
let dir: string;

async function check(sql: Record<string, unknown>, connect: boolean) {
  const path = join(dir, 'gateway.yaml');
  await writeFile(
    path,
    stringify({
      credentials: { type: 'sql', sql },
      routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:9', auth: 'oauth1' }],
    }),
  );
  const args = [MAIN, 'check', '-c', path, ...(connect ? ['--connect'] : [])];
  try {
    const { stdout } = await run(process.execPath, args, {
      env: { ...process.env, DB_PASSWORD: 'hunter2-not-logged' },
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

beforeAll(async () => {
  db = await createPostgresDatabase('ogw_check');
  await db.exec('CREATE TABLE client (client_id VARCHAR(48), client_secret VARCHAR(120))');
  dir = await mkdtemp(join(tmpdir(), 'ogw-check-'));
});

afterAll(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('oauth-gateway check --connect', () => {
  it('reports each query whose table or column is missing, with the database message', async () => {
    const url = db.url.replace('postgres@', 'postgres:${DB_PASSWORD}@');
    const offline = await check({ url, preset: 'authlib-flask' }, false);
    expect(offline.code).toBe(0);
    const online = await check({ url, preset: 'authlib-flask' }, true);
    expect(online.code).toBe(1);
    expect(online.output).toContain('2 errors');
    expect(online.output).toContain(
      'credentials.sql.queries.token: relation "token_credential" does not exist',
    );
    expect(online.output).toContain(
      'credentials.sql.queries.bearerToken: relation "oauth2_token" does not exist',
    );
    expect(online.output).not.toContain('hunter2');
  });

  it('passes when every query runs and returns the needed columns', async () => {
    const result = await check(
      {
        url: db.url,
        queries: { client: 'SELECT client_id, client_secret FROM client WHERE client_id = $1' },
      },
      true,
    );
    expect(result).toMatchObject({ code: 0 });
  });

  it('names a query that runs but lacks a column', async () => {
    const result = await check(
      { url: db.url, queries: { client: 'SELECT client_id FROM client WHERE client_id = $1' } },
      true,
    );
    expect(result.code).toBe(1);
    expect(result.output).toContain('credentials.sql.queries.client: returns no column clientsecret');
  });

  it('a TLS CA file that cannot be read is a configuration error naming the key (relative to gateway.yaml)', async () => {
    const result = await check(
      { url: db.url, preset: 'authlib-flask', tls: { ca: './no-such-ca.pem' } },
      false,
    );
    expect(result.code).toBe(1);
    expect(result.output).toContain(`credentials.sql.tls.ca: cannot read ${join(dir, 'no-such-ca.pem')}`);
  });
});
