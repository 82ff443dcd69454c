import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time and RSS of a process tree, read from /proc (Linux). CPU time is utime + stime of every
 * thread (the process line of /proc/<pid>/stat already sums its threads); a tree adds the
 * children (nginx master + worker, a cluster's workers).
 */

const HAS_PROC = existsSync('/proc/self/stat');

function clockTicks() {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

const TICK_US = 1e6 / clockTicks();

export function procAvailable() {
  return HAS_PROC;
}

/** pid and all its descendants (via /proc/<pid>/task/<tid>/children). */
export function processTree(pid) {
  const out = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift();
    out.push(current);
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${current}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${current}/task/${tid}/children`, 'utf8').trim();
        if (children !== '') queue.push(...children.split(/\s+/).map(Number));
      } catch {
        // thread ended meanwhile
      }
    }
  }
  return out;
}

/** utime + stime of one process in µs, or 0 if it is gone. */
function processCpuUs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return 0;
  }
}

function processRssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Total CPU µs of the tree rooted at each of `pids`. NaN without /proc. */
export function treeCpuUs(pids) {
  if (!HAS_PROC) return Number.NaN;
  let total = 0;
  for (const root of pids) for (const pid of processTree(root)) total += processCpuUs(pid);
  return total;
}

/** Total RSS (MB) of the trees rooted at `pids`. NaN without /proc. */
export function treeRssMb(pids) {
  if (!HAS_PROC) return Number.NaN;
  let kb = 0;
  for (const root of pids) for (const pid of processTree(root)) kb += processRssKb(pid);
  return kb / 1024;
}
