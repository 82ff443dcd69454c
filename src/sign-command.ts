/** `oauth-gateway sign`: wired to the OAuth1 signer once src/verify/oauth1/sign.ts lands. */
export async function signCommand(_args: string[]): Promise<void> {
  process.stderr.write('sign: not available yet\n');
  process.exit(1);
}
