import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../errors.js';
import { type Env, loadConfig } from './load.js';

/**
 * Worker-thread entry of loadConfigInWorker (load-in-worker.ts): reads and validates the config
 * here, posts the result (plain data) back, and exits, taking YAML and zod with it.
 */
const { path, env } = workerData as { path: string; env: Env };
try {
  parentPort!.postMessage({ ok: true, loaded: await loadConfig(path, env) });
} catch (error) {
  parentPort!.postMessage(
    error instanceof ConfigError
      ? { ok: false, issues: error.issues }
      : { ok: false, message: error instanceof Error ? error.message : String(error) },
  );
}
