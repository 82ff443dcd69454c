import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * JSON logs (pino). Request paths are logged without their query (OAuth1 signatures and query
 * bearer tokens live there); credentials-bearing headers and secret-named fields are redacted in
 * case anything ever logs them.
 */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  '*.authorization',
  '*.cookie',
  '*.Authorization',
  '*.Cookie',
  'headers.authorization',
  'headers.cookie',
  '*.clientSecret',
  '*.tokenSecret',
  '*.accessToken',
  '*.password',
  'clientSecret',
  'tokenSecret',
  'accessToken',
  'token',
  '*.token',
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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
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
