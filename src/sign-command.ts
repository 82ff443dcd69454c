import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { signOAuth1Request } from './oauth1-client/sign.js';
import { SIGNATURE_METHODS, type SignatureMethodName } from './verify/oauth1/signature-methods.js';

/**
 * `oauth-gateway sign`: prints an OAuth 1.0a Authorization header (or a whole curl command) for
 * trying the gateway by hand. Secrets come from flags or, to keep them out of shell history, from
 * the env vars OAUTH_CONSUMER_SECRET / OAUTH_TOKEN_SECRET.
 */

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export async function signCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'consumer-key': { type: 'string' },
      'consumer-secret': { type: 'string' },
      token: { type: 'string' },
      'token-secret': { type: 'string' },
      'signature-method': { type: 'string', default: 'HMAC-SHA1' },
      realm: { type: 'string' },
      data: { type: 'string' },
      'content-type': { type: 'string' },
      'private-key': { type: 'string' },
      curl: { type: 'boolean', default: false },
    },
  });
  const problems: string[] = [];
  const [rawMethod, url] = positionals;
  const consumerKey = values['consumer-key'];
  const consumerSecret = values['consumer-secret'] ?? process.env['OAUTH_CONSUMER_SECRET'];
  const method = values['signature-method'] as SignatureMethodName;
  if (rawMethod === undefined || url === undefined || positionals.length !== 2)
    problems.push('expected METHOD URL');
  if (consumerKey === undefined) problems.push('--consumer-key is required');
  if (consumerSecret === undefined) problems.push('--consumer-secret (or OAUTH_CONSUMER_SECRET) is required');
  const tokenSecret = values['token-secret'] ?? process.env['OAUTH_TOKEN_SECRET'];
  if (values.token !== undefined && tokenSecret === undefined) {
    problems.push('--token needs --token-secret (or OAUTH_TOKEN_SECRET)');
  }
  if (!SIGNATURE_METHODS.includes(method))
    problems.push(`--signature-method must be one of ${SIGNATURE_METHODS.join(', ')}`);
  if (method.startsWith('RSA-') && values['private-key'] === undefined)
    problems.push(`${method} needs --private-key FILE`);
  if (url !== undefined && !/^https?:\/\/[^/?#]+/i.test(url))
    problems.push('URL must be an absolute http(s) URL');
  if (
    problems.length > 0 ||
    rawMethod === undefined ||
    url === undefined ||
    consumerKey === undefined ||
    consumerSecret === undefined
  ) {
    process.stderr.write(`sign: ${problems.join('; ')}\n`);
    process.exit(1);
  }
  const data = values.data;
  const contentType =
    values['content-type'] ?? (data === undefined ? undefined : 'application/x-www-form-urlencoded');
  const header = signOAuth1Request({
    method: rawMethod.toUpperCase(),
    url,
    consumerKey,
    consumerSecret,
    token: values.token,
    tokenSecret,
    signatureMethod: method,
    realm: values.realm,
    body: data,
    contentType,
    rsaPrivateKey:
      values['private-key'] === undefined ? undefined : readFileSync(values['private-key'], 'utf8'),
  });
  if (!values.curl) {
    process.stdout.write(`Authorization: ${header}\n`);
    return;
  }
  const parts = ['curl', '-sS', '-X', rawMethod.toUpperCase(), '-H', shellQuote(`Authorization: ${header}`)];
  if (data !== undefined)
    parts.push('-H', shellQuote(`Content-Type: ${contentType}`), '--data-binary', shellQuote(data));
  parts.push(shellQuote(url));
  process.stdout.write(`${parts.join(' ')}\n`);
}
