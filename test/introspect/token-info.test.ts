import { describe, expect, it } from 'vitest';
import { internClientId } from '../../src/introspect/token-info.js';

describe('internClientId', () => {
  it('returns the first copy of equal client ids', () => {
    const a = internClientId(['client', 'x'].join('-'));
    const b = internClientId(['client', 'x'].join('-'));
    expect(a).toBe('client-x');
    expect(b).toBe(a);
    expect(internClientId(undefined)).toBeUndefined();
  });
});
