import type { IntrospectionConfig } from '../../config/schema.js';
import { TemporarilyUnavailable } from '../../errors.js';
import { basicAuthorization, formEncode, readBoundedText } from '../../oauth2-client-http.js';
import { BackendFault, transportFault } from '../../observability/backend-failures.js';
import { Pool } from '../../undici-pool.js';
import type { TokenSource } from '../token-source.js';
import { MalformedIntrospectionResponse, parseIntrospectionResponse } from './introspection-response.js';

/**
 * RFC 7662 client. One keep-alive connection pool to the authorization server; every call is
 * bounded by `introspection.timeout` (queueing, connect, headers and body together). Anything but a
 * clear answer — network error, timeout, 5xx, 401 (our own credentials rejected), unreadable or
 * ill-typed JSON — throws TemporarilyUnavailable: the request fails closed with 503 and nothing is
 * cached. `{"active": false}` is a definitive answer.
 */

/** Ample for any introspection response; a bigger one is a misbehaving server, not a token. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Bounds the sockets a burst of distinct uncached tokens can open against the AS. */
const MAX_CONNECTIONS = 64;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BackendFault('introspection', 'malformed_response', { status: 200, field: '(not JSON)' });
  }
}

export function createIntrospectionSource(config: IntrospectionConfig): TokenSource {
  const url = new URL(config.url);
  const path = `${url.pathname}${url.search}`;
  const pool = new Pool(url.origin, {
    connections: MAX_CONNECTIONS,
    connect: { timeout: config.timeout },
    headersTimeout: config.timeout,
    bodyTimeout: config.timeout,
  });

  // Built once: the only per-call work is encoding the token.
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  let clientAuthParams = '';
  if (config.authMethod === 'client_secret_basic') {
    headers['authorization'] = basicAuthorization(config.clientId, config.clientSecret);
  } else {
    clientAuthParams = `&client_id=${formEncode(config.clientId)}&client_secret=${formEncode(config.clientSecret)}`;
  }

  async function call(token: string): Promise<{ status: number; json: unknown }> {
    const response = await pool.request({
      method: 'POST',
      path,
      headers,
      // RFC 7662 §2.1; the hint saves the AS a lookup in its refresh-token table.
      body: `token=${formEncode(token)}&token_type_hint=access_token${clientAuthParams}`,
      signal: AbortSignal.timeout(config.timeout),
    });
    const text = await readBoundedText(
      response.body,
      MAX_RESPONSE_BYTES,
      () => new BackendFault('introspection', 'malformed_response', { field: '(body too large)' }),
    );
    return {
      status: response.statusCode,
      json: response.statusCode === 200 ? parseJson(text) : safeJson(text),
    };
  }

  return {
    name: 'introspection',
    async lookup(token) {
      let answer: { status: number; json: unknown };
      try {
        answer = await call(token);
      } catch (cause) {
        throw new TemporarilyUnavailable(transportFault('introspection', cause));
      }
      const { status } = answer;
      if (status === 200) {
        try {
          return parseIntrospectionResponse(answer.json);
        } catch (cause) {
          const field = cause instanceof MalformedIntrospectionResponse ? cause.member : undefined;
          throw new TemporarilyUnavailable(
            new BackendFault('introspection', 'malformed_response', { status, field }),
          );
        }
      }
      // The AS says it cannot introspect this kind of token (oidc-provider answers this for JWT
      // access tokens, RFC 7009 §2.2.1's code): not ours to judge, let the next source try.
      if (status === 400 && errorCode(answer.json) === 'unsupported_token_type') return undefined;
      // RFC 7662 §2.1/§4: 401 (or 403) means the AS refused the gateway's own client credentials
      // (wrong secret, or an AS that cannot read client_secret_basic as RFC 6749 §2.3.1 encodes it).
      const reason = status === 401 || status === 403 ? 'client_auth_refused' : 'http_status';
      throw new TemporarilyUnavailable(new BackendFault('introspection', reason, { status }));
    },
    async close() {
      await pool.close();
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorCode(json: unknown): unknown {
  return typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['error'] : undefined;
}
