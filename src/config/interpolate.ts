import type { Env } from './load.js';
import { formatPath } from './path.js';

// `${VAR}` or `${VAR:-default}`; `$${` is a literal `${`.
const PLACEHOLDER = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replace environment placeholders in every string of a parsed YAML document. A variable that is
 * unset and has no default is reported (with its path) instead of becoming an empty secret.
 */
export function interpolateEnv(
  value: unknown,
  env: Env,
  issues: string[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(PLACEHOLDER, (whole, escaped: string, name: string, fallback?: string) => {
      if (escaped === '$') return whole.slice(1);
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value))
    return value.map((item, index) => interpolateEnv(item, env, issues, [...path, index]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value))
      out[key] = interpolateEnv(item, env, issues, [...path, key]);
    return out;
  }
  return value;
}
