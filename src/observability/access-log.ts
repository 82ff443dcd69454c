import { type Logger, pino } from 'pino';

/**
 * The access log: one JSON line per request (proxy, authorize and egress listeners), in exactly the
 * shape pino gives every other line (`level`, `time`, the logger's bindings, the fields, `msg`),
 * written to the logger's own destination.
 *
 * Formatted here rather than by `logger.info()`: the fields are fixed, known and never secret (no
 * query, no header), so pino's generic serializer and redaction wrapper have nothing to do, and they
 * measured ≈10 µs of the ≈20 µs a logged pass-through request cost over an unlogged one
 * (BENCHMARKS.md, issue 21). `log.access` and `log.accessSample` offer the cheaper forms.
 */

export type AccessLogMode = 'all' | 'errors' | 'off';

/** gateway.yaml `log`. */
export interface AccessLogOptions {
  /** `all`: every request; `errors`: status ≥ 400 only; `off`: none. */
  readonly access: AccessLogMode;
  /** With `all`: the share of requests below 400 that are logged (errors always are). */
  readonly accessSample: number;
}

/** A field value as it appears in a line; `undefined` leaves the field out (as pino does). */
export type AccessField = string | number | boolean | undefined;

const DESTINATION = pino.symbols.streamSym;
const BINDINGS = pino.symbols.chindingsSym;

export class AccessLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Whether a request that ended with `status` gets a line (decided before the fields are built).
   * The options are the request's own config's (`log`), so a reload changes them for new requests.
   */
  wants(status: number, { access, accessSample }: AccessLogOptions): boolean {
    if (access === 'off' || !this.#logger.isLevelEnabled('info')) return false;
    if (status >= 400 || status === 0) return true;
    return access === 'all' && (accessSample >= 1 || Math.random() < accessSample);
  }

  /** One info line: `fields` in their order, then `msg`. Keys must be plain identifiers. */
  write(msg: string, fields: Record<string, AccessField>): void {
    // pino's public symbols for a logger's destination and its serialized bindings (`,"service":…`).
    const logger = this.#logger as unknown as Record<symbol, unknown>;
    const destination = logger[DESTINATION] as { write(line: string): unknown };
    let line = `{"level":"info","time":${Date.now()}${logger[BINDINGS] as string}`;
    for (const key in fields) {
      const value = fields[key];
      if (value === undefined) continue;
      line += `,"${key}":${typeof value === 'string' ? JSON.stringify(value) : typeof value === 'number' && !Number.isFinite(value) ? 'null' : value}`;
    }
    destination.write(`${line},"msg":${JSON.stringify(msg)}}\n`);
  }
}
