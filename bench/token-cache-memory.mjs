#!/usr/bin/env node
/**
 * Heap bytes per cached bearer token (issue 21; was ~550): `node --expose-gc
 * bench/token-cache-memory.mjs [--tokens 100000] [--users 5000]` after `npm run build`. Fills the
 * token cache the gateway puts in front of its sources (dist/introspect/cache.js) with answers
 * parsed from RFC 7662 JSON exactly as the introspection source parses them (one distinct opaque
 * token each, `sub` one of --users users, one client, two scopes), then divides the growth of the
 * V8 heap and ArrayBuffers by the count. What the RSS of a whole gateway does with them is the bench's memory row.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TokenCache } from '../dist/introspect/cache.js';
import { parseIntrospectionResponse } from '../dist/introspect/sources/introspection-response.js';

const { values } = parseArgs({
  options: { tokens: { type: 'string', default: '100000' }, users: { type: 'string', default: '5000' } },
});
const tokens = Number(values.tokens);
const users = Number(values.users);
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function heapUsed() {
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const exp = Math.floor(Date.now() / 1000) + 3600;
const list = Array.from({ length: tokens }, () => randomBytes(32).toString('base64url'));
const answers = new Map(
  list.map((token, i) => [
    token,
    JSON.stringify({
      active: true,
      client_id: 'photos-app',
      sub: `user-${i % users}`,
      scope: 'photos:read profile',
      exp,
    }),
  ]),
);
const before = heapUsed();
const cache = new TokenCache(async (token) => parseIntrospectionResponse(JSON.parse(answers.get(token))), {
  maxEntries: tokens,
  maxTtlMs: 300_000,
  negativeTtlMs: 10_000,
  now: Date.now,
});
for (let i = 0; i < tokens; i += 500) {
  await Promise.all(list.slice(i, i + 500).map((token) => cache.get(token)));
}
const after = heapUsed();
const entries = cache.stats().entries;
console.log(
  `${entries.toLocaleString('en-US')} cached tokens (${users.toLocaleString('en-US')} users): ` +
    `${((after - before) / entries).toFixed(0)} bytes per token (heap + ArrayBuffers), ${((after - before) / 1e6).toFixed(1)} MB in all`,
);
// Keep the inputs alive until after the measurement (they are not the cache's).
if (list.length + answers.size === 0) console.log('');
