import { ConfigError } from '../errors.js';
import { type Env, loadConfig } from './load.js';

/**
 * Child-process entry of loadConfigIsolated (load-isolated.ts): receives {path, env}, reads and
 * validates the config, sends the result (plain data) back and exits, taking YAML and zod with it.
 */
process.once('message', async ({ path, env }: { path: string; env: Env }) => {
  let answer: unknown;
  try {
    answer = { ok: true, loaded: await loadConfig(path, env) };
  } catch (error) {
    answer =
      error instanceof ConfigError
        ? { ok: false, issues: error.issues }
        : { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  process.send!(answer, () => process.exit(0));
});
