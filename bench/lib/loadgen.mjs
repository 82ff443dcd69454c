import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PINNING, pinned } from './processes.mjs';

/**
 * The two load generators behind one interface. Both report the same summary shape:
 *   { requests, durationUs, rps, p50Ms, p99Ms, non2xx, errors, cpuUs }
 * where cpuUs is the load generator's own CPU time (to compare how much each leaves to the
 * system under test).
 *
 * wrk runs one thread pinned to the load-generator core; a `done()` Lua hook prints the summary as
 * JSON, and `request()` is only installed when Authorization headers must cycle through a file
 * (pre-signed OAuth1 requests), because a Lua request hook costs wrk CPU.
 */

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

export function wrkAvailable() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its banner
    return error.code !== 'ENOENT' && error.status !== 127;
  }
}

/** Debian's wrk, installed when missing and we are root; false otherwise. */
export function ensureWrk(install) {
  if (wrkAvailable()) return true;
  if (!install || process.getuid?.() !== 0) return false;
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    return false;
  }
  return wrkAvailable();
}

const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%.0f,"durationUs":%.0f,"non2xx":%.0f,"errors":%.0f,"timeouts":%.0f,"p50Us":%.0f,"p90Us":%.0f,"p99Us":%.0f,"p999Us":%.0f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
`;

const CYCLE_HOOK = `
local lines = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do n = n + 1; lines[n] = line end
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  -- "Authorization<TAB>DPoP proof" lines carry a second header (RFC 9449 scenario).
  local auth, proof = lines[i]:match("^([^\t]*)\t(.*)$")
  if auth then
    wrk.headers["Authorization"] = auth
    wrk.headers["DPoP"] = proof
  else
    wrk.headers["Authorization"] = lines[i]
  end
  return wrk.format()
end
`;

/**
 * Constant-rate mode (wrk2 is not in Debian): after each response a connection waits an
 * exponentially distributed think time with mean MEAN_MS before its next request, so C
 * connections together approximate a Poisson arrival stream of C / (MEAN_MS + latency) per ms.
 * wrk takes whole milliseconds, so the draw is rounded randomly (floor(x + U)), which keeps the
 * mean exact. wrk starts a request's clock when it writes it, i.e. after the think time.
 */
const delayHook = (meanMs) => `
local mean_ms = ${meanMs.toFixed(4)}
delay = function()
  local x = -math.log(1 - math.random()) * mean_ms
  return math.floor(x + math.random())
end
`;

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** cutime + cstime (µs) of the `sh` wrapper = CPU of the load generator it waited for. */
function childrenCpuUs(stderr) {
  const line = stderr.split('\n').find((l) => l.startsWith('PROCSTAT '));
  if (line === undefined) return Number.NaN;
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]); // fields 16 and 17
  const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (ticks * 1e6) / hz;
}

/** Run a command under sh, printing sh's own /proc stat after it to learn the child's CPU time. */
function runMeasured(command, args) {
  const [cmd, cmdArgs] = pinned(PINNING.loadgen, command, args);
  return run('sh', [
    '-c',
    '"$@"; rc=$?; echo "PROCSTAT $(cat /proc/$$/stat)" >&2; exit $rc',
    'sh',
    cmd,
    ...cmdArgs,
  ]);
}

export function createWrk({ connections, workDir }) {
  const version = (() => {
    try {
      execFileSync('wrk', ['--version'], { encoding: 'utf8' });
      return 'wrk';
    } catch (error) {
      // "wrk debian/4.1.0-3+b2 [epoll] Copyright …" → "wrk debian/4.1.0-3+b2"
      return `${error.stdout ?? ''}`.split(' ').slice(0, 2).join(' ').trim() || 'wrk';
    }
  })();
  let scripts = 0;
  return {
    name: 'wrk',
    version,
    connections,
    async run({ url, durationSec, headers = {}, authorizationFile, meanDelayMs }) {
      const script = join(workDir, `wrk-${scripts++}.lua`);
      writeFileSync(
        script,
        (authorizationFile ? CYCLE_HOOK : '') +
          (meanDelayMs === undefined ? '' : delayHook(meanDelayMs)) +
          DONE_HOOK,
      );
      const args = [
        '-t1',
        `-c${connections}`,
        `-d${Math.max(1, Math.round(durationSec))}s`,
        '--timeout',
        '5s',
      ];
      for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
      args.push('-s', script, url);
      if (authorizationFile) args.push('--', authorizationFile);
      const { code, stdout, stderr } = await runMeasured('wrk', args);
      const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (code !== 0 || line === undefined)
        throw new Error(`wrk failed (${code}): ${stderr.trim()} ${stdout.trim()}`);
      const raw = JSON.parse(line.slice(8));
      return {
        requests: raw.requests,
        durationUs: raw.durationUs,
        rps: raw.requests / (raw.durationUs / 1e6),
        p50Ms: raw.p50Us / 1000,
        p90Ms: raw.p90Us / 1000,
        p99Ms: raw.p99Us / 1000,
        p999Ms: raw.p999Us / 1000,
        non2xx: raw.non2xx,
        errors: raw.errors + raw.timeouts,
        cpuUs: childrenCpuUs(stderr),
      };
    },
  };
}

export function createAutocannon({ connections }) {
  const version = require('autocannon/package.json').version;
  return {
    name: 'autocannon',
    version: `autocannon ${version}`,
    connections,
    /** `amount`: stop after that many requests (durationSec is then only an upper bound). */
    async run({ url, durationSec, headers = {}, authorizationFile, amount }) {
      const spec = JSON.stringify({ url, connections, durationSec, headers, authorizationFile, amount });
      const [cmd, args] = pinned(PINNING.loadgen, process.execPath, [
        join(here, 'autocannon-runner.mjs'),
        spec,
      ]);
      const { code, stdout, stderr } = await run(cmd, args);
      if (code !== 0) throw new Error(`autocannon failed (${code}): ${stderr.trim()}`);
      return JSON.parse(stdout.trim().split('\n').pop());
    },
  };
}
