import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import OAuth from 'oauth-1.0a';
import { BEARER, CONSUMER, credentialsFile, TOKEN } from '../../security/helpers/credentials.js';

/**
 * What the forward-auth suites share: the gateway's routes (none has an `upstream`: the front proxy
 * forwards, the gateway only judges), credentials, an independent OAuth1 signer (npm `oauth-1.0a`)
 * and the example configs from examples/forward-auth/, templated with the test's ports.
 */

export { BEARER, CONSUMER, TOKEN };

/** A client_credentials token: a client, no user. */
export const MACHINE_BEARER = {
  accessToken: 'machineBearerK2w9Qp4Lx7Zr1',
  clientId: 'machine-client',
  scope: 'jobs',
} as const;

/** A token with the `admin` scope, to see what the app receives for an allowed bypass shape. */
export const ADMIN_BEARER = {
  accessToken: 'adminBearerH5t8Wc2Nm6Yq3',
  clientId: 'admin-client',
  userId: 'root',
  scope: 'admin',
} as const;

export function credentials(): Record<string, unknown> {
  const issuedAt = Math.floor(Date.now() / 1000);
  return credentialsFile([
    { ...MACHINE_BEARER, revoked: false, issuedAt, expiresIn: 0 },
    { ...ADMIN_BEARER, revoked: false, issuedAt, expiresIn: 0 },
  ]);
}

export const ROUTES = [
  { name: 'photos', match: { pathPrefix: '/photos' }, auth: 'oauth1', scopes: ['photos:read'] },
  { name: 'feed', match: { pathPrefix: '/feed' }, auth: 'oauth2', scopes: ['photos:read'] },
  { name: 'admin', match: { pathPrefix: '/admin' }, auth: 'oauth2', scopes: ['admin'] },
  { name: 'machine', match: { pathPrefix: '/machine' }, auth: 'any' },
  { name: 'public', match: { pathPrefix: '/' }, auth: 'none' },
];

export function gatewayConfig(): Record<string, unknown> {
  return { authorize: { listen: { host: '127.0.0.1', port: 0 } }, routes: ROUTES };
}

const hmacSha1 = (base: string, key: string) => createHmac('sha1', key).update(base).digest('base64');
const oauth = new OAuth({
  consumer: { key: CONSUMER.clientId, secret: CONSUMER.clientSecret },
  signature_method: 'HMAC-SHA1',
  hash_function: hmacSha1,
});
const token = { key: TOKEN.token, secret: TOKEN.tokenSecret };

/**
 * `Authorization: OAuth …` for the URL the client uses at the front proxy; `form` parameters are
 * signed too (RFC 5849 §3.4.1.3.1); `twoLegged` signs with the consumer alone.
 */
export function signedHeader(
  method: string,
  url: string,
  options: { twoLegged?: boolean; form?: Record<string, string> } = {},
): string {
  const request = { url, method, ...(options.form ? { data: options.form } : {}) };
  return oauth.toHeader(oauth.authorize(request, options.twoLegged ? undefined : token)).Authorization;
}

/** `url` with the OAuth1 protocol parameters appended to its query (RFC 5849 §3.5.3). */
export function signedQuery(method: string, url: string): string {
  const params = oauth.authorize({ url, method }, token) as unknown as Record<string, string>;
  const query = Object.entries(params)
    .filter(([k]) => k.startsWith('oauth_'))
    .map(([k, v]) => `${oauth.percentEncode(k)}=${oauth.percentEncode(String(v))}`)
    .join('&');
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

const EXAMPLES = new URL('../../../examples/forward-auth/', import.meta.url);

/** Every placeholder address must be in the example: a renamed one would silently test nothing. */
function substitute(text: string, replacements: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of replacements) {
    if (!out.includes(from)) throw new Error(`example config no longer contains ${from}`);
    out = out.replaceAll(from, to);
  }
  return out;
}

export interface Ports {
  readonly listen: number;
  readonly authorize: number;
  readonly app: number;
}

/** The text of an example config (examples/forward-auth/<name>). */
export function readExample(name: string): Promise<string> {
  return readFile(new URL(name, EXAMPLES), 'utf8');
}

/** examples/forward-auth/nginx.conf with the test's ports: the very file users copy. */
export function templateNginx(text: string, ports: Ports): string {
  return substitute(text, [
    ['listen 8080;', `listen 127.0.0.1:${ports.listen};`],
    ['server 127.0.0.1:9191;', `server 127.0.0.1:${ports.authorize};`],
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`],
  ]);
}

/** examples/forward-auth/Caddyfile with the test's ports. */
export function templateCaddyfile(text: string, ports: Ports): string {
  return substitute(text, [
    ['http://:8080', `http://127.0.0.1:${ports.listen}`],
    ['127.0.0.1:9191', `127.0.0.1:${ports.authorize}`],
    ['127.0.0.1:3000', `127.0.0.1:${ports.app}`],
  ]);
}

/** HTTP/1.1 request bytes for rawRequest: the target is sent exactly as given. */
export function rawGet(target: string, host: string, headers: readonly (readonly [string, string])[] = []) {
  let head = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return `${head}Connection: close\r\n\r\n`;
}
