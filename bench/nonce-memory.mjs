#!/usr/bin/env node
/**
 * Heap bytes per remembered OAuth1 nonce in the memory nonce store (issue 13: ≤ 48, was ~117):
 * `node --expose-gc bench/nonce-memory.mjs [--nonces 1000000] [--per-second 3333]` after
 * `npm run build`. Fills a store the way a steady load would (one bucket per oauth_timestamp second,
 * keys shaped like the verifier's), then divides the growth of V8 heap + ArrayBuffers by the count.
 * Also prints what the store itself reports (the `oauth_gateway_nonce_store_bytes` metric).
 */
import { parseArgs } from 'node:util';
import { MemoryNonceStore } from '../dist/store/memory.js';

const { values } = parseArgs({
  options: {
    nonces: { type: 'string', default: '1000000' },
    'per-second': { type: 'string', default: '3333' },
  },
});
const nonces = Number(values.nonces);
const perSecond = Number(values['per-second']);
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function used() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const T0 = Math.floor(Date.now() / 1000) - Math.ceil(nonces / perSecond);
const windowMs = 300_000 + Math.ceil(nonces / perSecond) * 1000;
const before = used();
const store = new MemoryNonceStore({ maxEntries: nonces });
const started = process.hrtime.bigint();
for (let i = 0; i < nonces; i++) {
  const ts = T0 + Math.floor(i / perSecond);
  const verdict = store.judge({
    key: `client-${i % 50}:token-${i % 977}:${ts}:${i.toString(36)}x${(i * 2654435761) >>> 0}`,
    timestamp: ts,
    windowMs,
    now: ts * 1000,
  });
  if (verdict !== 'fresh') throw new Error(`claim ${i}: ${verdict}`);
}
const elapsedNs = Number(process.hrtime.bigint() - started);
const after = used();
const stats = store.stats();
const result = {
  nonces: stats.entries,
  perSecond,
  buckets: Math.ceil(nonces / perSecond),
  measuredBytesPerNonce: Number(((after - before) / stats.entries).toFixed(1)),
  reportedBytesPerNonce: Number((stats.bytes / stats.entries).toFixed(1)),
  measuredMb: Number(((after - before) / 1e6).toFixed(1)),
  claimNs: Math.round(elapsedNs / nonces),
};
console.log(JSON.stringify(result));
