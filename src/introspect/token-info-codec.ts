import type { TokenInfo } from '../verify/oauth2/token-info.js';

/**
 * TokenInfo as stored in the shared (Redis) L2 cache. Whatever comes back from Redis is checked
 * field by field: a malformed entry is a miss, never an active token.
 */
function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function optionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

function optionalNumber(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

export function reviveTokenInfo(value: unknown): TokenInfo | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v['active'] !== 'boolean' || !isStringArray(v['scopes'])) return undefined;
  if (!optionalString(v['clientId']) || !optionalString(v['user'])) return undefined;
  if (!optionalNumber(v['exp']) || !optionalNumber(v['nbf'])) return undefined;
  if (v['aud'] !== undefined && !isStringArray(v['aud'])) return undefined;
  if (!optionalString(v['jkt'])) return undefined;
  if (!optionalNumber(v['retryAt'])) return undefined;
  return {
    active: v['active'],
    scopes: v['scopes'],
    clientId: v['clientId'],
    user: v['user'],
    exp: v['exp'],
    nbf: v['nbf'],
    aud: v['aud'] as string[] | undefined,
    jkt: v['jkt'],
    retryAt: v['retryAt'],
  };
}
