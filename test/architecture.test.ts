import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * scripts/check-imports.mjs enforces ARCHITECTURE.md's import rules (run by `npm run check:imports`
 * and .ci/run). It must pass on src/ and fail on each kind of violation: each case below is a
 * small source tree written to a temp dir.
 */

const SCRIPT = fileURLToPath(new URL('../scripts/check-imports.mjs', import.meta.url));
const SRC = fileURLToPath(new URL('../src', import.meta.url));
const dirs: string[] = [];

function check(root: string): { code: number; output: string } {
  const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('check-imports', () => {
  it('passes on src/', () => {
    const { code, output } = check(SRC);
    expect(output).toContain('every import follows ARCHITECTURE.md');
    expect(code).toBe(0);
  });

  it('passes on a tree that follows the rules (comments and strings that look like imports do not count)', () => {
    const root = tree({
      'errors.ts': 'export class E extends Error {}\n',
      'verify/scope.ts': [
        "import { createHash } from 'node:crypto';",
        "import { E } from '../errors.js';",
        "import type { X } from './types.js';",
        "// import { Redis } from 'ioredis';",
        "/* import { y } from '../store/y.js'; */",
        'export const doc = "import { z } from \'../store/z.js\'";',
        '',
      ].join('\n'),
      'verify/types.ts': 'export type X = string;\n',
      'store/redis.ts': "import { Redis } from 'ioredis';\n",
      'store/index.ts':
        "import type { Redis } from './redis.js';\nexport const load = () => import('./redis.js');\n",
      'proxy/server.ts': "import type { X } from '../verify/types.js';\n",
      'runtime.ts': "import { load } from './store/index.js';\nimport './proxy/server.js';\n",
    });
    expect(check(root)).toMatchObject({ code: 0 });
  });

  it.each([
    [
      'verify/ importing a store (the deliberate violation)',
      { 'verify/x.ts': "import { y } from '../store/y.js';\n", 'store/y.ts': 'export const y = 1;\n' },
      "verify/x.ts: '../store/y.js' (verify-is-pure",
    ],
    [
      'verify/ importing config (a multi-line type import)',
      { 'verify/x.ts': "import type {\n  A,\n  B,\n} from '../config/schema.js';\n" },
      "verify/x.ts: '../config/schema.js' (verify-is-pure",
    ],
    [
      'verify/ importing an npm package',
      { 'verify/jwt.ts': "import { jwtVerify } from 'jose';\n" },
      "verify/jwt.ts: 'jose' (verify-is-pure",
    ],
    [
      'proxy/ importing the composition root',
      { 'proxy/server.ts': "import { createRuntime } from '../runtime.js';\n", 'runtime.ts': '' },
      "proxy/server.ts: '../runtime.js' (composition-root",
    ],
    [
      'proxy/ importing a listener built on it',
      { 'proxy/pipeline.ts': "export { a } from '../authorize/server.js';\n" },
      "proxy/pipeline.ts: '../authorize/server.js' (listeners-independent",
    ],
    [
      'store/ reaching up into introspect/',
      { 'store/file.ts': "import { TokenCache } from '../introspect/cache.js';\n" },
      "store/file.ts: '../introspect/cache.js' (store-is-an-adapter",
    ],
    [
      'ioredis outside src/store/redis.ts',
      { 'introspect/cache.ts': "import { Redis } from 'ioredis';\n" },
      "introspect/cache.ts: 'ioredis' (driver-owner: only store/redis.ts may import ioredis)",
    ],
    [
      'pg outside src/store/sql-postgres.ts',
      { 'store/sql-store.ts': "import pg from 'pg';\n" },
      "store/sql-store.ts: 'pg' (driver-owner",
    ],
    [
      'a driver module loaded statically (it must load only when configured)',
      { 'store/index.ts': "import { createRedisClient } from './redis.js';\n", 'store/redis.ts': '' },
      "store/index.ts: './redis.js' (lazy-driver",
    ],
    [
      'a dynamic import that breaks a rule',
      { 'verify/x.ts': "const m = await import('../store/y.js');\n" },
      "verify/x.ts: '../store/y.js' (verify-is-pure",
    ],
  ])('fails on %s', (_name, files, expected) => {
    const { code, output } = check(tree(files));
    expect(code).toBe(1);
    expect(output).toContain(expected);
  });
});
