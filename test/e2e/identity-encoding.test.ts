import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { receivedHeader, startUpstream, type TestUpstream } from '../helpers/upstream.js';

// Identity values are not always ASCII: undici refuses such header values, which once turned a
// valid token of user `张三` into a 502. They are sent percent-encoded (UTF-8) instead.

let upstream: TestUpstream;
let gw: TestGateway;
const token = (accessToken: string, userId: string, scope: string) => ({
  accessToken,
  clientId: 'client-ü',
  userId,
  scope,
  issuedAt: 1_700_000_000,
  expiresIn: 0,
});

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({
    config: { routes: [{ name: 'api', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'oauth2' }] },
    credentials: {
      bearerTokens: [
        token('token-unicode-user', '张三', 'read'),
        token('token-percent-user', '50%off', 'read write'),
      ],
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

test.each([
  ['token-unicode-user', '%E5%BC%A0%E4%B8%89', '张三', 'read'],
  ['token-percent-user', '50%25off', '50%off', 'read write'],
])('%s reaches the upstream with a decodable user header', async (accessToken, sent, decoded, scope) => {
  const res = await fetch(`${gw.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  const record = upstream.requests.at(-1)!;
  expect(receivedHeader(record, 'x-oauth-user')).toEqual([sent]);
  expect(decodeURIComponent(receivedHeader(record, 'x-oauth-user')[0]!)).toBe(decoded);
  expect(receivedHeader(record, 'x-oauth-client-id')).toEqual(['client-%C3%BC']);
  expect(receivedHeader(record, 'x-oauth-scope')).toEqual([scope]);
});
