import { readFileSync } from 'node:fs';

/**
 * Self time from a V8 .cpuprofile (node --cpu-prof): per function, and per origin bucket
 * (gateway code, pino, undici, node internals, GC, idle), as shares of the sampled time.
 */

function bucket(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle (waiting for I/O)';
  if (name === '(program)') return 'V8/native (program)';
  if (
    url.includes('node_modules/pino') ||
    url.includes('node_modules/fast-redact') ||
    url.includes('sonic-boom')
  )
    return 'pino (access log)';
  if (url.includes('node_modules/undici')) return 'undici (upstream client)';
  if (url.includes('/dist/')) return 'gateway code (dist/)';
  if (url.includes('node_modules/')) return 'other dependencies';
  if (url.startsWith('node:')) {
    if (url.includes('_http') || url.includes('http')) return 'node:http (client-facing server)';
    if (url.includes('net') || url.includes('stream')) return 'node:net / streams';
    return 'node internals (other)';
  }
  if (url === '') return 'native (builtins without a script)';
  return 'other';
}

function shortUrl(url) {
  const index = url.lastIndexOf('/node_modules/');
  if (index !== -1) return url.slice(index + 14);
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url;
}

export function summariseProfile(file, top = 25) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
    total += delta;
  }
  const functions = new Map();
  const buckets = new Map();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = functionName || '(anonymous)';
    const key = url === '' ? name : `${name} ${shortUrl(url)}:${lineNumber + 1}`;
    if (name !== '(idle)') functions.set(key, (functions.get(key) ?? 0) + us);
    const b = bucket(url, name);
    buckets.set(b, (buckets.get(b) ?? 0) + us);
  }
  const busy = total - (buckets.get('idle (waiting for I/O)') ?? 0);
  const sorted = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({
        name,
        ms: us / 1000,
        shareOfBusy: name.startsWith('idle') ? undefined : us / busy,
      }));
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    buckets: sorted(buckets),
    functions: sorted(functions).slice(0, top),
  };
}
