import { randomUUID } from 'node:crypto';
import type { RedisConfig } from '../../src/config/schema.js';
import type { NonceClaim } from '../../src/store/types.js';

/** A RedisConfig for tests: short timeouts, and a key prefix no other test file shares. */
export function testRedisConfig(url: string, overrides: Partial<RedisConfig> = {}): RedisConfig {
  return {
    url,
    keyPrefix: `test:${randomUUID()}:`,
    commandTimeout: 500,
    connectTimeout: 500,
    maxReconnectDelay: 100,
    allowEvictingPolicy: false,
    ...overrides,
  };
}

/**
 * A claim as the verifier makes it for `key`, judged at `now` with a timestamp of `now` (so always
 * within the window). The Redis store keeps it 2 × windowMs.
 */
export function nonceClaim(key: string, windowMs = 30_000, now = Date.now()): NonceClaim {
  return { key, timestamp: Math.floor(now / 1000), windowMs, now };
}
