import { identifierString } from '../../identifiers.js';
import type { TokenInfo } from '../../verify/oauth2/token-info.js';
import { parseScope } from '../../verify/scope.js';
import { INACTIVE, internClientId, userFromClaims } from '../token-info.js';

/**
 * RFC 7662 §2.2 response → TokenInfo, strictly. A response we cannot read with certainty is a
 * backend fault (the caller answers 503), never a guess: a non-boolean `active` ("true", 1) or a
 * wrongly typed member throws MalformedIntrospectionResponse.
 */
export class MalformedIntrospectionResponse extends Error {
  /** The member that was wrong (safe to log: a name, never a value). */
  readonly member: string;
  constructor(member: string) {
    // Names the member only; values may be token material and are never echoed.
    super(`introspection response member "${member}" is missing or has the wrong type`);
    this.name = 'MalformedIntrospectionResponse';
    this.member = member;
  }
}

type Json = Record<string, unknown>;

function optionalString(body: Json, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new MalformedIntrospectionResponse(member);
  return value;
}

/**
 * `sub`, `client_id`, `username`: RFC 7662 §2.2 says strings, but Authlib handlers commonly answer
 * `'sub': token.user_id` with an Integer primary key; a safe integer becomes its decimal string.
 */
function optionalIdentifier(body: Json, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  const id = identifierString(value);
  if (id === undefined) throw new MalformedIntrospectionResponse(member);
  return id;
}

function optionalSeconds(body: Json, member: string): number | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MalformedIntrospectionResponse(member);
  return value;
}

/** RFC 7662 §2.2 defers `aud` to RFC 7519 §4.1.3: a string or an array of strings. */
function optionalAudience(body: Json): readonly string[] | undefined {
  const value = body['aud'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((entry) => typeof entry === 'string')) return value as string[];
  throw new MalformedIntrospectionResponse('aud');
}

/** RFC 9449 §6.2: `cnf: {"jkt": "…"}` on a DPoP-bound token. Other confirmation methods are ignored. */
function optionalJkt(body: Json): string | undefined {
  const cnf = body['cnf'];
  if (cnf === undefined || cnf === null) return undefined;
  if (typeof cnf !== 'object' || Array.isArray(cnf)) throw new MalformedIntrospectionResponse('cnf');
  const jkt = (cnf as Json)['jkt'];
  if (jkt === undefined) return undefined;
  if (typeof jkt !== 'string' || jkt === '') throw new MalformedIntrospectionResponse('cnf.jkt');
  return jkt;
}

export function parseIntrospectionResponse(body: unknown): TokenInfo {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MalformedIntrospectionResponse('(root)');
  }
  const json = body as Json;
  const active = json['active'];
  if (typeof active !== 'boolean') throw new MalformedIntrospectionResponse('active');
  // §2.2: when inactive, the AS SHOULD NOT say more, and nothing else it says matters.
  if (!active) return INACTIVE;

  const clientId = internClientId(optionalIdentifier(json, 'client_id'));
  const exp = optionalSeconds(json, 'exp');
  const nbf = optionalSeconds(json, 'nbf');
  optionalSeconds(json, 'iat');
  return {
    active: true,
    clientId,
    user: userFromClaims(optionalIdentifier(json, 'sub'), optionalIdentifier(json, 'username'), clientId),
    scopes: parseScope(optionalString(json, 'scope')),
    exp,
    nbf,
    aud: optionalAudience(json),
    jkt: optionalJkt(json),
  };
}
