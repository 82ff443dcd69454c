import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

/**
 * undici's Pool alone, not undici's index: the index also loads fetch, WebSocket, EventSource, the
 * HTTP caches and the mock agents, which the gateway never uses (≈9 MB more resident memory at
 * idle, measured for issue 21). undici has no `exports` map, so its files are public paths; the
 * version is pinned by package-lock.json and test/proxy/forward.test.ts runs against it.
 */
const require = createRequire(import.meta.url);

// What undici's index does for its dispatchers (`Object.assign(Dispatcher.prototype, api)`), for
// the one convenience the gateway uses besides `dispatch`: `request()` (introspection, token
// fetches). Harmless if the index was loaded too: the same functions.
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;
