/**
 * Per-attack-class bookkeeping: every variant tried is counted as rejected (4xx/closed before the
 * upstream saw it), passed (forwarded, and the upstream saw only what the gateway vouches for) or a
 * bypass, and one summary line is printed so CI logs show how much each class actually tried.
 */

/** `SECURITY_FULL=1` (npm run test:security:full): the long, nightly-sized run. */
export const FULL = process.env['SECURITY_FULL'] === '1';

export class Tally {
  variants = 0;
  rejected = 0;
  passed = 0;
  bypasses = 0;
  /** Human-readable description of each bypass, for the assertion message. */
  readonly findings: string[] = [];

  constructor(readonly name: string) {}

  reject(): void {
    this.variants++;
    this.rejected++;
  }

  pass(): void {
    this.variants++;
    this.passed++;
  }

  bypass(finding: string): void {
    this.variants++;
    this.bypasses++;
    if (this.findings.length < 50) this.findings.push(finding);
  }

  /** Prints `[name] variants=… rejected=… passed=… bypasses=…` (plus extra counters). */
  report(extra: Record<string, number | string> = {}): void {
    const more = Object.entries(extra)
      .map(([key, value]) => ` ${key}=${value}`)
      .join('');
    console.log(
      '[%s] variants=%d rejected=%d passed=%d bypasses=%d%s',
      this.name,
      this.variants,
      this.rejected,
      this.passed,
      this.bypasses,
      more,
    );
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  stepMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Run `task` over `items` with at most `concurrency` in flight; results in input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
