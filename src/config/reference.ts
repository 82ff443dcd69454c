import { gatewayJsonSchema } from './schema.js';

/**
 * docs/configuration.md is generated from the zod schema (via its JSON Schema), so the reference
 * cannot drift from what the loader accepts: test/config/reference.test.ts fails when the checked-in
 * file differs from `renderConfigReference()`. Regenerate with `npm run docs:config`.
 */

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

const DESCRIPTIONS: Record<string, string> = {
  listen: 'Proxy listener. Env `PORT` overrides `port`.',
  admin: 'Admin listener: `/healthz`, `/readyz`, `/metrics`. Never proxied; keep it private.',
  trustedProxies:
    'IPs/CIDRs of ingresses whose `X-Forwarded-Proto/Host/Port` are believed (OAuth1 base URL, PLAINTEXT-over-TLS check).',
  'listen.host': 'Address to bind.',
  'listen.port': 'Port to bind (0 = any free port).',
  'listen.tls':
    'Terminate TLS here (PEM files relative to gateway.yaml): clients use https, PLAINTEXT becomes acceptable. Read at start; a reload keeps the listener.',
  'listen.tls.cert': 'Certificate chain (PEM).',
  'listen.tls.key': 'Private key (PEM).',
  'admin.host': 'Address to bind; keep it on localhost or a pod-internal address.',
  'admin.port': 'Port to bind.',
  authorize:
    'Authorization-only listener for nginx auth_request, Caddy forward_auth, Traefik forwardAuth and Envoy ext_authz (docs/forward-auth.md). Off when absent.',
  'authorize.listen': 'Where front proxies send their checks.',
  'authorize.listen.host':
    'Address to bind. On loopback, loopback peers may describe requests; otherwise only `trustedProxies` may.',
  'authorize.listen.port': 'Port to bind.',
  'authorize.pathPrefix':
    'Envoy ext_authz `path_prefix`: a check under it carries the original path after the prefix.',
  egress:
    'Egress listener (docs/egress.md): the app sends plain HTTP to a local route; the gateway signs it (OAuth1) or adds a client-credentials token (OAuth2) and forwards it over verified TLS. Off when absent.',
  'egress.listen':
    'Where apps send outbound calls. Anyone who can reach it acts as the configured clients: keep it on loopback (or a pod-internal address).',
  'egress.listen.host': 'Address to bind.',
  'egress.listen.port': 'Port to bind.',
  'egress.routes': 'Matched by longest path prefix, then methods (as ingress routes, without host).',
  'egress.routes[].name': 'Unique; used in logs and metrics.',
  'egress.routes[].match': 'What the route matches on the egress listener.',
  'egress.routes[].match.pathPrefix': 'Matched on segment boundaries of the normalised path.',
  'egress.routes[].match.methods': 'Only these methods; any when absent.',
  'egress.routes[].upstream':
    'The remote API: https, or http to a loopback host only. A path in it is prepended to the forwarded path (and signed).',
  'egress.routes[].stripPrefix': 'Remove `pathPrefix` before forwarding.',
  'egress.routes[].authorization':
    'The app’s own `Authorization` header: `replace` (dropped, the gateway’s credentials sent) or `refuse` (400 authorization_refused).',
  'egress.routes[].tls':
    'Upstream TLS. Certificates are always verified; there is no option to turn that off.',
  'egress.routes[].tls.caFile':
    'PEM CA bundle to trust instead of the system CAs (relative to gateway.yaml).',
  'egress.routes[].timeout':
    'Upstream must answer (and keep streaming) within this; 504 otherwise. Default `limits.upstreamTimeout`.',
  'egress.routes[].sign':
    'How outbound requests are authenticated: exactly one of `oauth1`, `oauth2`. Absent: forwarded as is (hygiene, TLS, limits only).',
  'egress.routes[].sign.oauth1':
    'Sign every request with OAuth 1.0a (RFC 5849); fresh nonce and timestamp each time.',
  'egress.routes[].sign.oauth1.consumerKey': 'Client (consumer) key.',
  'egress.routes[].sign.oauth1.consumerSecret': 'Client secret; use `${ENV}`. Not needed for RSA methods.',
  'egress.routes[].sign.oauth1.token': 'Token credentials; absent for two-legged requests.',
  'egress.routes[].sign.oauth1.tokenSecret': 'Token secret; use `${ENV}`.',
  'egress.routes[].sign.oauth1.signatureMethod': 'PLAINTEXT only to an https upstream (RFC 5849 §3.4.4).',
  'egress.routes[].sign.oauth1.privateKeyFile':
    'PEM RSA private key for RSA-SHA1 / RSA-SHA256 (relative to gateway.yaml).',
  'egress.routes[].sign.oauth1.realm': '`realm` of the Authorization header (header placement only).',
  'egress.routes[].sign.oauth1.placement':
    'Where the protocol parameters go (RFC 5849 §3.5): Authorization header, query, or form body (the request must then have a form body).',
  'egress.routes[].sign.oauth1.bodyHash':
    'Send `oauth_body_hash` for non-form bodies (which are then read, up to `limits.maxBodyBytes`, instead of streamed).',
  'egress.routes[].sign.oauth2':
    'Attach a client-credentials access token (RFC 6749 §4.4), cached and refreshed ahead of expiry; concurrent refreshes share one token request.',
  'egress.routes[].sign.oauth2.tokenUrl': 'Token endpoint: https, or http to a loopback host only.',
  'egress.routes[].sign.oauth2.clientId': 'The client id at the authorization server.',
  'egress.routes[].sign.oauth2.clientSecret': 'Its secret; use `${ENV}`.',
  'egress.routes[].sign.oauth2.authMethod':
    'How the gateway authenticates to the token endpoint (RFC 6749 §2.3.1).',
  'egress.routes[].sign.oauth2.scope': 'Space-separated scopes to ask for.',
  'egress.routes[].sign.oauth2.audience': '`audience` parameter (Auth0, Okta style).',
  'egress.routes[].sign.oauth2.resource': 'RFC 8707 resource indicator(s).',
  'egress.routes[].sign.oauth2.timeout': 'Per token request; a timeout with no usable token answers 503.',
  'egress.routes[].sign.oauth2.refreshAhead':
    'Refresh this long before the token expires (at most half its lifetime), in the background.',
  'egress.routes[].sign.oauth2.tls': 'Token endpoint TLS (always verified).',
  'egress.routes[].sign.oauth2.tls.caFile':
    'PEM CA bundle for the token endpoint (relative to gateway.yaml).',
  'redis.connectTimeout': 'Connection attempt timeout.',
  'redis.maxReconnectDelay': 'Cap of the exponential reconnect backoff; reconnects never stop.',
  'redis.sentinels': 'Sentinel nodes; when set, `url` supplies only credentials, TLS and db.',
  'redis.sentinelName': 'Master group name.',
  'redis.sentinelPassword': 'Password of the Sentinel nodes themselves.',
  'redis.cluster': 'Cluster seed nodes; when set, `url` supplies only credentials and TLS.',
  'credentials.type':
    '`file` (credentials.yaml, reloaded with the config), `redis` (hashes, docs/redis.md) or `sql` (the authorization server’s tables, docs/sql.md).',
  'credentials.sql':
    'Read credentials from the authorization server’s own SQL tables, read-only (docs/sql.md).',
  'credentials.sql.url':
    '`postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL; put the password in `${ENV}`. Never logged.',
  'credentials.sql.tls': 'TLS to the database (absent: as the URL says, e.g. `?sslmode=require`).',
  'credentials.sql.tls.ca':
    'PEM file of the CA that signed the server certificate (relative to gateway.yaml).',
  'credentials.sql.tls.rejectUnauthorized': 'Verify the server certificate.',
  'credentials.sql.tls.servername': 'Name to verify in the certificate when it differs from the URL host.',
  'credentials.sql.pool.max': 'Connections at most.',
  'credentials.sql.pool.idleTimeout': 'An idle connection is closed after this.',
  'credentials.sql.pool.connectTimeout':
    'Connecting, or waiting for a free connection, longer than this answers 503.',
  'credentials.sql.pool.maxWaiting':
    'Uncached lookups allowed to wait for a connection beyond `max`; more fail at once with 503.',
  'credentials.sql.statementTimeout':
    'Per query (enforced by the server and the gateway); slower answers 503.',
  'credentials.sql.cacheTtl':
    'A found record is reused this long: the bound on how long a revoked/deleted one still works.',
  'credentials.sql.negativeTtl':
    'An unknown key is remembered this long: the bound on how long a new record stays unknown.',
  'credentials.sql.cacheMaxEntries': 'Records cached per type (clients, tokens, bearer tokens).',
  'credentials.sql.preset':
    'Tables of a known framework: a name, or `{name, tables, user, rsaKeyColumn}` (docs/sql.md shows each preset’s SQL).',
  'credentials.sql.preset.tables': 'Table names when they differ from the framework’s defaults.',
  'credentials.sql.preset.user':
    'Identity header value: the user’s primary key (`id`) or the joined `username`.',
  'credentials.sql.preset.rsaKeyColumn':
    'authlib presets: the Client column with an RSA public key (PEM), if any.',
  'credentials.sql.queries':
    'Instead of a preset: one SELECT per record type, with exactly one parameter (`$1` PostgreSQL, `?` MySQL); result columns named after the record fields.',
  'credentials.sql.queries.client':
    'OAuth1 consumer by client id: `client_id`, `client_secret`, optional `rsa_public_key`.',
  'credentials.sql.queries.token':
    'OAuth1 token credentials by token: `token`, `token_secret`, `client_id`, optional `user_id`, `scope`.',
  'credentials.sql.queries.bearerToken':
    'OAuth2 token by its value: `client_id`, `user_id`, `scope`, `revoked`/`revoked_at`, `issued_at` + `expires_in`, or `expires_at`.',
  'credentials.sql.notifyChannel':
    'PostgreSQL: LISTEN here; each NOTIFY evicts the named record at once (docs/sql.md).',
  'credentials.path': 'credentials.yaml, relative to gateway.yaml.',
  'credentials.cacheTtl':
    'In-process cache of Redis records: a deleted or revoked record stops working within this bound.',
  'oauth1.realm': 'Realm in the `OAuth` challenge.',
  'oauth2.realm': 'Realm in the `Bearer` challenge.',
  'oauth2.introspection.url': 'Introspection endpoint (RFC 7662).',
  'oauth2.introspection.clientId': 'The gateway’s client id at the authorization server.',
  'oauth2.introspection.clientSecret': 'Its secret; use `${ENV}`.',
  'oauth2.introspection.authMethod': 'How the gateway authenticates to the endpoint (RFC 6749 §2.3.1).',
  'oauth2.introspection.timeout': 'Per call; a timeout with nothing cached answers 503.',
  'oauth2.introspection.cache.maxEntries': 'Bound of the in-process token cache (all token sources).',
  'oauth2.introspection.cache.maxTtl': 'Active results are cached for min(exp − now, maxTtl).',
  'oauth2.introspection.cache.negativeTtl': 'Inactive results are cached this long.',
  'oauth2.jwt.jwksUri': 'JWKS of the issuer; refetched on an unknown `kid` (rate-limited).',
  'oauth2.jwt.issuer': 'Required `iss`.',
  'oauth2.jwt.audience': 'Required `aud` (any of); routes may narrow it with `audience`.',
  'oauth2.jwt.algorithms': 'Accepted `alg` values; `none` and HMAC are never accepted.',
  'oauth2.jwt.clockTolerance': 'Leeway for `exp`/`nbf`.',
  'oauth2.jwt.jwksCooldown':
    'After a failed JWKS fetch, how long the keys already held verify alone before the endpoint is tried again (with no keys at all: 1 s). An unknown `kid` refetches at once whenever the last fetch is over 1 s old, whatever this says, and its refusal is cached only until that next allowed fetch, so a rotated key works within about a second.',
  'routes[].name': 'Unique; used in logs and metrics.',
  'routes[].match': 'What the route matches.',
  'routes[].match.methods': 'Only these methods; any when absent.',
  'routes[].upstream':
    'http(s) URL; a path in it is prepended to the forwarded path. May be omitted when `authorize` is set: the route is then only judged by the authorize listener (404 in proxy mode).',
  'limits.maxBodyBytes':
    'Largest body the gateway reads to verify (OAuth1 form bodies, body hash); 413 above.',
  'limits.maxHeaders':
    'Most header lines a request may carry; more → 431 and the connection is closed (no header is ever silently dropped).',
  'limits.headersTimeout': 'A client must finish sending headers within this (slowloris protection).',
  'limits.upstreamTimeout': 'Upstream must answer (and keep streaming) within this; 504 otherwise.',
  'limits.shutdownTimeout': 'SIGTERM waits this long for in-flight requests.',
  log: 'The access log (one JSON line per request on stdout, at level info; `LOG_LEVEL` sets the level of everything).',
  'log.access':
    '`all`: a line per request; `errors`: only answers with status ≥ 400 (the cheapest form that still shows every refusal); `off`: no access lines (warnings and errors are still logged).',
  'log.accessSample':
    'With `access: all`, the share of requests answered below 400 that get a line (0.1 = one in ten, chosen at random); errors always do.',
  redis: 'Used by any store of type redis, the Redis nonce store and the shared introspection cache.',
  'redis.url': '`redis://` or `rediss://` (TLS); credentials in the URL.',
  'redis.keyPrefix': 'Prefix of every key (layout in docs/redis.md).',
  'redis.commandTimeout': 'No request waits longer on Redis; a timeout fails closed with 503.',
  'identity.headers': 'Header names sent upstream.',
  'identity.strip': 'More inbound headers to always remove (matched case-insensitively, `_` = `-`).',
  'identity.assertion':
    'Signed identity assertion (a JWS) sent upstream on every authenticated forward, verifiable with the JWKS at the admin listener’s `/.well-known/jwks.json` (docs/upstream-integration.md). Off when absent.',
  'identity.assertion.header': 'Header the assertion is sent in; client copies are always stripped.',
  'identity.assertion.algorithm':
    '`EdDSA` (Ed25519), `ES256` (P-256) or `RS256` (RSA ≥ 2048 bits); every key must fit it.',
  'identity.assertion.keys':
    'Private keys (PEM, relative to gateway.yaml; `oauth-gateway keygen` writes one). The first signs; the others are only published (rotation). Reloaded with the config.',
  'identity.assertion.keys[].path': 'PKCS#8 (or SEC1/PKCS#1) PEM private key file.',
  'identity.assertion.keys[].kid': 'Key id in the JWS header and the JWKS; default the RFC 7638 thumbprint.',
  'identity.assertion.issuer': '`iss` of every assertion.',
  'identity.assertion.ttl': '`exp` − `iat` (1s to 1h).',
  credentials: 'Where OAuth1 clients/tokens and OAuth2 bearer records come from.',
  'oauth1.signatureMethods': 'Accepted methods. PLAINTEXT is accepted only over TLS.',
  'oauth1.timestampWindow': 'Accepted clock skew of `oauth_timestamp`, both directions.',
  'oauth1.nonceStore':
    '`memory` (this process) or `redis` (shared by replicas), as a string or `{ type, … }`. Either way a nonce whose request could still be accepted is never forgotten (README "Nonce store").',
  'oauth1.nonceStore.type': '`memory` or `redis`.',
  'oauth1.nonceStore.maxEntries':
    'Memory store bound (11–20 bytes a nonce: 1,000,000 ≈ 20 MB at most, enough for 3,300 signed requests/s over a 5-minute window). When full, the timestamps farthest from now (normally the oldest) are refused as stale (401 invalid_timestamp) instead of forgetting nonces; metric `oauth_gateway_nonce_floor_raises_total`.',
  'redis.allowEvictingPolicy':
    'Start the Redis nonce store even though Redis runs an evicting `maxmemory-policy` (`allkeys-*`, `volatile-*`), which can forget unexpired nonces and let captured requests replay. Off: the gateway refuses to start. When on, `/readyz` and `oauth_gateway_redis_evicting_policy` report it.',
  'oauth1.bodyHash': '`oauth_body_hash` on non-form bodies: ignored, checked when present, or required.',
  'oauth2.tokenSources': 'Tried in order for each token; the first that knows it wins.',
  'oauth2.introspection': 'RFC 7662 introspection endpoint and the gateway’s client credentials.',
  'oauth2.introspection.cache.shared': 'Also cache results in Redis so replicas share them.',
  'oauth2.jwt': 'RFC 9068 JWT access tokens verified with the issuer’s JWKS.',
  'oauth2.allowQueryToken': 'Accept `access_token` in the query (RFC 6750 §2.3).',
  'oauth2.allowFormToken': 'Accept `access_token` in a form body (RFC 6750 §2.2).',
  routes:
    'Matched by most specific host, then longest path prefix, then methods. May be empty only when `egress` is configured.',
  'routes[].match.host': 'Exact host or `*.suffix`; any host when absent.',
  'routes[].match.pathPrefix': 'Matched on segment boundaries of the normalised path.',
  'routes[].stripPrefix': 'Remove `pathPrefix` before forwarding.',
  'routes[].auth': '`oauth1`, `oauth2`, `any` (either) or `none`.',
  'routes[].scopes':
    "All required (Authlib `@require_oauth('a b')`); 403 insufficient_scope otherwise. OAuth1 and OAuth2 alike.",
  'routes[].anyScopes':
    "At least one required (Authlib `@require_oauth(['a', 'b'])`). With `scopes` too: every one of `scopes` and one of these; a scope in both lists is an error. The 403 names both lists in `scope=\"…\"`.",
  'routes[].audience': 'Bearer tokens must carry this audience.',
  'routes[].assertionAudience': '`aud` of the identity assertion on this route; default the route name.',
  'routes[].passAuthorization': 'Forward the `Authorization` header upstream.',
};

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((value) => `\`${String(value)}\``).join(' \\| ');
  if (schema.const !== undefined) return `\`${String(schema.const)}\``;
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' or ');
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'values'}`;
  if (schema.type === 'number' && schema.minimum === 0 && schema.description === 'seconds') return 'duration';
  return Array.isArray(schema.type) ? schema.type.join(' or ') : (schema.type ?? 'any');
}

function isDuration(schema: JsonSchema): boolean {
  const variants = schema.anyOf ?? [];
  return variants.some((v) => v.pattern?.includes('ms|s|m|h') === true);
}

function defaultOf(schema: JsonSchema): string {
  if (schema.default === undefined) return '';
  if (
    typeof schema.default === 'object' &&
    schema.default !== null &&
    Object.keys(schema.default).length === 0
  )
    return '';
  return `\`${JSON.stringify(schema.default)}\``;
}

function rows(schema: JsonSchema, path: string, required: boolean, out: string[]): void {
  const objectVariants = (schema.anyOf ?? schema.oneOf)?.filter((v) => v.properties !== undefined);
  if (schema.properties) {
    if (path !== '') out.push(row(path, 'object', required, defaultOf(schema), schema));
    for (const [key, child] of Object.entries(schema.properties)) {
      rows(child, path === '' ? key : `${path}.${key}`, schema.required?.includes(key) ?? false, out);
    }
    return;
  }
  if (objectVariants && objectVariants.length > 0) {
    out.push(row(path, 'one of the variants below', required, defaultOf(schema), schema));
    const seen = new Set<string>();
    for (const variant of objectVariants) {
      for (const [key, child] of Object.entries(variant.properties ?? {})) {
        const childPath = `${path}.${key}`;
        if (seen.has(childPath) && child.const === undefined) continue;
        seen.add(childPath);
        rows(child, childPath, variant.required?.includes(key) ?? false, out);
      }
    }
    return;
  }
  if (schema.type === 'array' && schema.items?.properties) {
    out.push(row(path, 'list of objects', required, defaultOf(schema), schema));
    for (const [key, child] of Object.entries(schema.items.properties)) {
      rows(child, `${path}[].${key}`, schema.items.required?.includes(key) ?? false, out);
    }
    return;
  }
  out.push(row(path, isDuration(schema) ? 'duration' : typeOf(schema), required, defaultOf(schema), schema));
}

function row(path: string, type: string, required: boolean, fallback: string, schema: JsonSchema): string {
  const description = DESCRIPTIONS[path] ?? schema.description ?? '';
  return `| \`${path}\` | ${type} | ${required ? 'yes' : ''} | ${fallback} | ${description} |`;
}

export function renderConfigReference(): string {
  const out: string[] = [];
  rows(gatewayJsonSchema() as JsonSchema, '', true, out);
  return `# gateway.yaml reference

Generated from the configuration schema (\`src/config/schema.ts\`) by \`npm run docs:config\`; a test
fails if this file and the schema disagree. Durations are seconds (number) or strings such as
\`300ms\`, \`30s\`, \`5m\`, \`1h\`. Every string may use \`\${VAR}\` or \`\${VAR:-default}\`. Unknown
keys are errors.

| key | type | required | default | description |
|---|---|---|---|---|
${out.join('\n')}
`;
}
