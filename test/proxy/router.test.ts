import { describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../src/config/load.js';
import { BadRequest } from '../../src/errors.js';
import {
  buildRouteTable,
  matchRoute,
  normaliseHost,
  normaliseTarget,
  upstreamPath,
} from '../../src/proxy/router.js';

describe('normaliseTarget', () => {
  const accepted: [target: string, path: string, query: string][] = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', ''],
    ['/public/../admin', '/admin', ''],
    ['/public/%2e%2e/admin', '/admin', ''],
    ['/public/%2E%2e/admin', '/admin', ''],
    ['/public/.%2E/admin', '/admin', ''],
    ['/public/%2e%2e', '/', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/./b', '/a/b', ''],
    ['/a/%2e/b', '/a/b', ''],
    ['/a/.', '/a/', ''],
    ['/..', '/', ''],
    ['/../../etc/passwd', '/etc/passwd', ''],
    ['//public', '/public', ''],
    ['/a//b///c', '/a/b/c', ''],
    ['/a/b//', '/a/b/', ''],
    // RFC 3986 §6.2.2.2: unreserved escapes decoded…
    ['/%7Euser', '/~user', ''],
    ['/%7euser', '/~user', ''],
    ['/%41%62%2D%5F%2E%30', '/Ab-_.0', ''],
    // …everything else keeps its escape, normalised to upper-case hex (§6.2.2.1).
    ['/a%3ab', '/a%3Ab', ''],
    ['/a%3Fb', '/a%3Fb', ''],
    ['/caf%c3%a9', '/caf%C3%A9', ''],
    ['/a%20b', '/a%20b', ''],
    // Query kept raw, never normalised: OAuth1 signs it byte-exact.
    ['/a/../b?x=%2F&y=..%2e&z=%7e', '/b', '?x=%2F&y=..%2e&z=%7e'],
    ['/p?', '/p', '?'],
    ['/p?a=/../b', '/p', '?a=/../b'],
    // A `;` that does not hide a dot segment is ordinary segment text.
    ['/a;v=1/b', '/a;v=1/b', ''],
  ];
  it.each(accepted)('%s → %s', (target, path, query) => {
    expect(normaliseTarget(target)).toMatchObject({ path, query });
    if (!target.includes(';')) expect(normaliseTarget(target).routePath).toBe(path);
  });

  // Routing ignores `;params` as servlet containers do; forwarding keeps them.
  const routed: [target: string, path: string, routePath: string][] = [
    ['/a;v=1/b', '/a;v=1/b', '/a/b'],
    ['/admin;x/secret', '/admin;x/secret', '/admin/secret'],
    ['/admin;jsessionid=1', '/admin;jsessionid=1', '/admin'],
    ['/public/x/..;/..;/admin', 'BadRequest', ''],
    ['/a/;x/b', '/a/;x/b', '/a/b'],
    ['/a/b;x/../c', '/a/c', '/a/c'],
  ];
  it.each(routed)('%s routes as %s', (target, path, routePath) => {
    if (path === 'BadRequest') {
      expect(() => normaliseTarget(target)).toThrow(BadRequest);
      return;
    }
    expect(normaliseTarget(target)).toEqual({ path, query: '', routePath });
  });

  const rejected: [target: string, why: string][] = [
    ['/a%2Fb', 'encoded slash'],
    ['/a%2fb', 'encoded slash, lower-case'],
    ['/a/%2F../admin', 'encoded slash before a dot segment'],
    ['/a%5Cb', 'encoded backslash'],
    ['/a%5cb', 'encoded backslash, lower-case'],
    ['/a%00b', 'encoded NUL'],
    ['/a\\b', 'raw backslash'],
    ['/public/..;/admin', 'dot-dot with path parameters (Tomcat)'],
    ['/public/.;x/admin', 'dot with path parameters'],
    ['/public/%2e%2e;/admin', 'encoded dot-dot with path parameters'],
    ['/a%2', 'truncated escape'],
    ['/a%zz', 'non-hex escape'],
    ['/a%', 'lone percent'],
    ['http://other/admin', 'absolute-form'],
    ['HTTP://other/admin', 'absolute-form, upper-case scheme'],
    ['*', 'asterisk-form'],
    ['other:443', 'authority-form'],
    ['', 'empty target'],
    ['admin', 'relative path'],
  ];
  it.each(rejected)('%s is rejected (%s)', (target) => {
    expect(() => normaliseTarget(target)).toThrow(BadRequest);
  });
});

describe('normaliseHost', () => {
  it.each([
    ['API.Example.COM', 'api.example.com'],
    ['api.example.com:8443', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['API.example.com.:80', 'api.example.com'],
    ['[::1]:8080', '[::1]'],
    ['127.0.0.1:3000', '127.0.0.1'],
  ])('%s → %s', (host, expected) => {
    expect(normaliseHost(host)).toBe(expected);
  });
});

type RouteInput = {
  name: string;
  match: { pathPrefix: string; host?: string; methods?: string[] };
  stripPrefix?: boolean;
  upstream?: string;
};

function table(routes: RouteInput[]) {
  const config = parseGatewayConfig(
    { routes: routes.map((r) => ({ upstream: 'http://127.0.0.1:1', auth: 'none', ...r })) },
    {},
  );
  return buildRouteTable(config.routes);
}

describe('matchRoute precedence', () => {
  const routes = table([
    { name: 'any-root', match: { pathPrefix: '/' } },
    { name: 'any-photos', match: { pathPrefix: '/photos' } },
    { name: 'any-photos-private', match: { pathPrefix: '/photos/private/' } },
    { name: 'wild-photos', match: { host: '*.example.com', pathPrefix: '/photos' } },
    { name: 'wild-deep', match: { host: '*.eu.example.com', pathPrefix: '/photos' } },
    { name: 'exact-photos', match: { host: 'api.example.com', pathPrefix: '/photos' } },
    {
      name: 'exact-upload',
      match: { host: 'api.example.com', pathPrefix: '/photos/upload', methods: ['post', 'PUT'] },
    },
    { name: 'port-host', match: { host: 'ported.example.org:8443', pathPrefix: '/x' } },
  ]);

  const cases: [host: string, path: string, method: string, expected: string | undefined][] = [
    // exact host beats *.suffix beats host-less
    ['api.example.com', '/photos/1', 'GET', 'exact-photos'],
    ['www.example.com', '/photos/1', 'GET', 'wild-photos'],
    ['other.org', '/photos/1', 'GET', 'any-photos'],
    // longest *.suffix wins
    ['cdn.eu.example.com', '/photos/1', 'GET', 'wild-deep'],
    // `*.example.com` does not match the bare domain
    ['example.com', '/photos/1', 'GET', 'any-photos'],
    // a host's table that has no matching prefix falls back to less specific hosts
    ['api.example.com', '/videos', 'GET', 'any-root'],
    // longest segment-boundary prefix
    ['other.org', '/photos', 'GET', 'any-photos'],
    ['other.org', '/photos/', 'GET', 'any-photos'],
    ['other.org', '/photos/private', 'GET', 'any-photos-private'],
    ['other.org', '/photos/private/x/y', 'GET', 'any-photos-private'],
    ['other.org', '/photos/privatex', 'GET', 'any-photos'],
    ['other.org', '/photosx', 'GET', 'any-root'],
    ['other.org', '/', 'GET', 'any-root'],
    // methods filter (normalised to upper case at load)
    ['api.example.com', '/photos/upload', 'POST', 'exact-upload'],
    ['api.example.com', '/photos/upload/big', 'PUT', 'exact-upload'],
    ['api.example.com', '/photos/upload', 'GET', 'exact-photos'],
    ['api.example.com', '/photos/uploadx', 'POST', 'exact-photos'],
    // route host with a port matches by name
    ['ported.example.org', '/x/1', 'GET', 'port-host'],
  ];
  it.each(cases)('%s %s %s → %s', (host, path, method, expected) => {
    expect(matchRoute(routes, host, path, method)?.name).toBe(expected);
  });

  it.each([
    ['API.EXAMPLE.COM:8080', 'exact-photos'],
    ['api.example.com.', 'exact-photos'],
    ['WWW.Example.Com.:443', 'wild-photos'],
  ])('Host header %s (case, port, trailing dot) → %s', (header, expected) => {
    expect(matchRoute(routes, normaliseHost(header), '/photos/1', 'GET')?.name).toBe(expected);
  });

  it('no host-less fallback means no route', () => {
    const hostOnly = table([{ name: 'only', match: { host: 'a.example', pathPrefix: '/api' } }]);
    expect(matchRoute(hostOnly, 'b.example', '/api', 'GET')).toBeUndefined();
    expect(matchRoute(hostOnly, 'a.example', '/apix', 'GET')).toBeUndefined();
    expect(matchRoute(hostOnly, 'a.example', '/api/v1', 'GET')?.name).toBe('only');
  });

  it('same prefix twice: the first route whose methods match wins, in config order', () => {
    const twice = table([
      { name: 'writes', match: { pathPrefix: '/api', methods: ['POST'] } },
      { name: 'all', match: { pathPrefix: '/api' } },
      { name: 'never', match: { pathPrefix: '/api' } },
    ]);
    expect(matchRoute(twice, 'h', '/api', 'POST')?.name).toBe('writes');
    expect(matchRoute(twice, 'h', '/api', 'GET')?.name).toBe('all');
  });
});

describe('upstreamPath', () => {
  const routes = table([
    { name: 'plain', match: { pathPrefix: '/plain' } },
    { name: 'strip', match: { pathPrefix: '/strip/' }, stripPrefix: true },
    { name: 'base', match: { pathPrefix: '/base' }, upstream: 'http://127.0.0.1:1/v2/' },
    { name: 'both', match: { pathPrefix: '/both' }, upstream: 'http://127.0.0.1:1/v2', stripPrefix: true },
    { name: 'root-strip', match: { pathPrefix: '/' }, stripPrefix: true },
  ]);
  it.each([
    ['/plain/a', '/plain/a'],
    ['/strip/a/b', '/a/b'],
    ['/strip', '/'],
    ['/strip/', '/'],
    ['/base/a', '/v2/base/a'],
    ['/both/a', '/v2/a'],
    ['/other/a', '/other/a'],
  ])('%s → %s', (path, expected) => {
    const route = matchRoute(routes, 'h', path, 'GET');
    expect(route).toBeDefined();
    expect(upstreamPath(route!, path)).toBe(expected);
  });
});
