import { describe, expect, it } from 'vitest';
import { credentialsFileSchema } from '../../../src/config/credentials-schema.js';
import { createStoreSource } from '../../../src/introspect/sources/store.js';
import { FileCredentialStore } from '../../../src/store/file.js';

const NOW_S = 1_700_000_000;
const now = () => NOW_S * 1000;

const store = new FileCredentialStore(
  credentialsFileSchema.parse({
    bearerTokens: [
      {
        accessToken: 'live',
        clientId: 'demo',
        userId: 'alice',
        scope: 'a b',
        issuedAt: NOW_S - 10,
        expiresIn: 3600,
        audience: 'https://api',
      },
      { accessToken: 'forever', clientId: 'demo', issuedAt: NOW_S - 1_000_000, expiresIn: 0 },
      {
        accessToken: 'revoked',
        clientId: 'demo',
        userId: 'alice',
        issuedAt: NOW_S - 10,
        expiresIn: 3600,
        revoked: true,
      },
      { accessToken: 'expired', clientId: 'demo', issuedAt: NOW_S - 3600, expiresIn: 3600 },
      { accessToken: 'almost', clientId: 'demo', issuedAt: NOW_S - 3599, expiresIn: 3600 },
    ],
  }),
);
const source = createStoreSource(store, now);

describe('store token source (Authlib OAuth2Token semantics)', () => {
  it('live token → active with exp = issuedAt + expiresIn, user, scopes, audience', async () => {
    expect(await source.lookup('live')).toEqual({
      active: true,
      clientId: 'demo',
      user: 'alice',
      scopes: ['a', 'b'],
      exp: NOW_S + 3590,
      aud: ['https://api'],
    });
  });

  it('expiresIn 0 → never expires, no exp; no userId → no user', async () => {
    const info = await source.lookup('forever');
    expect(info?.active).toBe(true);
    expect(info?.exp).toBeUndefined();
    expect(info?.user).toBeUndefined();
  });

  it('revoked → inactive', async () => {
    expect((await source.lookup('revoked'))?.active).toBe(false);
  });

  it('issuedAt + expiresIn = now → inactive; one second before → active', async () => {
    expect((await source.lookup('expired'))?.active).toBe(false);
    expect((await source.lookup('almost'))?.active).toBe(true);
  });

  it('unknown → undefined, so the chain continues', async () => {
    expect(await source.lookup('nope')).toBeUndefined();
  });
});
