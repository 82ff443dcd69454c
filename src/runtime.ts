import { BlockList, isIP } from 'node:net';
import type { LoadedConfig } from './config/load.js';
import type { GatewayFileConfig } from './config/schema.js';
import { ABSENT_SCHEME, type Authenticator, createAuthenticator } from './proxy/authenticate.js';
import { buildHeaderPolicy, type HeaderPolicy } from './proxy/headers.js';
import type { Realms } from './proxy/respond.js';
import { buildRouteTable, type RouteTable } from './proxy/router.js';

/**
 * Everything a request reads, built once per config load and never mutated: the route table,
 * header sets, trusted-proxy list, verifiers. A reload builds a whole new Runtime and swaps the
 * reference; requests already running keep the one they started with.
 */
export interface Runtime {
  readonly loaded: LoadedConfig;
  readonly config: GatewayFileConfig;
  readonly routes: RouteTable;
  readonly headerPolicy: HeaderPolicy;
  readonly realms: Realms;
  readonly authenticator: Authenticator;
  isTrustedProxy(address: string | undefined): boolean;
  /** Backends for /readyz: name → reachable. */
  readiness(): Promise<Record<string, boolean>>;
  /** Release what this runtime owns that `next` (the runtime replacing it, if any) does not reuse. */
  close(next: Runtime | undefined): Promise<void>;
}

function buildTrustedProxies(cidrs: readonly string[]): (address: string | undefined) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    if (address === undefined) return false;
    // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d.
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  };
}

export async function buildRuntime(loaded: LoadedConfig, _previous: Runtime | undefined): Promise<Runtime> {
  const config = loaded.config;
  return {
    loaded,
    config,
    routes: buildRouteTable(config.routes),
    headerPolicy: buildHeaderPolicy(config.identity),
    realms: { oauth1: config.oauth1.realm, oauth2: config.oauth2.realm },
    authenticator: createAuthenticator({ oauth1: ABSENT_SCHEME, oauth2: ABSENT_SCHEME }),
    isTrustedProxy: buildTrustedProxies(config.trustedProxies),
    readiness: async () => ({ config: true }),
    close: async () => {},
  };
}
