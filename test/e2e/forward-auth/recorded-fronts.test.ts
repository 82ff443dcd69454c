import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { BEARER, credentials, gatewayConfig, signedHeader, signedQuery } from './support.js';

/**
 * Traefik and Envoy are not packaged for Debian, so they are not run here. The checks each sends
 * (from their documented behaviour, see the `shape` notes in each fixture) are recorded in
 * test/fixtures/forward-auth/*.json and replayed byte for byte against the authorize listener,
 * with fresh OAuth1 signatures filled in where the fixture says {{authorization}}/{{target}}.
 */

interface Fixture {
  readonly front: string;
  readonly checks: readonly RecordedCheck[];
}

interface RecordedCheck {
  readonly name: string;
  readonly client: {
    readonly method: string;
    readonly url: string;
    readonly placement?: 'header' | 'query';
    readonly form?: Record<string, string>;
  };
  readonly request: {
    readonly method: string;
    readonly target: string;
    readonly headers: readonly (readonly [string, string])[];
    readonly body?: string;
  };
  readonly expect: {
    readonly status: number;
    readonly identity?: { user?: string; client: string; scope: string; method: string };
    readonly error?: string;
    readonly challenge?: string;
    readonly description?: string;
  };
}

const FIXTURES = new URL('../../fixtures/forward-auth/', import.meta.url);

/** The check's bytes, with the placeholders filled for this run (fresh nonce and timestamp). */
function materialise(check: RecordedCheck): string {
  const { client } = check;
  const url = new URL(client.url);
  let target = `${url.pathname}${url.search}`;
  let authorization = '';
  if (client.placement === 'query') {
    const signed = signedQuery(client.method, client.url);
    target = signed.slice(url.origin.length);
  } else if (client.placement === 'header') {
    authorization = signedHeader(client.method, client.url, client.form ? { form: client.form } : {});
  }
  const body = client.form ? new URLSearchParams(client.form).toString().replaceAll('+', '%20') : '';
  const fill = (text: string) =>
    text
      .replaceAll('{{authorization}}', authorization)
      .replaceAll('{{target}}', target)
      .replaceAll('{{bearer}}', BEARER.accessToken)
      .replaceAll('{{body-length}}', String(Buffer.byteLength(body)))
      .replaceAll('{{body}}', body);
  let head = `${check.request.method} ${fill(check.request.target)} HTTP/1.1\r\n`;
  for (const [name, value] of check.request.headers) head += `${name}: ${fill(value)}\r\n`;
  return `${head}connection: close\r\n\r\n${fill(check.request.body ?? '')}`;
}

for (const file of ['traefik.json', 'envoy.json']) {
  describe(`recorded ${file.replace('.json', '')} checks replayed against the authorize listener`, async () => {
    const fixture = JSON.parse(await readFile(new URL(file, FIXTURES), 'utf8')) as Fixture;
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await startTestGateway({ config: gatewayConfig(), credentials: credentials() });
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('the fixture covers allow and deny', () => {
      const statuses = new Set(fixture.checks.map((c) => c.expect.status));
      expect(statuses.has(200)).toBe(true);
      expect([...statuses].some((s) => s >= 400)).toBe(true);
    });

    for (const check of fixture.checks) {
      it(`${fixture.front}: ${check.name}`, async () => {
        const reply = await rawRequest(gw.authorizePort!, materialise(check));
        const want = check.expect;
        expect(reply.status, reply.raw).toBe(want.status);
        if (want.identity !== undefined) {
          expect(reply.headers['x-oauth-user']).toBe(want.identity.user);
          expect(reply.headers['x-oauth-client-id']).toBe(want.identity.client);
          expect(reply.headers['x-oauth-scope']).toBe(want.identity.scope);
          expect(reply.headers['x-oauth-method']).toBe(want.identity.method);
        } else {
          for (const name of ['x-oauth-user', 'x-oauth-client-id', 'x-oauth-scope', 'x-oauth-method']) {
            expect(reply.headers[name], name).toBeUndefined();
          }
        }
        if (want.status >= 400) {
          const body = JSON.parse(reply.body) as Record<string, string>;
          expect(body['error']).toBe(want.error);
          if (want.description !== undefined) expect(body['error_description']).toContain(want.description);
        }
        if (want.challenge !== undefined) {
          expect(reply.headers['www-authenticate']).toMatch(new RegExp(want.challenge));
        }
      });
    }
  });
}
