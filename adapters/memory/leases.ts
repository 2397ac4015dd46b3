import { systemClock } from '../../runtime/clock.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { Clock, Lease, LeaseStore } from '../../runtime/ports.js';

export interface MemoryLeaseStoreOptions {
  /** Lease lifetime without a renewal. */
  ttlMs: number;
  /** Expiry is read from this clock at each call (no timers): a ManualClock makes tests exact. */
  clock?: Clock;
}

interface Held {
  holder: string;
  value: string;
  revision: number;
  /** Live while clock.now() < expiresAt. */
  expiresAt: number;
}

// The same key rule as the JetStream store (keys are NATS subjects there), so a key that works
// embedded works on NATS too.
const KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;
const PREFIX = /^([-/_=a-zA-Z0-9]+\.)*[-/_=a-zA-Z0-9]*$/;
const MAX_KEY_LENGTH = 1024;

function invalid(what: string, rule: string, got: unknown): never {
  throw new VigilError(ErrorCode.InvalidOption, `MemoryLeaseStore: ${what} ${rule}; got ${JSON.stringify(got)}`);
}

/**
 * The embedded lease store: one process, so leases only matter to tests and to a single node
 * that runs the multi-node code paths on its own. Expiry is computed from the clock at each call
 * (an expired lease is simply ignored, then overwritten); revisions come from one store-wide
 * counter, so, as on NATS, a later acquire or renew on any key gets a higher revision.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly leases = new Map<string, Held>();
  private revision = 0;
  private closed = false;

  constructor(opts: MemoryLeaseStoreOptions) {
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < 1) invalid('ttlMs', 'must be a positive integer', opts.ttlMs);
    this.ttlMs = opts.ttlMs;
    this.clock = opts.clock ?? systemClock;
  }

  async acquire(key: string, holder: string, value: string): Promise<number | null> {
    this.check(key, holder, value);
    if (this.live(key) !== undefined) return null;
    return this.put(key, holder, value);
  }

  async renew(key: string, holder: string, value: string, revision: number): Promise<number | null> {
    this.check(key, holder, value);
    const held = this.live(key);
    if (held === undefined || held.revision !== revision || held.holder !== holder) return null;
    return this.put(key, holder, value);
  }

  async release(key: string, revision: number): Promise<boolean> {
    this.check(key);
    const held = this.live(key);
    if (held === undefined || held.revision !== revision) return false;
    this.leases.delete(key);
    return true;
  }

  async list(prefix: string): Promise<Lease[]> {
    this.ensureOpen();
    if (typeof prefix !== 'string' || prefix.length > MAX_KEY_LENGTH || !PREFIX.test(prefix)) {
      invalid('prefix', 'must be the start of a valid key (tokens of [-/_=a-zA-Z0-9] separated by single dots), or ""', prefix);
    }
    const out: Lease[] = [];
    for (const key of this.leases.keys()) {
      if (!key.startsWith(prefix)) continue;
      const held = this.live(key);
      if (held !== undefined) out.push({ key, holder: held.holder, value: held.value, revision: held.revision });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private ensureOpen(): void {
    if (this.closed) throw new VigilError(ErrorCode.ShuttingDown, 'memory lease store is closed');
  }

  private check(key: string, holder = '', value = ''): void {
    this.ensureOpen();
    if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
      invalid('key', `must be dot-separated non-empty tokens of [-/_=a-zA-Z0-9], at most ${MAX_KEY_LENGTH} characters`, key);
    }
    if (typeof holder !== 'string') invalid('holder', 'must be a string', holder);
    if (typeof value !== 'string') invalid('value', 'must be a string', value);
  }

  /** The lease on `key` if it has not expired; an expired one is dropped on the way. */
  private live(key: string): Held | undefined {
    const held = this.leases.get(key);
    if (held === undefined) return undefined;
    if (this.clock.now() < held.expiresAt) return held;
    this.leases.delete(key);
    return undefined;
  }

  private put(key: string, holder: string, value: string): number {
    const revision = ++this.revision;
    this.leases.set(key, { holder, value, revision, expiresAt: this.clock.now() + this.ttlMs });
    return revision;
  }
}
