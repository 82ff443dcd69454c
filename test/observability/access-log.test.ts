import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessLog } from '../../src/observability/access-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * The access log is formatted by hand (src/observability/access-log.ts) for speed: its lines must
 * stay exactly what pino writes for the same fields, and `log.access` / `log.accessSample` must
 * pick the lines they promise, through a real gateway.
 */

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(line);
      callback();
    },
  });
  return { lines, stream };
}

describe('AccessLog lines are the lines pino writes', () => {
  const fields = {
    requestId: 'req-"1"\\\u2028',
    route: 'api',
    method: 'GET',
    path: '/a b/\u00e9\u0001',
    status: 200,
    durationMs: 1.25,
    clientId: undefined,
    authMethod: 'oauth2',
    retried: true,
    error: undefined,
  };

  it('same keys in the same order, same values, undefined fields left out', async () => {
    const ours = capture();
    const theirs = capture();
    new AccessLog(createLogger('info', ours.stream)).write('request', fields);
    createLogger('info', theirs.stream).info(fields, 'request');
    await new Promise((resolve) => setImmediate(resolve));
    const a = JSON.parse(ours.lines[0]!) as Record<string, unknown>;
    const b = JSON.parse(theirs.lines[0]!) as Record<string, unknown>;
    expect(Math.abs((a['time'] as number) - (b['time'] as number))).toBeLessThan(1_000);
    expect({ ...a, time: 0 }).toEqual({ ...b, time: 0 });
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(Object.keys(a)).not.toContain('clientId');
  });

  it('a non-finite number is written as null (the line stays JSON)', async () => {
    const ours = capture();
    new AccessLog(createLogger('info', ours.stream)).write('request', { durationMs: Number.NaN });
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(ours.lines[0]!)).toMatchObject({ durationMs: null, msg: 'request' });
  });

  it('nothing below the logger level: LOG_LEVEL=warn writes no access line', () => {
    const log = new AccessLog(createLogger('warn', capture().stream));
    expect(log.wants(200, { access: 'all', accessSample: 1 })).toBe(false);
    expect(log.wants(500, { access: 'all', accessSample: 1 })).toBe(false);
  });
});

describe('log.access and log.accessSample through a gateway', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  const config = (log: Record<string, unknown>) => ({
    log,
    routes: [
      { name: 'open', match: { pathPrefix: '/open' }, upstream: upstream.url, auth: 'none' },
      { name: 'closed', match: { pathPrefix: '/closed' }, upstream: upstream.url, auth: 'oauth2' },
    ],
  });
  const accessLines = () => gw.logEntries().filter((e) => e['msg'] === 'request');
  async function traffic(open: number, closed: number): Promise<void> {
    for (let i = 0; i < open; i++) expect((await fetch(`${gw.url}/open/${i}`)).status).toBe(200);
    for (let i = 0; i < closed; i++) expect((await fetch(`${gw.url}/closed/${i}`)).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({ config: config({}) });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('default (all): one line per request', async () => {
    gw.logs.length = 0;
    await traffic(3, 2);
    expect(accessLines().map((e) => e['status'])).toEqual([200, 200, 200, 401, 401]);
  });

  it('errors: only answers ≥ 400, each with its error code', async () => {
    await gw.writeFiles({ config: config({ access: 'errors' }) });
    expect(await gw.reload()).toBe(true);
    gw.logs.length = 0;
    await traffic(5, 2);
    const lines = accessLines();
    expect(lines.map((e) => [e['status'], e['error']])).toEqual([
      [401, 'unauthorized'],
      [401, 'unauthorized'],
    ]);
  });

  it('off: no access line, warnings still logged', async () => {
    await gw.writeFiles({ config: config({ access: 'off' }) });
    expect(await gw.reload()).toBe(true);
    gw.logs.length = 0;
    await traffic(3, 2);
    expect(accessLines()).toEqual([]);
  });

  it('accessSample 0.1: about a tenth of the 2xx lines, every error line', async () => {
    await gw.writeFiles({ config: config({ access: 'all', accessSample: 0.1 }) });
    expect(await gw.reload()).toBe(true);
    gw.logs.length = 0;
    await traffic(600, 20);
    const lines = accessLines();
    const ok = lines.filter((e) => e['status'] === 200).length;
    // Binomial(600, 0.1): mean 60, sd ≈ 7.3; this range fails about once in a million runs.
    expect(ok).toBeGreaterThan(25);
    expect(ok).toBeLessThan(100);
    expect(lines.filter((e) => e['status'] === 401)).toHaveLength(20);
  });

  it('a bad log section is a config error naming the path', async () => {
    await gw.writeFiles({ config: config({ access: 'some', accessSample: 0 }) });
    expect(await gw.reload()).toBe(false);
    const errors = gw.logs.join('\n');
    expect(errors).toContain('log.access');
    expect(errors).toContain('log.accessSample');
  });
});
