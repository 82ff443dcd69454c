#!/usr/bin/env node
// Enforces the import rules of ARCHITECTURE.md ("Who may import whom") over src/**/*.ts.
// Dependency-free on purpose: it reads import specifiers as text, so it runs before `npm ci` too.
//
//   node scripts/check-imports.mjs [SRC_DIR]     (default: src/ next to this script)
//
// Exit 0: every import follows the rules. Exit 1: each violation is printed as
// `src/verify/x.ts: '../store/y.js' (verify-is-pure: …)`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The rules. `from`/`allow`/`deny` are paths relative to src/: `dir/` matches everything below a
 * directory, anything else one file. `allow` lists the only module paths a file may import;
 * `deny` lists paths it must not import. node: builtins are always allowed; npm packages are
 * governed by `packages` (false: none at all) and by PACKAGE_OWNERS.
 */
const RULES = [
  {
    name: 'verify-is-pure',
    why: 'verify/ judges requests: it imports only errors.ts and its own files (no I/O, no stores, no config)',
    from: ['verify/'],
    allow: ['verify/', 'errors.ts'],
    packages: false,
  },
  {
    name: 'oauth1-client',
    why: 'the OAuth1 signer builds on verify/ (encoding, base string, signature methods) and nothing else',
    from: ['oauth1-client/'],
    allow: ['oauth1-client/', 'verify/', 'errors.ts'],
    packages: false,
  },
  {
    name: 'composition-root',
    why: 'runtime.ts/gateway.ts build everything from a frozen config; modules receive narrow contexts and never import the root or the CLI',
    from: ['*/'],
    deny: ['runtime.ts', 'gateway.ts', 'main.ts', 'sign-command.ts', 'assertion-commands.ts'],
  },
  {
    name: 'listeners-independent',
    why: 'proxy/ is the shared pipeline; the authorize and egress listeners build on it, not the other way round',
    from: ['proxy/'],
    deny: ['authorize/', 'egress/'],
  },
  {
    name: 'store-is-an-adapter',
    why: 'store/ implements lookups for the layers above it and never reaches up into them',
    from: ['store/'],
    deny: ['proxy/', 'authorize/', 'egress/', 'introspect/', 'identity/'],
  },
];

/** npm packages that only these files may import (each driver has exactly one home). */
const PACKAGE_OWNERS = {
  ioredis: ['store/redis.ts'],
  pg: ['store/sql-postgres.ts'],
  mysql2: ['store/sql-mysql.ts'],
};

/**
 * Driver modules are loaded only when configured: other files may import their types
 * (`import type`) or load them with `await import()`, never with a static value import.
 */
const LAZY_MODULES = ['store/redis.ts', 'store/sql-postgres.ts', 'store/sql-mysql.ts'];

/**
 * Known exceptions, each with the reason and who removes it. Keep this list short and explicit:
 * an entry is `{ from: 'proxy/server.ts', to: 'runtime.ts', why: '…' }` (paths relative to src/).
 * The proxy ⇄ runtime imports that issue 15 found are gone (proxy/ now receives a ProxyContext),
 * so the list is empty; a stale entry is reported so it gets deleted.
 */
const KNOWN_EXCEPTIONS = [];

// ── Reading import specifiers ─────────────────────────────────────────────────────────────────

/** The source with comments blanked out (strings and template literals kept), so commented-out imports do not count. */
export function stripComments(text) {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      i += 2;
      while (i < n && !(text[i] === '*' && text[i + 1] === '/')) {
        if (text[i] === '\n') out += '\n';
        i++;
      }
      i += 2;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\\') i++;
        else if (c !== '`' && text[i] === '\n') break;
        i++;
      }
      i++;
      out += text.slice(start, i);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /(?:^|[;\n}])\s*(import|export)(\s+type)?\b([^;'"`]*?)\bfrom\s*(['"])([^'"]+)\4/g;
const SIDE_EFFECT = /(?:^|[;\n}])\s*import\s*(['"])([^'"]+)\1/g;
const DYNAMIC = /\bimport\(\s*(['"])([^'"]+)\1\s*\)/g;

/** Every import of one file: `{ spec, typeOnly, dynamic }`. */
export function importsOf(text) {
  const code = stripComments(text);
  const found = [];
  for (const m of code.matchAll(STATIC))
    found.push({ spec: m[5], typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of code.matchAll(SIDE_EFFECT)) found.push({ spec: m[2], typeOnly: false, dynamic: false });
  for (const m of code.matchAll(DYNAMIC)) found.push({ spec: m[2], typeOnly: false, dynamic: true });
  return found;
}

// ── Judging ─────────────────────────────────────────────────────────────────────────────────

function matches(path, patterns) {
  return patterns.some((pattern) => {
    if (pattern === '*/') return path.includes('/');
    return pattern.endsWith('/') ? path.startsWith(pattern) : path === pattern;
  });
}

/** `./x.js` from `verify/oauth1/a.ts` → `verify/oauth1/x.ts` (relative to src/). */
function resolveRelative(fromPath, spec) {
  const joined = posix.normalize(posix.join(posix.dirname(fromPath), spec));
  return joined.replace(/\.js$/, '.ts');
}

function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function isException(from, to) {
  return KNOWN_EXCEPTIONS.some((entry) => entry.from === from && entry.to === to);
}

/** Violations in one file (`path` relative to src/, posix separators). */
export function checkFile(path, text, used = new Set()) {
  const problems = [];
  for (const { spec, typeOnly, dynamic } of importsOf(text)) {
    if (spec.startsWith('node:')) continue;
    if (!spec.startsWith('.')) {
      const name = packageName(spec);
      for (const rule of RULES) {
        if (rule.packages === false && matches(path, rule.from)) {
          problems.push(`${path}: '${spec}' (${rule.name}: ${rule.why})`);
        }
      }
      const owners = PACKAGE_OWNERS[name];
      if (owners !== undefined && !typeOnly && !owners.includes(path)) {
        problems.push(`${path}: '${spec}' (driver-owner: only ${owners.join(', ')} may import ${name})`);
      }
      continue;
    }
    const target = resolveRelative(path, spec);
    if (target.startsWith('../')) {
      problems.push(`${path}: '${spec}' (outside src/)`);
      continue;
    }
    const exception = isException(path, target);
    if (exception) used.add(`${path} -> ${target}`);
    for (const rule of RULES) {
      if (!matches(path, rule.from) || exception) continue;
      const refused =
        (rule.allow !== undefined && !matches(target, rule.allow)) ||
        (rule.deny !== undefined && matches(target, rule.deny));
      if (refused) problems.push(`${path}: '${spec}' (${rule.name}: ${rule.why})`);
    }
    if (LAZY_MODULES.includes(target) && !typeOnly && !dynamic && !exception) {
      problems.push(
        `${path}: '${spec}' (lazy-driver: ${target} is loaded only when configured: use \`import type\` or \`await import()\`)`,
      );
    }
  }
  return problems;
}

function walk(dir) {
  const files = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) files.push(...walk(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(full);
  }
  return files;
}

/** Checks every .ts file under `root`; returns the violations and the stale exceptions. */
export function checkTree(root) {
  const used = new Set();
  const problems = [];
  for (const file of walk(root)) {
    const path = relative(root, file).split(sep).join('/');
    problems.push(...checkFile(path, readFileSync(file, 'utf8'), used));
  }
  const stale = KNOWN_EXCEPTIONS.filter((entry) => !used.has(`${entry.from} -> ${entry.to}`)).map(
    (entry) => `${entry.from} -> ${entry.to}`,
  );
  return { problems, stale };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const { problems, stale } = checkTree(root);
  for (const entry of stale) {
    process.stderr.write(`check-imports: known exception no longer occurs, remove it: ${entry}\n`);
  }
  if (problems.length > 0) {
    process.stderr.write(
      `check-imports: ${problems.length} import rule violation(s) (see ARCHITECTURE.md):\n`,
    );
    for (const problem of problems) process.stderr.write(`  ${problem}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-imports: ${root}: every import follows ARCHITECTURE.md\n`);
}
