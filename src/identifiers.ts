/**
 * User and client ids as the gateway passes them upstream: strings. Authlib's example models keep
 * `user_id` as an Integer primary key, and many Authlib introspection handlers answer
 * `'sub': token.user_id`, so a JSON or YAML integer is accepted and becomes its decimal string (the
 * identity header shows `42`). Only safe integers: a larger JSON number has already lost digits
 * when it was parsed, and two users must never collapse into one id. Anything else (a float, a
 * boolean, an object) is not an id and the caller fails closed.
 */
export function identifierString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}
