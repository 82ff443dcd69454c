import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseGatewayConfig } from '../../src/config/load.js';
import { reviveTokenInfo } from '../../src/introspect/token-info-codec.js';
import {
  createRedisClient,
  type RedisConnection,
  RedisCredentialStore,
  RedisNonceStore,
  RedisSharedTokenCache,
} from '../../src/store/redis.js';
import type { SharedCache } from '../../src/store/types.js';
import type { TokenInfo } from '../../src/verify/oauth2/token-info.js';
import { nonceClaim, testRedisConfig } from './support.js';

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = testRedisConfig(inject('redisUrl'));
const redis = createRedisClient(config);
const raw = new Redis(config.url);
afterAll(async () => {
  const keys = await raw.keys(`${config.keyPrefix}*`);
  if (keys.length > 0) await raw.del(...keys);
  raw.disconnect();
  await redis.close();
});

describe('key layout (DESIGN.md "Redis layout")', () => {
  it('claims nonces as {prefix}oauth1:nonce:{clientId}:{token}:{timestamp}:{nonce} with a PX expiry', async () => {
    const nonces = new RedisNonceStore(redis);
    expect(await nonces.claim(nonceClaim('ck:tk:1700000000:abc', 2500))).toBe('fresh');
    const key = `${config.keyPrefix}oauth1:nonce:ck:tk:1700000000:abc`;
    expect(await raw.get(key)).toBe('1');
    const pttl = await raw.pttl(key);
    expect(pttl).toBeGreaterThan(4000);
    expect(pttl).toBeLessThanOrEqual(5000);
  });

  it('an authorization server pre-claiming the key makes the gateway see a replay', async () => {
    await raw.set(`${config.keyPrefix}oauth1:nonce:ck:tk:1:pre`, 'x', 'PX', 5000);
    expect(await new RedisNonceStore(redis).claim(nonceClaim('ck:tk:1:pre', 2500))).toBe('replayed');
  });

  it('writes nothing outside its prefix', async () => {
    const other = createRedisClient(testRedisConfig(config.url));
    try {
      await new RedisNonceStore(other).claim(nonceClaim('ck:tk:1:isolated', 2500));
      expect(await new RedisNonceStore(redis).claim(nonceClaim('ck:tk:1:isolated', 2500))).toBe('fresh');
    } finally {
      await other.close();
    }
  });
});

describe('RedisCredentialStore with malformed records', () => {
  const store = new RedisCredentialStore(redis, { cacheTtlMs: 0 });
  const client = (id: string) => `${config.keyPrefix}oauth1:client:${id}`;
  const token = (id: string) => `${config.keyPrefix}oauth1:token:${id}`;
  const bearer = (value: string) => `${config.keyPrefix}oauth2:token:${sha256Hex(value)}`;
  const validBearer = { clientId: 'c', issuedAt: '1700000000', expiresIn: '60' };

  it.each<[string, Record<string, string>]>([
    ['missing clientSecret', { clientId: 'm1' }],
    ['missing clientId', { clientSecret: 's' }],
    ['clientId of another client', { clientId: 'someone-else', clientSecret: 's' }],
    [
      'RSA key that does not parse',
      {
        clientId: 'm1',
        clientSecret: 's',
        rsaPublicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      },
    ],
    ['RSA key that is not PEM', { clientId: 'm1', clientSecret: 's', rsaPublicKey: 'ssh-rsa AAAA' }],
  ])('treats a client with %s as unknown', async (_label, fields) => {
    await raw.del(client('m1'));
    await raw.hset(client('m1'), fields);
    expect(await store.getClient('m1')).toBeUndefined();
  });

  it('treats a key of the wrong Redis type as unknown, not as a crash', async () => {
    await raw.set(client('wrongtype'), 'a string, not a hash');
    expect(await store.getClient('wrongtype')).toBeUndefined();
    await raw.del(`${config.keyPrefix}introspect:wrongtype`);
    await raw.hset(`${config.keyPrefix}introspect:wrongtype`, { active: 'true' });
    expect(await new RedisSharedTokenCache(redis).get('wrongtype')).toBeUndefined();
  });

  it('accepts an empty rsaPublicKey as "no RSA key" and ignores extra fields', async () => {
    await raw.hset(client('m2'), {
      clientId: 'm2',
      clientSecret: 's',
      rsaPublicKey: '',
      createdBy: 'authlib',
    });
    expect(await store.getClient('m2')).toEqual({
      clientId: 'm2',
      clientSecret: 's',
      rsaPublicKey: undefined,
    });
  });

  it.each<[string, Record<string, string>]>([
    ['missing tokenSecret', { token: 'bad-t', clientId: 'c' }],
    ['missing clientId', { token: 'bad-t', tokenSecret: 'x' }],
    ['token field of another token', { token: 'other', tokenSecret: 'x', clientId: 'c' }],
  ])('treats a token with %s as unknown', async (_label, fields) => {
    await raw.del(token('bad-t'));
    await raw.hset(token('bad-t'), fields);
    expect(await store.getToken('bad-t')).toBeUndefined();
  });

  it('treats an empty userId/scope as absent', async () => {
    await raw.hset(token('empty-user'), {
      token: 'empty-user',
      tokenSecret: 'x',
      clientId: 'c',
      userId: '',
      scope: '',
    });
    expect(await store.getToken('empty-user')).toMatchObject({ userId: undefined, scopes: [] });
  });

  it.each<[string, Record<string, string>]>([
    ['missing clientId', { issuedAt: '1', expiresIn: '1' }],
    ['missing issuedAt', { clientId: 'c', expiresIn: '1' }],
    ['missing expiresIn', { clientId: 'c', issuedAt: '1' }],
    ['non-numeric issuedAt', { ...validBearer, issuedAt: 'yesterday' }],
    ['negative expiresIn', { ...validBearer, expiresIn: '-5' }],
    ['fractional expiresIn', { ...validBearer, expiresIn: '1.5' }],
    ['revoked flag that is neither 0/1 nor true/false', { ...validBearer, revoked: 'maybe' }],
    ['audience that is broken JSON', { ...validBearer, audience: '["a",' }],
    ['audience JSON that is not a list of strings', { ...validBearer, audience: '[1,2]' }],
  ])('treats a bearer record with %s as unknown', async (_label, fields) => {
    await raw.del(bearer('bad-bearer'));
    await raw.hset(bearer('bad-bearer'), fields);
    expect(await store.getBearerToken('bad-bearer')).toBeUndefined();
  });

  it.each([
    ['1', true],
    ['true', true],
    ['0', false],
    ['false', false],
  ])('reads revoked=%s as %s', async (flag, expected) => {
    await raw.hset(bearer(`flag-${flag}`), { ...validBearer, revoked: flag });
    expect(await store.getBearerToken(`flag-${flag}`)).toMatchObject({ revoked: expected });
  });
});

describe('RedisCredentialStore cache', () => {
  /** Delegates to the real connection, counting HGETALLs. */
  function counting(connection: RedisConnection): { connection: RedisConnection; reads: () => number } {
    let reads = 0;
    const wrapped: RedisConnection = Object.create(connection, {
      getHash: {
        value: (key: string) => {
          reads++;
          return connection.getHash(key);
        },
      },
    });
    return { connection: wrapped, reads: () => reads };
  }

  it('coalesces concurrent misses for one key into one Redis read', async () => {
    await raw.hset(`${config.keyPrefix}oauth2:token:${sha256Hex('popular')}`, {
      clientId: 'c',
      issuedAt: '1',
      expiresIn: '0',
    });
    const { connection, reads } = counting(redis);
    const store = new RedisCredentialStore(connection, { cacheTtlMs: 5000 });
    const results = await Promise.all(Array.from({ length: 50 }, () => store.getBearerToken('popular')));
    expect(results.every((result) => result?.clientId === 'c')).toBe(true);
    expect(reads()).toBe(1);
    await store.getBearerToken('popular');
    expect(reads()).toBe(1);
  });

  it('caches unknown answers too, then asks again after the ttl', async () => {
    const { connection, reads } = counting(redis);
    const store = new RedisCredentialStore(connection, { cacheTtlMs: 100 });
    expect(await store.getClient('never-there')).toBeUndefined();
    expect(await store.getClient('never-there')).toBeUndefined();
    expect(reads()).toBe(1);
    await sleep(150);
    expect(await store.getClient('never-there')).toBeUndefined();
    expect(reads()).toBe(2);
  });

  it('does not refresh an entry because it is used', async () => {
    const { connection, reads } = counting(redis);
    const store = new RedisCredentialStore(connection, { cacheTtlMs: 150 });
    await store.getClient('busy');
    for (let i = 0; i < 4; i++) {
      await sleep(50);
      await store.getClient('busy');
    }
    expect(reads()).toBe(2);
  });
});

describe('RedisSharedTokenCache', () => {
  interface Info {
    active: boolean;
    clientId?: string;
    scope?: string[];
  }
  const cache = new RedisSharedTokenCache<Info>(redis);

  it('stores JSON under {prefix}introspect:{key} with the given ttl', async () => {
    const key = sha256Hex('introspected-token');
    await cache.set(key, { active: true, clientId: 'c', scope: ['a', 'b'] }, 3000);
    expect(await cache.get(key)).toEqual({ active: true, clientId: 'c', scope: ['a', 'b'] });
    const stored = `${config.keyPrefix}introspect:${key}`;
    expect(JSON.parse((await raw.get(stored))!)).toEqual({ active: true, clientId: 'c', scope: ['a', 'b'] });
    const pttl = await raw.pttl(stored);
    expect(pttl).toBeGreaterThan(2000);
    expect(pttl).toBeLessThanOrEqual(3000);
  });

  it('is shared between connections (replicas)', async () => {
    const other = createRedisClient({ ...config });
    try {
      const key = sha256Hex('shared-token');
      await new RedisSharedTokenCache<Info>(other).set(key, { active: false }, 3000);
      expect(await cache.get(key)).toEqual({ active: false });
    } finally {
      await other.close();
    }
  });

  it('misses after the ttl, after delete, for unknown keys and for unparsable values', async () => {
    const key = sha256Hex('short-lived');
    await cache.set(key, { active: true }, 80);
    await sleep(150);
    expect(await cache.get(key)).toBeUndefined();

    await cache.set(key, { active: true }, 5000);
    await cache.delete(key);
    expect(await cache.get(key)).toBeUndefined();

    expect(await cache.get(sha256Hex('never-set'))).toBeUndefined();
    await raw.set(`${config.keyPrefix}introspect:garbage`, '{not json');
    expect(await cache.get('garbage')).toBeUndefined();
  });

  it('does not store anything for a ttl of zero', async () => {
    const key = sha256Hex('zero-ttl');
    await cache.set(key, { active: true }, 0);
    expect(await raw.exists(`${config.keyPrefix}introspect:${key}`)).toBe(0);
  });

  it('lets the caller reject values of the wrong shape', async () => {
    const strict = new RedisSharedTokenCache<Info>(redis, {
      revive: (value) =>
        typeof value === 'object' && value !== null && typeof (value as Info).active === 'boolean'
          ? (value as Info)
          : undefined,
    });
    await raw.set(`${config.keyPrefix}introspect:wrong-shape`, '{"active":"yes"}');
    expect(await strict.get('wrong-shape')).toBeUndefined();
    await raw.set(`${config.keyPrefix}introspect:right-shape`, '{"active":true}');
    expect(await strict.get('right-shape')).toEqual({ active: true });
  });
});

describe('RedisSharedTokenCache as the introspection L2', () => {
  it('fits SharedCache<TokenInfo> and round-trips a TokenInfo through reviveTokenInfo', async () => {
    const l2: SharedCache<TokenInfo> = new RedisSharedTokenCache<TokenInfo>(redis, {
      revive: reviveTokenInfo,
    });
    const info: TokenInfo = {
      active: true,
      scopes: ['photos:read'],
      clientId: 'c',
      user: 'alice',
      exp: 1900000000,
    };
    const key = sha256Hex('l2-token');
    await l2.set(key, info, 3000);
    expect(await l2.get(key)).toEqual(info);
  });
});

describe('redis config block', () => {
  const base = {
    routes: [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'none' }],
  };
  const issues = (redisBlock: unknown): string[] => {
    try {
      parseGatewayConfig({ ...base, redis: redisBlock }, {});
      return [];
    } catch (error) {
      return [...(error as { issues: string[] }).issues];
    }
  };

  it('defaults to a standalone URL with bounded timeouts', () => {
    const config = parseGatewayConfig(base, {});
    expect(config.redis).toMatchObject({
      url: 'redis://127.0.0.1:6379',
      commandTimeout: 1000,
      keyPrefix: 'oauth-gateway:',
    });
    expect(config.redis.sentinels).toBeUndefined();
    expect(config.redis.cluster).toBeUndefined();
  });

  it('accepts Sentinel and Cluster nodes with default ports', () => {
    const sentinel = parseGatewayConfig(
      {
        ...base,
        redis: { sentinels: [{ host: 's1' }, { host: 's2', port: 26380 }], sentinelName: 'mymaster' },
      },
      {},
    );
    expect(sentinel.redis.sentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ]);
    const cluster = parseGatewayConfig(
      { ...base, redis: { cluster: [{ host: 'n1' }], commandTimeout: '250ms' } },
      {},
    );
    expect(cluster.redis.cluster).toEqual([{ host: 'n1', port: 6379 }]);
    expect(cluster.redis.commandTimeout).toBe(250);
  });

  it('rejects contradictory or incomplete modes, naming the option', () => {
    expect(issues({ sentinels: [{ host: 's1' }] })).toEqual([
      'redis.sentinelName: required when sentinels are listed',
    ]);
    expect(issues({ sentinels: [{ host: 's1' }], sentinelName: 'm', cluster: [{ host: 'n1' }] })).toEqual([
      'redis.cluster: cannot be combined with sentinels',
    ]);
    expect(issues({ url: 'http://x' })[0]).toMatch(/^redis\.url: /);
    expect(issues({ sentinels: [] })[0]).toMatch(/^redis\.sentinels/);
  });
});
