import { z } from 'zod';
import { identifierString } from '../identifiers.js';

/**
 * credentials.yaml: the records an Authlib-style authorization server owns (OAuth1 clients and
 * token credentials, OAuth2 bearer tokens). The Redis store holds the same records as hashes with
 * the same field names (DESIGN.md "Redis layout").
 */

const pem = z.string().refine((value) => /-----BEGIN [A-Z ]+-----/.test(value), {
  message: 'must be a PEM public key or certificate',
});

/**
 * A user or client id: a non-empty string, or a safe integer (Authlib models keep `user_id` as an
 * Integer) stored as its decimal string, so `userId: 42` reaches upstream as `42`.
 */
const ID_MESSAGE = 'must be a non-empty string or a safe integer';
const identifier = z
  .union([z.string().min(1), z.number().int({ error: ID_MESSAGE })], { error: ID_MESSAGE })
  .transform((value) => identifierString(value)!);

export const oauth1ClientRecord = z.strictObject({
  clientId: identifier,
  clientSecret: z.string(),
  rsaPublicKey: pem.nullable().optional(),
});

export const oauth1TokenRecord = z.strictObject({
  token: z.string().min(1),
  tokenSecret: z.string(),
  clientId: identifier,
  userId: identifier.nullable().optional(),
  scope: z.string().nullable().optional(),
});

export const bearerTokenRecord = z.strictObject({
  accessToken: z.string().min(1),
  clientId: identifier,
  userId: identifier.nullable().optional(),
  scope: z.string().nullable().optional(),
  revoked: z.boolean().default(false),
  /** Unix seconds. */
  issuedAt: z.number().int().nonnegative(),
  /** Seconds after issuedAt; 0 means the token does not expire. */
  expiresIn: z.number().int().nonnegative(),
  /** Optional RFC 8707 audience the token was issued for. */
  audience: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional(),
});

export const credentialsFileSchema = z.strictObject({
  clients: z.array(oauth1ClientRecord).default([]),
  tokens: z.array(oauth1TokenRecord).default([]),
  bearerTokens: z.array(bearerTokenRecord).default([]),
});

export type OAuth1ClientRecord = z.output<typeof oauth1ClientRecord>;
export type OAuth1TokenRecord = z.output<typeof oauth1TokenRecord>;
export type BearerTokenRecord = z.output<typeof bearerTokenRecord>;
export type CredentialsFile = z.output<typeof credentialsFileSchema>;
