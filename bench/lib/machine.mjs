import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';

/** Where the numbers come from: printed with every result so runs can be compared honestly. */
export function machineInfo() {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const match = /^model name\s*:\s*(.+)$/m.exec(info);
    if (match) cpuModel = match[1].trim();
  } catch {
    // not Linux
  }
  const load = loadAverage();
  return {
    cpuModel,
    cores: availableParallelism(),
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${process.platform} ${release()}`,
    loadAverageAtStart: load,
  };
}

/** "1min 5min 15min" from /proc/loadavg, or 'n/a'. */
export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

export function commandVersion(command, args) {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0].trim();
  } catch (error) {
    // nginx -v prints to stderr
    const text = `${error.stdout ?? ''}${error.stderr ?? ''}`.split('\n')[0]?.trim();
    return text || undefined;
  }
}
