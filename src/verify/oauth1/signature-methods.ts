import { constants, createHmac, type KeyObject, sign, verify } from 'node:crypto';
import { percentEncode } from './encoding.js';
import { safeEqualStrings } from './safe-equal.js';

/**
 * RFC 5849 §3.4 signature methods, one table keyed by the `oauth_signature_method` value, built
 * once at load. Each entry verifies (server side) and signs (client side: the `sign` CLI, tests,
 * benchmarks). HMAC is computed synchronously (cheap); RSA verification runs on the libuv pool
 * through the callback form of crypto.verify so it never blocks the event loop.
 */

/**
 * The `oauth_signature_method` values this table implements: the one list config validation
 * (`oauth1.signatureMethods`) and the `sign` command accept.
 */
export const SIGNATURE_METHODS = [
  'HMAC-SHA1',
  'HMAC-SHA256',
  'HMAC-SHA512',
  'RSA-SHA1',
  'RSA-SHA256',
  'PLAINTEXT',
] as const;
export type SignatureMethodName = (typeof SIGNATURE_METHODS)[number];

export interface VerifySignatureInput {
  readonly baseString: string;
  /** As decoded from the request: base64 for HMAC/RSA, `enc(cs)&enc(ts)` for PLAINTEXT. */
  readonly signature: string;
  readonly consumerSecret: string;
  /** '' when there is no token (two-legged, temporary-credential requests). */
  readonly tokenSecret: string;
  readonly rsaPublicKey: KeyObject | undefined;
}

export interface SignInput {
  readonly baseString: string;
  readonly consumerSecret: string;
  readonly tokenSecret: string;
  readonly rsaPrivateKey?: KeyObject | undefined;
}

export interface SignatureMethod {
  readonly name: SignatureMethodName;
  /** PLAINTEXT sends the secrets themselves, so it is only acceptable over TLS (§3.4.4). */
  readonly requiresTls: boolean;
  verify(input: VerifySignatureInput): Promise<boolean>;
  /** Returns the signature (base64, or the PLAINTEXT key), not yet percent-encoded. */
  sign(input: SignInput): string;
  /** The same; RSA runs on the libuv pool (egress signs on the request path). */
  signAsync(input: SignInput): Promise<string>;
}

/** §3.4.2: the HMAC key is `enc(cs)&enc(ts)` — the `&` is there even when ts is empty. */
export function signingKey(consumerSecret: string, tokenSecret: string): string {
  return `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
}

function hmacMethod(name: SignatureMethodName, algorithm: 'sha1' | 'sha256' | 'sha512'): SignatureMethod {
  const compute = (baseString: string, cs: string, ts: string): string =>
    createHmac(algorithm, signingKey(cs, ts)).update(baseString, 'utf8').digest('base64');
  return {
    name,
    requiresTls: false,
    async verify(input) {
      const expected = compute(input.baseString, input.consumerSecret, input.tokenSecret);
      return safeEqualStrings(expected, input.signature);
    },
    sign(input) {
      return compute(input.baseString, input.consumerSecret, input.tokenSecret);
    },
    async signAsync(input) {
      return compute(input.baseString, input.consumerSecret, input.tokenSecret);
    },
  };
}

/** Canonical base64 with padding; anything else cannot be a signature we produced or accept. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function rsaVerify(algorithm: string, data: string, key: KeyObject, signature: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify(
        algorithm,
        Buffer.from(data, 'utf8'),
        { key, padding: constants.RSA_PKCS1_PADDING },
        signature,
        (error, ok) => resolve(error === null && ok),
      );
    } catch {
      // A key of the wrong kind or an unsupported digest: not a valid signature, not a 500.
      resolve(false);
    }
  });
}

/** §3.4.3 RSASSA-PKCS1-v1_5 with the client's registered public key. */
function rsaMethod(name: SignatureMethodName, algorithm: 'sha1' | 'sha256'): SignatureMethod {
  return {
    name,
    requiresTls: false,
    async verify(input) {
      const key = input.rsaPublicKey;
      if (key === undefined || key.asymmetricKeyType !== 'rsa') return false;
      if (input.signature === '' || !BASE64.test(input.signature)) return false;
      return rsaVerify(algorithm, input.baseString, key, Buffer.from(input.signature, 'base64'));
    },
    sign(input) {
      if (input.rsaPrivateKey === undefined) throw new TypeError(`${name} needs an RSA private key`);
      return sign(algorithm, Buffer.from(input.baseString, 'utf8'), {
        key: input.rsaPrivateKey,
        padding: constants.RSA_PKCS1_PADDING,
      }).toString('base64');
    },
    signAsync(input) {
      const key = input.rsaPrivateKey;
      if (key === undefined) return Promise.reject(new TypeError(`${name} needs an RSA private key`));
      return new Promise((resolve, reject) => {
        sign(
          algorithm,
          Buffer.from(input.baseString, 'utf8'),
          { key, padding: constants.RSA_PKCS1_PADDING },
          (error, signature) => (error === null ? resolve(signature.toString('base64')) : reject(error)),
        );
      });
    },
  };
}

/** §3.4.4: the signature is the key itself; the base string is not used. */
const plaintext: SignatureMethod = {
  name: 'PLAINTEXT',
  requiresTls: true,
  async verify(input) {
    return safeEqualStrings(signingKey(input.consumerSecret, input.tokenSecret), input.signature);
  },
  sign(input) {
    return signingKey(input.consumerSecret, input.tokenSecret);
  },
  async signAsync(input) {
    return signingKey(input.consumerSecret, input.tokenSecret);
  },
};

const TABLE: Readonly<Record<SignatureMethodName, SignatureMethod>> = {
  'HMAC-SHA1': hmacMethod('HMAC-SHA1', 'sha1'),
  'HMAC-SHA256': hmacMethod('HMAC-SHA256', 'sha256'),
  'HMAC-SHA512': hmacMethod('HMAC-SHA512', 'sha512'),
  'RSA-SHA1': rsaMethod('RSA-SHA1', 'sha1'),
  'RSA-SHA256': rsaMethod('RSA-SHA256', 'sha256'),
  PLAINTEXT: plaintext,
};

/** Lookup by the (case-sensitive, §3.4) `oauth_signature_method` value. */
export const SIGNATURE_METHOD_TABLE: ReadonlyMap<string, SignatureMethod> = new Map(Object.entries(TABLE));

export function getSignatureMethod(name: string): SignatureMethod | undefined {
  return SIGNATURE_METHOD_TABLE.get(name);
}
