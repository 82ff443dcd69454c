import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import * as errors from '../src/errors.js';

const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set(
  [...docs.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => `${m[1]}:${m[2]}`),
);

describe('error codes', () => {
  test('docs/errors.md documents exactly the codes in ERROR_CODES', () => {
    const documentedCodes = new Set([...documented].map((entry) => entry.split(':')[0]));
    expect([...documentedCodes].sort()).toEqual([...errors.ERROR_CODES].sort());
  });

  test('ERROR_CLASSES lists every exported GatewayError subclass, and ERROR_CODES is derived from it', () => {
    const exported = Object.values(errors).filter(
      (value): value is typeof errors.GatewayError =>
        typeof value === 'function' && value.prototype instanceof errors.GatewayError,
    );
    expect(new Set(exported)).toEqual(new Set(errors.ERROR_CLASSES));
    expect(errors.ERROR_CODES).toEqual(errors.ERROR_CLASSES.map((kind) => kind.code));
    expect(new Set(errors.ERROR_CODES).size).toBe(errors.ERROR_CODES.length);
    expect(errors.ConfigError.prototype).not.toBeInstanceOf(errors.GatewayError);
  });

  test('every GatewayError subclass uses a documented code and status, on the class and its instances', () => {
    const instances: errors.GatewayError[] = [
      new errors.NotFound(),
      new errors.BadRequest(),
      new errors.UntrustedPeer(),
      new errors.PayloadTooLarge(),
      new errors.HeadersTooLarge(),
      new errors.RequestTimeout(),
      new errors.CredentialsMissing(['oauth1']),
      new errors.InvalidRequest('oauth1', 'x', 'parameter_absent'),
      new errors.InvalidClient(),
      new errors.InvalidToken('oauth2'),
      new errors.InvalidSignature(),
      new errors.InvalidDpopProof(),
      new errors.UseDpopNonce(),
      new errors.InvalidNonce(),
      new errors.InvalidTimestamp(),
      new errors.InsufficientScope('oauth2', 'a'),
      new errors.TemporarilyUnavailable(),
      new errors.BadGateway(),
      new errors.GatewayTimeout(),
      new errors.InternalError(),
      new errors.AuthorizationRefused(),
      new errors.SigningFailed(),
    ];
    expect(new Set(instances.map((e) => e.constructor))).toEqual(new Set(errors.ERROR_CLASSES));
    for (const error of instances) {
      const kind = error.constructor as typeof errors.GatewayError;
      expect([error.code, error.status]).toEqual([kind.code, kind.status]);
      expect(documented).toContain(`${error.code}:${error.status}`);
    }
  });

  test('public descriptions never carry the cause', () => {
    const error = new errors.BadGateway(new Error('connect ECONNREFUSED secret-host:1'));
    expect(error.description).not.toContain('secret-host');
    expect(error.message).not.toContain('secret-host');
  });
});
