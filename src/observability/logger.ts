import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs (pino). Request paths are logged without their query (OAuth1 signatures and query
 * bearer tokens live there); credentials-bearing headers and secret-named fields are redacted in
 * case anything ever logs them.
 */
// Explicit paths only: each `*.x` wildcard makes pino walk every key of every logged object, which
// measured ~14 µs per access line (3× the whole log call). Nothing on the request path logs
// headers or config objects; these paths are a safety net for the shapes that could appear.
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  'clientSecret',
  'tokenSecret',
  'accessToken',
  'token',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'introspection.clientSecret',
];

export function createLogger(
  level = process.env['LOG_LEVEL'] ?? 'info',
  destination?: NodeJS.WritableStream,
): Logger {
  return pino(
    {
      level,
      base: { service: 'oauth-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Epoch milliseconds (`time`): an ISO string costs ~3 µs per line on the hot path.
      formatters: { level: (label) => ({ level: label }) },
    },
    // Lines are written in batches of ≥ 4 KB, at least every 250 ms: one asynchronous write per line
    // cost ≈8 µs of CPU (a thread-pool hand-off each), batched ≈2 µs (BENCHMARKS.md, issue 21).
    // Buffered lines are flushed at exit (pino's exit hook) and after the startup lines.
    destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 }),
  );
}

/** Flush buffered log lines (before exit). */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // nothing left to do at exit
  }
}
