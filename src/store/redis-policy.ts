/**
 * The Redis nonce store is only as good as Redis's promise to keep a key until it expires. With an
 * evicting `maxmemory-policy` (allkeys-lru/lfu/random, volatile-lru/lfu/random/ttl) Redis under
 * memory pressure deletes keys early, nonce keys included (they all carry a TTL, so volatile-*
 * picks them too), and a captured request whose nonce was evicted replays with 200 (issue 13).
 * So the policy is read at start and on every reconnect (a failover may land on a differently
 * configured node), and an evicting one is refused unless `redis.allowEvictingPolicy: true`.
 * Nothing here imports ioredis (redis.ts does the reading).
 */
import { TemporarilyUnavailable } from '../errors.js';
import type { RedisConnection } from './redis.js';

const EVICTING = /^(allkeys|volatile)-/;

export function isEvictingPolicy(policy: string): boolean {
  return EVICTING.test(policy);
}

/** The refusal, naming the setting and both fixes. */
export function evictingPolicyMessage(policy: string): string {
  return (
    `Redis runs maxmemory-policy ${policy}: under memory pressure it evicts keys before they expire, ` +
    'OAuth1 nonce keys included, and a captured request whose nonce was evicted can be replayed. ' +
    'Fix: set maxmemory-policy noeviction on the Redis that holds the nonces (redis.conf, ' +
    '`CONFIG SET maxmemory-policy noeviction`, or the managed service’s parameter group), ideally a ' +
    'separate database or instance for nonces (docs/redis.md); or set redis.allowEvictingPolicy: true ' +
    'to accept the risk.'
  );
}

export type PolicyState =
  /** Not read yet (Redis unreachable so far). */
  | { readonly kind: 'unchecked' }
  /** Read and it keeps keys until they expire (noeviction). */
  | { readonly kind: 'safe'; readonly policy: string }
  /** Read and it evicts; `allowed` from redis.allowEvictingPolicy. */
  | { readonly kind: 'evicting'; readonly policy: string; readonly allowed: boolean }
  /** Neither CONFIG GET nor INFO is allowed (managed Redis): nothing to go on. */
  | { readonly kind: 'unreadable' };

export interface PolicyGuardOptions {
  readonly allowEvicting: boolean;
  readonly log?: {
    warn(fields: Record<string, unknown>, message: string): void;
    error(fields: Record<string, unknown>, message: string): void;
  };
  /** Every change of state (for the metric). */
  readonly onState?: (state: PolicyState) => void;
}

/** Thrown at start (and on reload) when the policy evicts and that was not allowed. */
export class EvictingPolicyError extends Error {
  constructor(readonly policy: string) {
    super(evictingPolicyMessage(policy));
    this.name = 'EvictingPolicyError';
  }
}

export class RedisPolicyGuard {
  readonly #redis: RedisConnection;
  readonly #options: PolicyGuardOptions;
  #state: PolicyState = { kind: 'unchecked' };
  #pending: Promise<void> | undefined;
  #saidUnreadable = false;

  constructor(redis: RedisConnection, options: PolicyGuardOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  get state(): PolicyState {
    return this.#state;
  }

  /** Nonce claims must not go to this Redis: it evicts and that was not allowed. */
  get blocked(): boolean {
    return this.#state.kind === 'evicting' && !this.#state.allowed;
  }

  /** For /readyz: the accepted risk, in words. */
  get warning(): string | undefined {
    const state = this.#state;
    if (state.kind !== 'evicting' || !state.allowed) return undefined;
    return `redis maxmemory-policy is ${state.policy}: nonces may be evicted before they expire (allowed by redis.allowEvictingPolicy)`;
  }

  /**
   * At start and on reload: throws EvictingPolicyError for a refused policy. When Redis cannot be
   * reached yet, goes on: the check runs again on connect, and claims wait for it.
   */
  async checkAtStart(): Promise<void> {
    try {
      await this.#read(false);
    } catch (error) {
      if (!(error instanceof TemporarilyUnavailable)) throw error;
    }
    if (this.#state.kind === 'evicting' && !this.#state.allowed) {
      throw new EvictingPolicyError(this.#state.policy);
    }
  }

  /** On every (re)connect. */
  recheck(): void {
    this.#pending ??= this.#read(true)
      .catch(() => undefined)
      .finally(() => {
        this.#pending = undefined;
      });
  }

  /**
   * Before each nonce claim: waits for a check under way (or starts one if the policy was never
   * read), then fails closed (503) while a refused policy is in place.
   */
  async beforeClaim(): Promise<void> {
    if (this.#state.kind === 'unchecked' && this.#pending === undefined) {
      await this.#read(true);
    } else if (this.#pending !== undefined) {
      await this.#pending;
    }
    if (this.blocked) {
      throw new TemporarilyUnavailable(new Error('redis maxmemory-policy evicts nonces; claims refused'));
    }
  }

  /** `logRefusal`: false at start, where the refusal is thrown (and printed) instead. */
  async #read(logRefusal: boolean): Promise<void> {
    const policy = await this.#redis.readMaxmemoryPolicy();
    const log = this.#options.log;
    let next: PolicyState;
    if (policy === undefined) {
      next = { kind: 'unreadable' };
      if (!this.#saidUnreadable) {
        this.#saidUnreadable = true;
        log?.warn(
          { setting: 'maxmemory-policy' },
          'cannot read redis maxmemory-policy (CONFIG GET and INFO are not allowed, as on many managed services); make sure it is noeviction, or nonces may be evicted and replayed',
        );
      }
    } else if (isEvictingPolicy(policy)) {
      next = { kind: 'evicting', policy, allowed: this.#options.allowEvicting };
    } else {
      next = { kind: 'safe', policy };
    }
    const before = this.#state;
    this.#state = next;
    if (next.kind === 'evicting' && (before.kind !== 'evicting' || before.policy !== next.policy)) {
      if (next.allowed) {
        log?.warn(
          { policy: next.policy, setting: 'redis.allowEvictingPolicy' },
          'redis maxmemory-policy evicts keys; nonces may be evicted before they expire and then replayed (allowed by redis.allowEvictingPolicy)',
        );
      } else if (logRefusal) {
        log?.error(
          { policy: next.policy },
          `${evictingPolicyMessage(next.policy)} Until then OAuth1 requests needing a nonce get 503.`,
        );
      }
    }
    if (
      before.kind !== next.kind ||
      ('policy' in before && 'policy' in next && before.policy !== next.policy)
    ) {
      this.#options.onState?.(next);
    }
  }
}
