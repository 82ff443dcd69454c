import { afterAll, describe, expect, inject, it } from 'vitest';
import { credentialsFileSchema } from '../../src/config/credentials-schema.js';
import { parseGatewayConfig } from '../../src/config/load.js';
import { createStores, FileCredentialStore, MemoryNonceStore, needsRedis } from '../../src/store/index.js';
import { createRedisClient } from '../../src/store/redis.js';
import { RedisCredentialStore, RedisNonceStore } from '../../src/store/redis-stores.js';
import { nonceClaim, testRedisConfig } from './support.js';

const routes = [{ name: 'r', match: { pathPrefix: '/' }, upstream: 'http://127.0.0.1:1', auth: 'any' }];
const credentials = credentialsFileSchema.parse({ clients: [{ clientId: 'c', clientSecret: 's' }] });
const redis = createRedisClient(testRedisConfig(inject('redisUrl')));
afterAll(() => redis.close());

describe('createStores', () => {
  it('uses the file and memory stores by default, without Redis', async () => {
    const config = parseGatewayConfig({ routes }, {});
    expect(needsRedis(config)).toBe(false);
    const stores = await createStores({ config, credentials });
    expect(stores.credentials).toBeInstanceOf(FileCredentialStore);
    expect(stores.nonces).toBeInstanceOf(MemoryNonceStore);
    expect(await stores.credentials.getClient('c')).toMatchObject({ clientSecret: 's' });
  });

  it('uses Redis for credentials and nonces when configured', async () => {
    const config = parseGatewayConfig(
      { routes, credentials: { type: 'redis', cacheTtl: '2s' }, oauth1: { nonceStore: 'redis' } },
      {},
    );
    expect(needsRedis(config)).toBe(true);
    const stores = await createStores({ config, credentials: undefined }, redis);
    expect(stores.credentials).toBeInstanceOf(RedisCredentialStore);
    expect(stores.nonces).toBeInstanceOf(RedisNonceStore);
    expect(await stores.credentials.ping()).toBe(true);
  });

  it('mixes file credentials with Redis nonces', async () => {
    const config = parseGatewayConfig({ routes, oauth1: { nonceStore: 'redis' } }, {});
    const stores = await createStores({ config, credentials }, redis);
    expect(stores.credentials).toBeInstanceOf(FileCredentialStore);
    expect(stores.nonces).toBeInstanceOf(RedisNonceStore);
  });

  it('refuses a Redis store without a connection, naming the option', async () => {
    const config = parseGatewayConfig({ routes, oauth1: { nonceStore: 'redis' } }, {});
    await expect(createStores({ config, credentials })).rejects.toThrow(/oauth1\.nonceStore: redis/);
  });

  it('counts a shared introspection cache as needing Redis', () => {
    const config = parseGatewayConfig(
      {
        routes,
        oauth2: {
          tokenSources: ['introspection'],
          introspection: {
            url: 'https://as.example/introspect',
            clientId: 'g',
            clientSecret: 'x',
            cache: { shared: true },
          },
        },
      },
      {},
    );
    expect(needsRedis(config)).toBe(true);
  });

  it('carries a memory nonce store over a reload so claimed nonces stay claimed', async () => {
    const config = parseGatewayConfig({ routes }, {});
    const first = await createStores({ config, credentials });
    expect(await first.nonces.claim(nonceClaim('c:t:1:n'))).toBe('fresh');
    const second = await createStores({ config, credentials }, undefined, first);
    expect(second.nonces).toBe(first.nonces);
    expect(await second.nonces.claim(nonceClaim('c:t:1:n'))).toBe('replayed');
  });
});
