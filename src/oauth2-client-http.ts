/**
 * What the gateway's own OAuth 2.0 client calls share (RFC 7662 introspection, the RFC 6749 §4.4
 * token endpoint of egress): form encoding, HTTP Basic client authentication, bounded answers.
 */

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B). */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * RFC 6749 §2.3.1: client_id and client_secret are form-encoded before Basic's base64, so a ':'
 * in the id or a '+' or '%' in the secret survives the round trip.
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** An authorization server's answer as text, cut off (and `tooLarge()` thrown) past `maxBytes`. */
export async function readBoundedText(
  body: AsyncIterable<Buffer> & { destroy(): void },
  maxBytes: number,
  tooLarge: () => Error,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
