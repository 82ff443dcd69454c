/**
 * The scenario list: one row of BENCHMARKS.md each, run in this order with the same load
 * generator, duration and warm-up. Adding an auth scenario is one entry:
 *
 *   { id, label, kind: 'gateway', auth: 'oauth1' | 'oauth2' | 'any',
 *     credential: <key of CREDENTIALS in lib/credentials.mjs>,
 *     nonceStore?: 'memory' | 'redis', tokenSources?: ['introspection'] | ['jwt'] | ...,
 *     needs?: ['redis' | 'as'], env?: {...}, nodeArgs?: [...],
 *     assertion?: 'EdDSA' | 'ES256' | 'RS256' }   (identity.assertion on, key from `keygen`)
 *
 * `needs: ['as']` starts the fake authorization server (servers/fake-as.mjs: RFC 7662
 * introspection and the JWKS). `kind: 'authlib'` rows are the in-app reference (Authlib in Flask
 * on gunicorn, the app itself answering): context for users, never part of a ratio.
 *
 * A gateway scenario with `auth` is only measured once a probe request gets 200 through it (so a
 * verifier that is not wired yet shows up as a skipped row with the reason, never as a fast 401).
 * `baseline: true` marks the rows the auth scenarios are compared against.
 *
 * `kind: 'nginx-authorize'` rows are the authorization-only mode: nginx running
 * examples/forward-auth/nginx.conf forwards to the upstream and asks the gateway's authorize
 * listener (auth_request) per request; nginx and the gateway share the SUT core.
 */
export const SCENARIOS = [
  { id: 'direct', label: 'direct upstream (no proxy)', kind: 'direct' },
  { id: 'nginx', label: 'nginx pass-through', kind: 'nginx' },
  {
    id: 'http-proxy',
    label: 'http-proxy@1.18 (stock, keep-alive agent)',
    kind: 'node-proxy',
    lib: 'http-proxy',
  },
  { id: 'http-proxy-3', label: 'http-proxy-3 (keep-alive agent)', kind: 'node-proxy', lib: 'http-proxy-3' },
  {
    id: 'undici-forwarder',
    label: 'bare undici Pool.stream() forwarder (ten lines, no hygiene)',
    kind: 'undici-forwarder',
  },
  { id: 'gateway-none', label: 'gateway `auth: none`', kind: 'gateway', auth: 'none', baseline: true },
  {
    id: 'gateway-none-quiet',
    label: 'gateway `auth: none`, access log off (LOG_LEVEL=warn)',
    kind: 'gateway',
    auth: 'none',
    env: { LOG_LEVEL: 'warn' },
  },
  {
    id: 'gateway-oauth2-store',
    label: 'gateway OAuth2 bearer, store token',
    kind: 'gateway',
    auth: 'oauth2',
    credential: 'bearer-store',
  },
  {
    id: 'gateway-oauth2-introspection',
    label: 'gateway OAuth2 bearer, cached introspection (RFC 7662)',
    kind: 'gateway',
    auth: 'oauth2',
    credential: 'bearer-introspection',
    tokenSources: ['introspection'],
    needs: ['as'],
  },
  {
    id: 'gateway-oauth2-store-assertion',
    label: 'gateway OAuth2 bearer, store token + signed identity assertion (EdDSA)',
    kind: 'gateway',
    auth: 'oauth2',
    credential: 'bearer-store',
    assertion: 'EdDSA',
  },
  {
    id: 'gateway-oauth2-jwt',
    label: 'gateway OAuth2 bearer, JWT RS256 (RFC 9068), cached',
    kind: 'gateway',
    auth: 'oauth2',
    credential: 'bearer-jwt',
    tokenSources: ['jwt'],
    needs: ['as'],
  },
  {
    id: 'gateway-oauth2-dpop',
    label: 'gateway OAuth2 DPoP-bound JWT (RFC 9449), EdDSA proof per request',
    kind: 'gateway',
    auth: 'oauth2',
    credential: 'dpop-jwt',
    tokenSources: ['jwt'],
    dpop: 'allow',
    needs: ['as'],
  },
  {
    id: 'gateway-oauth1-memory',
    label: 'gateway OAuth1 HMAC-SHA1, memory nonces',
    kind: 'gateway',
    auth: 'oauth1',
    credential: 'oauth1-hmac-sha1',
    nonceStore: 'memory',
  },
  {
    id: 'gateway-oauth1-redis',
    label: 'gateway OAuth1 HMAC-SHA1, Redis nonces',
    kind: 'gateway',
    auth: 'oauth1',
    credential: 'oauth1-hmac-sha1',
    nonceStore: 'redis',
    needs: ['redis'],
  },
  {
    id: 'gateway-oauth1-redis-all',
    label: 'gateway OAuth1 HMAC-SHA1, Redis nonces + Redis credentials',
    kind: 'gateway',
    auth: 'oauth1',
    credential: 'oauth1-hmac-sha1',
    nonceStore: 'redis',
    credentialStore: 'redis',
    needs: ['redis'],
  },
  {
    id: 'nginx-authorize-oauth2',
    label: 'nginx auth_request + gateway authorize listener, OAuth2 bearer, store token',
    kind: 'nginx-authorize',
    auth: 'oauth2',
    credential: 'bearer-store',
  },
  {
    id: 'nginx-authorize-oauth1',
    label: 'nginx auth_request + gateway authorize listener, OAuth1 HMAC-SHA1, memory nonces',
    kind: 'nginx-authorize',
    auth: 'oauth1',
    credential: 'oauth1-hmac-sha1',
    nonceStore: 'memory',
  },
  {
    id: 'authlib-oauth2',
    label: 'Authlib OAuth2 ResourceProtector in Flask on gunicorn (in-app, no upstream)',
    kind: 'authlib',
    credential: 'bearer-store',
    reference: true,
  },
  {
    id: 'authlib-oauth1',
    label: 'Authlib OAuth1 ResourceProtector in Flask on gunicorn (in-app, no upstream)',
    kind: 'authlib',
    path: '/oauth1/bench/items?id=42',
    credential: 'oauth1-hmac-sha1',
    reference: true,
  },
];

/** Ratios in the one-line summary: [label, numerator id, denominator id]. Auth rows are added. */
export const RATIOS = [
  ['gateway/http-proxy', 'gateway-none', 'http-proxy'],
  ['gateway/http-proxy-3', 'gateway-none', 'http-proxy-3'],
  ['gateway/nginx', 'gateway-none', 'nginx'],
  ['gateway/direct', 'gateway-none', 'direct'],
  // Issue 21: what the gateway's own work costs over the forwarder every Node proxy starts from.
  ['gateway/undici-forwarder', 'gateway-none', 'undici-forwarder'],
  // Issue 19: the same route with and without the signed identity assertion.
  ['assertion/no-assertion', 'gateway-oauth2-store-assertion', 'gateway-oauth2-store'],
  // RFC 9449: what a proof per request costs over the same JWT as a plain Bearer token.
  ['dpop/jwt', 'gateway-oauth2-dpop', 'gateway-oauth2-jwt'],
  // Authorization-only mode (nginx forwards, the gateway judges) against the gateway in proxy mode.
  ['nginx-authorize-oauth2/gateway-oauth2-store', 'nginx-authorize-oauth2', 'gateway-oauth2-store'],
  ['nginx-authorize-oauth1/gateway-oauth1-memory', 'nginx-authorize-oauth1', 'gateway-oauth1-memory'],
];

/** Ratio targets shown in the one-line summary (issue 21; reported, never enforced). */
export const TARGETS = {
  'gateway/undici-forwarder': 0.85,
  'gateway-oauth2-store/gateway': 0.92,
  'gateway-oauth2-introspection/gateway': 0.92,
  'gateway-oauth2-jwt/gateway': 0.92,
  'assertion/no-assertion': 0.9,
};
