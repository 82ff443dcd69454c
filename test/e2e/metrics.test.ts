import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signOAuth1Request } from '../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CLIENT = { clientId: 'metrics-client', clientSecret: 'metrics-client-secret' };
const TOKEN = {
  token: 'metrics-token',
  tokenSecret: 'metrics-token-secret',
  clientId: CLIENT.clientId,
  userId: 'u1',
  scope: 'read',
};
const BEARER = 'metrics-bearer-token-0123456789';

let upstream: TestUpstream;
let gw: TestGateway;

function config(upstreamUrl: string, extraRoute = false): Record<string, unknown> {
  const routes: Record<string, unknown>[] = [
    { name: 'open', match: { pathPrefix: '/open' }, upstream: upstreamUrl, auth: 'none' },
    { name: 'signed', match: { pathPrefix: '/signed' }, upstream: upstreamUrl, auth: 'oauth1' },
    {
      name: 'bearer',
      match: { pathPrefix: '/bearer' },
      upstream: upstreamUrl,
      auth: 'oauth2',
      scopes: ['read'],
    },
    {
      name: 'admin',
      match: { pathPrefix: '/admin' },
      upstream: upstreamUrl,
      auth: 'oauth2',
      scopes: ['admin'],
    },
  ];
  if (extraRoute)
    routes.push({ name: 'extra', match: { pathPrefix: '/extra' }, upstream: upstreamUrl, auth: 'none' });
  return { routes };
}

const credentials = {
  clients: [CLIENT],
  tokens: [TOKEN],
  bearerTokens: [
    {
      accessToken: BEARER,
      clientId: 'c2',
      userId: 'u2',
      scope: 'read',
      issuedAt: 1_700_000_000,
      expiresIn: 0,
    },
  ],
};

function signed(path: string): Record<string, string> {
  return {
    authorization: signOAuth1Request({
      method: 'GET',
      url: `${gw.url}${path}`,
      consumerKey: CLIENT.clientId,
      consumerSecret: CLIENT.clientSecret,
      token: TOKEN.token,
      tokenSecret: TOKEN.tokenSecret,
    }),
  };
}

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ config: config(upstream.url), credentials });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

describe('/metrics after mixed traffic', () => {
  test('counts requests, auth failures, nonce claims and token cache events exactly', async () => {
    const statuses: number[] = [];
    const send = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${gw.url}${path}`, { headers });
      await res.arrayBuffer();
      statuses.push(res.status);
    };
    await send('/open/a');
    await send('/open/b');
    for (let i = 0; i < 3; i++) await send('/signed/x', signed('/signed/x'));
    const replayed = signed('/signed/y');
    await send('/signed/y', replayed);
    await send('/signed/y', replayed);
    for (let i = 0; i < 2; i++) await send('/bearer/x', { authorization: `Bearer ${BEARER}` });
    await send('/bearer/x', { authorization: 'Bearer not-a-known-token' });
    await send('/admin/x', { authorization: `Bearer ${BEARER}` });
    await send('/nowhere');
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 401, 200, 200, 401, 403, 404]);

    const m = await scrape();
    expect(m.get('oauth_gateway_requests_total{route="open",status="200",auth_method="none"}')).toBe(2);
    expect(m.get('oauth_gateway_requests_total{route="signed",status="200",auth_method="oauth1"}')).toBe(4);
    expect(m.get('oauth_gateway_requests_total{route="signed",status="401",auth_method="none"}')).toBe(1);
    expect(m.get('oauth_gateway_requests_total{route="bearer",status="200",auth_method="oauth2"}')).toBe(2);
    expect(m.get('oauth_gateway_requests_total{route="-",status="404",auth_method="none"}')).toBe(1);
    expect(m.get('oauth_gateway_auth_failures_total{route="signed",code="invalid_nonce"}')).toBe(1);
    expect(m.get('oauth_gateway_auth_failures_total{route="bearer",code="invalid_token"}')).toBe(1);
    expect(m.get('oauth_gateway_auth_failures_total{route="admin",code="insufficient_scope"}')).toBe(1);
    expect(m.get('oauth_gateway_nonce_claims_total{result="accepted"}')).toBe(4);
    expect(m.get('oauth_gateway_nonce_claims_total{result="replay"}')).toBe(1);
    // Store answers are not cached (the store has its own bound), so every bearer request asks it.
    expect(m.get('oauth_gateway_token_lookups_total{source="store"}')).toBe(3);
    expect(m.get('oauth_gateway_token_lookups_total{source="none"}')).toBe(1);
    expect(m.get('oauth_gateway_request_duration_seconds_count{route="signed"}')).toBe(5);
    expect(m.get('oauth_gateway_upstream_duration_seconds_count{route="signed"}')).toBe(4);
    expect(m.get('oauth_gateway_config_reloads_total{result="success"}')).toBe(0);
    expect([...m.keys()].some((key) => key.startsWith('oauth_gateway_config_info{hash="'))).toBe(true);
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});

describe('reload under load', () => {
  test('a valid then an invalid config under steady traffic: 0 failed requests, reload metrics right', async () => {
    const before = await scrape();
    const hashBefore = [...before.keys()].find((key) => key.startsWith('oauth_gateway_config_info'));
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const worker = async () => {
      while (running) {
        try {
          const res = await fetch(`${gw.url}/open/load`);
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failures.push(String(res.status));
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);

    await new Promise((resolve) => setTimeout(resolve, 200));
    await gw.writeFiles({ config: config(upstream.url, true) });
    expect(await gw.reload()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const extra = await fetch(`${gw.url}/extra/x`);
    expect(extra.status).toBe(200);

    await gw.writeFiles({ config: { routes: [{ name: 'broken', match: { pathPrefix: 'no-slash' } }] } });
    expect(await gw.reload()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    // The invalid config was rejected: the previous (valid) one still serves /extra.
    expect((await fetch(`${gw.url}/extra/y`)).status).toBe(200);
    const after = await scrape();
    expect(after.get('oauth_gateway_config_reloads_total{result="success"}')).toBe(1);
    expect(after.get('oauth_gateway_config_reloads_total{result="failure"}')).toBe(1);
    const hashAfter = [...after.keys()].filter((key) => key.startsWith('oauth_gateway_config_info'));
    expect(hashAfter).toHaveLength(1);
    expect(hashAfter[0]).not.toBe(hashBefore);
    const rejected = gw
      .logEntries()
      .find((entry) => entry['msg'] === 'configuration reload rejected; keeping the current configuration');
    expect(JSON.stringify(rejected?.['issues'])).toContain('routes[0].match.pathPrefix: must start with /');
  });
});
