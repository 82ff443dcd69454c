import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatAuthorizationHeader, splitUrl } from '../../../src/oauth1-client/sign.js';
import { MemoryNonceStore } from '../../../src/store/memory.js';
import {
  buildBaseString,
  buildBaseStringUri,
  normaliseParameters,
} from '../../../src/verify/oauth1/base-string.js';
import { computeBodyHash } from '../../../src/verify/oauth1/body-hash.js';
import { percentEncode } from '../../../src/verify/oauth1/encoding.js';
import { parseFormEncoded } from '../../../src/verify/oauth1/params.js';
import { getSignatureMethod } from '../../../src/verify/oauth1/signature-methods.js';
import { computeBaseString, verifyOAuth1Request } from '../../../src/verify/oauth1/verify.js';
import type { RequestFacts } from '../../../src/verify/request-facts.js';
import { factsFromVector, loadVectors, policy, type RequestVector, TestCredentials } from './support.js';

const file = loadVectors();

function credentialsFor(vector: RequestVector, rsaKey?: KeyObject): TestCredentials {
  const clientId = vector.oauthParams['oauth_consumer_key']!;
  const store = new TestCredentials().addClient({
    clientId,
    clientSecret: vector.consumerSecret,
    rsaPublicKey:
      rsaKey ?? (vector.rsaPublicKey === undefined ? undefined : createPublicKey(vector.rsaPublicKey)),
  });
  const token = vector.oauthParams['oauth_token'];
  if (token !== undefined) {
    store.addToken({
      token,
      tokenSecret: vector.tokenSecret,
      clientId,
      userId: 'vector-user',
      scopes: ['s1'],
    });
  }
  return store;
}

function contextFor(vector: RequestVector, credentials = credentialsFor(vector)) {
  return {
    policy: policy(),
    now: () => Number(vector.oauthParams['oauth_timestamp']) * 1000,
    credentials,
    nonces: new MemoryNonceStore({ maxEntries: 1000 }),
  };
}

describe('oauth1.json request vectors', () => {
  it('has vectors for every placement and signature method', () => {
    expect(new Set(file.vectors.map((v) => v.placement))).toEqual(new Set(['header', 'query', 'body']));
    expect(new Set(file.vectors.map((v) => v.signatureMethod)).size).toBeGreaterThanOrEqual(6);
  });

  describe.each(file.vectors.map((v) => [v.id, v] as const))('%s', (_id, vector) => {
    it('computes exactly the published base string', () => {
      expect(computeBaseString(factsFromVector(vector))).toBe(vector.baseString);
    });

    it('accepts the request as sent', async () => {
      const identity = await verifyOAuth1Request(factsFromVector(vector), contextFor(vector));
      expect(identity.method).toBe('oauth1');
      expect(identity.clientId).toBe(vector.oauthParams['oauth_consumer_key']);
      if (vector.oauthParams['oauth_token'] === undefined) {
        expect(identity).not.toHaveProperty('user');
        expect(identity.scopes).toEqual([]);
      } else {
        expect(identity.user).toBe('vector-user');
        expect(identity.scopes).toEqual(['s1']);
      }
    });

    it('rejects it when the signature is replaced by another valid-looking one', async () => {
      const facts = factsFromVector(vector);
      const tampered = tamperSignature(vector, facts);
      await expect(verifyOAuth1Request(tampered, contextFor(vector))).rejects.toMatchObject({
        code: 'invalid_signature',
        status: 401,
      });
    });

    it('signing the base string gives the published signature', () => {
      const method = getSignatureMethod(vector.signatureMethod)!;
      const signature = method.sign({
        baseString: vector.baseString,
        consumerSecret: vector.consumerSecret,
        tokenSecret: vector.tokenSecret,
        rsaPrivateKey:
          vector.rsaPrivateKey === undefined ? undefined : createPrivateKey(vector.rsaPrivateKey),
      });
      expect(signature).toBe(vector.signature);
    });
  });

  it('accepts the RSA vector with the key taken from its X.509 certificate', async () => {
    const vector = file.vectors.find((v) => v.rsaCertificate !== undefined)!;
    const credentials = credentialsFor(vector, createPublicKey(vector.rsaCertificate!));
    await expect(
      verifyOAuth1Request(factsFromVector(vector), contextFor(vector, credentials)),
    ).resolves.toMatchObject({ clientId: vector.oauthParams['oauth_consumer_key'] });
  });
});

/** Swaps the signature for the one of a different base string (same shape, so only the value is wrong). */
function tamperSignature(vector: RequestVector, facts: RequestFacts): RequestFacts {
  const method = getSignatureMethod(vector.signatureMethod)!;
  const other = method.sign({
    baseString: `${vector.baseString}x`,
    consumerSecret: `${vector.consumerSecret}x`,
    tokenSecret: vector.tokenSecret,
    rsaPrivateKey: vector.rsaPrivateKey === undefined ? undefined : createPrivateKey(vector.rsaPrivateKey),
  });
  const replace = (raw: string, encoded: (s: string) => string) => {
    const current = encoded(vector.signature);
    expect(raw).toContain(current);
    return raw.replace(current, encoded(other));
  };
  if (vector.placement === 'header') {
    return {
      ...facts,
      authorization: replace(facts.authorization!, (s) => `oauth_signature="${percentEncode(s)}"`),
    };
  }
  // In the query and body the vectors spell the signature with §3.6 encoding as well.
  const formEncoded = (s: string) => `oauth_signature=${percentEncode(s)}`;
  if (vector.placement === 'query') return { ...facts, target: replace(facts.target, formEncoded) };
  return { ...facts, body: Buffer.from(replace(facts.body!.toString('utf8'), formEncoded)) };
}

describe('oauth1.json signOnly vectors', () => {
  it.each(file.signOnly.map((v) => [v.id, v] as const))('%s', async (_id, vector) => {
    const method = getSignatureMethod(vector.signatureMethod)!;
    expect(method).toBeDefined();
    const signature = method.sign({
      baseString: vector.baseString,
      consumerSecret: vector.consumerSecret,
      tokenSecret: vector.tokenSecret,
      rsaPrivateKey: vector.rsaPrivateKey === undefined ? undefined : createPrivateKey(vector.rsaPrivateKey),
    });
    expect(signature).toBe(vector.signature);

    const verifyInput = {
      baseString: vector.baseString,
      consumerSecret: vector.consumerSecret,
      tokenSecret: vector.tokenSecret,
      rsaPublicKey: vector.rsaPublicKey === undefined ? undefined : createPublicKey(vector.rsaPublicKey),
    };
    await expect(method.verify({ ...verifyInput, signature: vector.signature })).resolves.toBe(true);
    if (vector.signatureMethod !== 'PLAINTEXT') {
      // The signature covers the base string: one changed byte must fail.
      await expect(
        method.verify({ ...verifyInput, baseString: `${vector.baseString}&`, signature: vector.signature }),
      ).resolves.toBe(false);
    }
  });
});

describe('oauth1.json encoding vectors', () => {
  it.each(file.encoding.map((v) => [v.id, v] as const))('%s', (_id, vector) => {
    switch (vector.kind) {
      case 'percentEncode':
        expect(percentEncode(vector.input)).toBe(vector.expected);
        break;
      case 'normalize':
        expect(normaliseParameters(parseFormEncoded(vector.input))).toBe(vector.expected);
        break;
      case 'baseStringUri':
        expect(buildBaseStringUri(vector.input.scheme, vector.input.host, vector.input.target)).toBe(
          vector.expected,
        );
        break;
      case 'baseString': {
        const { scheme, host, target } = splitUrl(vector.input.url);
        const params = parseFormEncoded(vector.input.params).filter(([name]) => name !== 'oauth_signature');
        expect(buildBaseString({ method: vector.input.method, scheme, host, target, params })).toBe(
          vector.expected,
        );
        break;
      }
      default:
        throw new Error(`unknown encoding kind in ${JSON.stringify(vector)}`);
    }
  });

  it('covers every kind', () => {
    expect(new Set(file.encoding.map((v) => v.kind))).toEqual(
      new Set(['percentEncode', 'normalize', 'baseStringUri', 'baseString']),
    );
  });
});

describe('oauth1.json bodyHash vectors', () => {
  it.each(file.bodyHash.map((v) => [v.id, v] as const))('%s', (_id, vector) => {
    expect(computeBodyHash(Buffer.from(vector.body, 'utf8'))).toBe(vector.oauthBodyHash);
    expect(computeBodyHash(vector.body)).toBe(vector.oauthBodyHash);

    if (vector.request !== undefined) {
      // The base string of the draft's request, with the parameters sent in a header as usual.
      const params = Object.entries(vector.request.oauthParams);
      const { scheme, host, target } = splitUrl(vector.request.url);
      if (scheme !== 'http' && scheme !== 'https') throw new Error('unexpected scheme');
      const facts: RequestFacts = {
        method: vector.request.method,
        scheme,
        host,
        target,
        authorization: formatAuthorizationHeader([...params, ['oauth_signature', 'unused']]),
        contentType: vector.contentType ?? undefined,
        body: Buffer.from(vector.body, 'utf8'),
      };
      expect(computeBaseString(facts)).toBe(vector.request.baseString);
    }
  });

  it('hashes a missing body as the empty string', () => {
    const empty = file.bodyHash.find((v) => v.body === '')!;
    expect(computeBodyHash(undefined)).toBe(empty.oauthBodyHash);
  });
});
