import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { availableParallelism } from 'node:os';

/**
 * Child processes of a run: started (optionally pinned to a core with taskset), awaited on their
 * port, stopped by pid. Everything started is remembered so an interrupted run leaves nothing
 * behind.
 */

const started = new Set();

function hasTaskset() {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Core layout: load generator on core 0, system under test on core 1 (2+ cores and taskset). */
export const PINNING = (() => {
  const usable = availableParallelism() >= 2 && process.platform === 'linux' && hasTaskset();
  return usable
    ? { enabled: true, loadgen: 0, sut: 1, aux: 0 }
    : { enabled: false, loadgen: undefined, sut: undefined, aux: undefined };
})();

/** [command, args] that runs `command` on `cpu` (taskset execs, so the pid is the command's). */
export function pinned(cpu, command, args) {
  if (!PINNING.enabled || cpu === undefined) return [command, args];
  return ['taskset', ['-c', String(cpu), command, ...args]];
}

/** Move a running process (all its threads) to another core. */
export function repin(pid, cpu) {
  if (!PINNING.enabled || cpu === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

export function startProcess(name, command, args, options = {}) {
  const child = spawn(command, args, {
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const handle = {
    name,
    child,
    pid: child.pid,
    exited,
    get stderr() {
      return stderr;
    },
    async stop(timeoutMs = 5000) {
      started.delete(handle);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  started.add(handle);
  return handle;
}

/** Stop whatever is still running (on error or Ctrl-C). */
export async function stopAll() {
  await Promise.allSettled([...started].map((handle) => handle.stop(2000)));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Wait until the port accepts connections; fail early if the process exits. */
export async function waitForPort(handle, port, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  handle.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${handle.name} exited before listening: ${handle.stderr.trim()}`);
    if (await tryConnect(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${handle.name} did not listen on ${port} within ${timeoutMs} ms: ${handle.stderr.trim()}`);
}
