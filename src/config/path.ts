/**
 * `routes[2].upstream` from a path of keys and indexes: the one way every config and credentials
 * problem names where it is (zod issues, unset `${VAR}`s, unusable credential records).
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
