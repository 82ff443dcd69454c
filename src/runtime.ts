import { BlockList, isIP } from 'node:net';
import type { LoadedConfig } from './config/load.js';
import type { GatewayFileConfig } from './config/schema.js';
import { ABSENT_SCHEME, type Authenticator, createAuthenticator } from './proxy/authenticate.js';
import { buildHeaderPolicy, type HeaderPolicy } from './proxy/headers.js';
import type { Realms } from './proxy/respond.js';
import { buildRouteTable, type RouteTable } from './proxy/router.js';
import { createOAuth1Scheme } from './proxy/schemes.js';
import { FileCredentialStore } from './store/file.js';
import { MemoryNonceStore } from './store/memory.js';
import type { CredentialStore, NonceStore } from './store/types.js';

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
  readonly credentials: CredentialStore;
  /** Kept across reloads when its settings are unchanged: a reload must not reopen a replay window. */
  readonly nonces: NonceStore;
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

export interface RuntimeOptions {
  /** Clock for timestamp windows and token expiry (tests inject one). */
  readonly now?: () => number;
}

export async function buildRuntime(
  loaded: LoadedConfig,
  previous: Runtime | undefined,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const config = loaded.config;
  const now = options.now ?? Date.now;
  const credentials: CredentialStore = new FileCredentialStore(
    loaded.credentials ?? { clients: [], tokens: [], bearerTokens: [] },
  );
  const nonces: NonceStore =
    previous !== undefined && previous.config.oauth1.nonceStore === config.oauth1.nonceStore
      ? previous.nonces
      : new MemoryNonceStore();
  const oauth1 = createOAuth1Scheme(config, { credentials, nonces, now });
  return {
    credentials,
    nonces,
    loaded,
    config,
    routes: buildRouteTable(config.routes),
    headerPolicy: buildHeaderPolicy(config.identity),
    realms: { oauth1: config.oauth1.realm, oauth2: config.oauth2.realm },
    authenticator: createAuthenticator({ oauth1, oauth2: ABSENT_SCHEME }),
    isTrustedProxy: buildTrustedProxies(config.trustedProxies),
    readiness: async () => ({ config: true }),
    close: async (next) => {
      if (next?.nonces !== nonces) await nonces.close();
      await credentials.close();
    },
  };
}
