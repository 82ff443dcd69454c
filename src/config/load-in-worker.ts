import { Worker } from 'node:worker_threads';
import { ConfigError } from '../errors.js';
import { deepFreeze } from './freeze.js';
import type { Env, LoadedConfig } from './load.js';

type Answer =
  | { readonly ok: true; readonly loaded: LoadedConfig }
  | { readonly ok: false; readonly issues: string[] }
  | { readonly ok: false; readonly message: string };

/**
 * loadConfig in a short-lived worker thread. The YAML parser, zod and the schema are needed only
 * while a config is read and checked; loaded in the serving thread they stay resident for the life
 * of the process (≈8 MB of a sidecar's idle memory, issue 21). The worker's isolate is discarded
 * when it exits, so the gateway keeps only the validated config. Same answers as loadConfig: the
 * loaded config (frozen again: freezing does not survive the copy), or a ConfigError with every
 * issue. The CLI uses this; embedding code and tests may call loadConfig directly.
 */
export function loadConfigInWorker(path: string, env: Env): Promise<LoadedConfig> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
      workerData: { path, env: { ...env } },
      // Its output is a config object; nothing of the serving process's stdio.
      stdout: true,
      stderr: true,
    });
    let answered = false;
    worker.once('message', (answer: Answer) => {
      answered = true;
      if (answer.ok) resolve(deepFreeze(answer.loaded));
      else reject('issues' in answer ? new ConfigError(answer.issues) : new Error(answer.message));
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`config loader exited with code ${code} before answering`));
    });
  });
}
