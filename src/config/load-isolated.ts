import { fork } from 'node:child_process';
import { ConfigError } from '../errors.js';
import { deepFreeze } from './freeze.js';
import type { Env, LoadedConfig } from './load.js';

/**
 * The serving process's flags minus those that must not run twice: an inspector would try the same
 * port, and CPU/heap profiles and diagnostic reports would be written for the loader too.
 */
function loaderExecArgv(): string[] {
  return process.execArgv.filter(
    (arg) => !/^--(inspect|debug|cpu-prof|heap-prof|prof|diagnostic-dir|report-)/.test(arg),
  );
}

type Answer =
  | { readonly ok: true; readonly loaded: LoadedConfig }
  | { readonly ok: false; readonly issues: string[] }
  | { readonly ok: false; readonly message: string };

/**
 * loadConfig in a short-lived child process. The YAML parser, zod and the schema are needed only
 * while a config is read and checked; loaded in the serving process they stay resident for its
 * whole life. A worker thread was tried first: its heap went away on exit, but the C allocator kept
 * the thread's arena, so resident memory did not fall; a process returns everything (≈6 MB of idle
 * RSS, issue 21). Same answers as loadConfig: the loaded config (frozen again: freezing does not
 * survive the copy), or a ConfigError with every issue. The CLI uses this for start and reload;
 * embedding code and tests may call loadConfig directly.
 */
export function loadConfigIsolated(path: string, env: Env): Promise<LoadedConfig> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./load-child.js', import.meta.url), {
      serialization: 'advanced',
      execArgv: loaderExecArgv(),
      // Its only output is the answer; a crash still shows on our stderr.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let answered = false;
    child.once('message', (answer: Answer) => {
      answered = true;
      if (answer.ok) resolve(deepFreeze(answer.loaded));
      else reject('issues' in answer ? new ConfigError(answer.issues) : new Error(answer.message));
    });
    child.once('error', (error) => {
      answered = true;
      reject(error);
    });
    child.once('exit', (code, signal) => {
      if (!answered) reject(new Error(`config loader exited (${signal ?? code}) before answering`));
    });
    child.send({ path, env: { ...env } });
  });
}
