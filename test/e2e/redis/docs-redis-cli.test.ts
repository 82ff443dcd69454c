import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signOAuth1Request } from '../../../src/oauth1-client/sign.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';
import { bearer, receivedIdentity, send, sleep } from '../oauth2/support.js';

/**
 * docs/redis.md's redis-cli block, run as written (issue 14: every snippet of the guides is
 * executed) with two test-only changes: `redis-cli` talks to the test Redis, and the key prefix
 * `oauth-gateway:` becomes a random one (tests never share keys). The records it writes must
 * authenticate an OAuth1 request and a bearer token, and its `DEL` must revoke the token within
 * `credentials.cacheTtl`. (The Python snippets run in test/e2e/authlib/.)
 */

const block = /```sh\n([\s\S]*?)```/.exec(
  readFileSync(new URL('../../../docs/redis.md', import.meta.url), 'utf8'),
)![1]!;
/** Shell lines with backslash continuations joined. */
const lines = block
  .replace(/\\\n\s*/g, '')
  .split('\n')
  .filter((line) => line.trim() !== '');

describe('docs/redis.md redis-cli block', () => {
  const prefix = `docs-redis-cli-${randomBytes(4).toString('hex')}:`;
  const redisUrl = inject('redisUrl');
  let upstream: TestUpstream;
  let gw: TestGateway;

  function run(selected: string[]): void {
    const script = [
      `redis-cli() { command redis-cli -u "$TEST_REDIS_URL" "$@" >/dev/null; }`,
      ...selected.map((line) => line.replaceAll('oauth-gateway:', prefix)),
    ].join('\n');
    execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, TEST_REDIS_URL: redisUrl },
    });
  }

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway({
      config: {
        redis: { url: redisUrl, keyPrefix: prefix },
        credentials: { type: 'redis', cacheTtl: '1s' },
        routes: [{ name: 'api', match: { pathPrefix: '/' }, upstream: upstream.url, auth: 'any' }],
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    execFileSync(
      'bash',
      ['-c', `redis-cli -u "$U" --scan --pattern '${prefix}*' | xargs -r redis-cli -u "$U" DEL`],
      {
        env: { ...process.env, U: redisUrl },
      },
    );
  });

  it('writes records the gateway accepts, and its DEL revokes the bearer token', async () => {
    const revoke = lines.filter((line) => line.startsWith('redis-cli DEL'));
    expect(revoke).toHaveLength(1);
    run(lines.filter((line) => !revoke.includes(line)));

    const authorization = signOAuth1Request({
      method: 'GET',
      url: `${gw.url}/photos`,
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
    });
    expect((await send(gw.url, '/photos', { headers: { authorization } })).status).toBe(200);
    expect(receivedIdentity(upstream.requests.at(-1)!)).toMatchObject({
      user: ['alice'],
      method: ['oauth1'],
    });
    expect((await send(gw.url, '/photos', { headers: bearer('2YotnFZFEjr1zCsicMWpAA') })).status).toBe(200);
    expect(receivedIdentity(upstream.requests.at(-1)!)).toMatchObject({
      user: ['alice'],
      client: ['demo-client'],
    });

    run([...lines.filter((line) => line.startsWith('KEY=')), ...revoke]);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 5_000) {
      status = (await send(gw.url, '/photos', { headers: bearer('2YotnFZFEjr1zCsicMWpAA') })).status;
      if (status === 200) await sleep(100);
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_000 + 1_500); // cacheTtl, plus slack
  });
});
