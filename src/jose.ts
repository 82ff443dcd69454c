import type * as Jose from 'jose';

let loading: Promise<typeof Jose> | undefined;

/**
 * jose, loaded on first use: only a JWT token source and identity assertion keys need it, and
 * importing it up front cost every other configuration ≈7 MB of resident memory (issue 21).
 */
export function loadJose(): Promise<typeof Jose> {
  loading ??= import('jose');
  return loading;
}
