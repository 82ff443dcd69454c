import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * autocannon in its own process (pinned like wrk), printing the shared summary shape as one JSON
 * line. argv[2]: { url, connections, durationSec, headers, authorizationFile, amount? }.
 */

const spec = JSON.parse(process.argv[2]);
const options = {
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSec,
  headers: spec.headers,
  timeout: 5,
};
if (spec.amount) options.amount = spec.amount;
if (spec.authorizationFile) {
  const lines = readFileSync(spec.authorizationFile, 'utf8').split('\n').filter(Boolean);
  let i = 0;
  options.requests = [
    {
      setupRequest(request) {
        const line = lines[i++ % lines.length];
        // "Authorization<TAB>DPoP proof" lines carry a second header (RFC 9449 scenario).
        const tab = line.indexOf('\t');
        const headers =
          tab === -1
            ? { authorization: line }
            : { authorization: line.slice(0, tab), dpop: line.slice(tab + 1) };
        return { ...request, headers: { ...request.headers, ...headers } };
      },
    },
  ];
}

const before = process.cpuUsage();
const started = process.hrtime.bigint();
const result = await autocannon(options);
const durationUs = Number(process.hrtime.bigint() - started) / 1000;
const cpu = process.cpuUsage(before);
const requests = result.requests.total;
process.stdout.write(
  `${JSON.stringify({
    requests,
    durationUs,
    rps: requests / (durationUs / 1e6),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuUs: cpu.user + cpu.system,
  })}\n`,
);
