/**
 * The LeaseStore on a NATS JetStream KV bucket (DESIGN.md decision 2: key-group slots and node
 * membership for several nodes).
 *
 * One KV key per lease, its value the UTF-8 JSON `{"holder": ..., "value": ...}` so list() can
 * say who holds what. The bucket is created with `history: 1` (one message per key: a renewal
 * replaces the previous one) and a bucket-level `ttl` (the stream's `max_age`) equal to the
 * store's `ttlMs`: every write restarts a key's age, so a lease that is not renewed within ttlMs
 * is removed by the server itself and nobody has to decide that its holder is dead.
 *
 * Revisions are KV revisions, i.e. stream sequences of the bucket's stream. They are shared by
 * every key and only ever grow (a delete marker takes one too), so the revision returned by an
 * acquire or a renew is above every revision handed out before it, on any key: that is what
 * makes it a fencing token (SnapshotStore.fence). Two consequences for operators, both because a
 * stream that starts over starts its sequences at 1 again, below tokens already written into the
 * snapshot store (whose owners would then fence out every new holder):
 *  - the bucket uses file storage, never memory storage (a memory stream loses its sequence on a
 *    server restart); open() refuses an existing bucket with memory storage;
 *  - never delete and recreate the bucket while snapshot-store fences from it exist.
 *
 * Operations (each one compare-and-set on the key's last revision, so no read-then-write race):
 *  - acquire: `kv.create` — publish with "expected last subject sequence 0", or, when the last
 *    operation on the key was a delete, an update at that delete's revision. "Wrong last
 *    sequence" means somebody holds it: null.
 *  - renew: read the key's last entry (it must be a live PUT at `revision` by `holder`), then
 *    `kv.update` at `revision`. The read is needed only for the holder check; the update's CAS
 *    makes the pair atomic (whatever happened between them changed the revision).
 *  - release: the same read (only a live PUT at `revision` counts as held), then a delete marker
 *    with "expected last subject sequence = revision".
 *  - list: an ordered consumer over the last message per key (`kv.watch` until initialised),
 *    filtered on the longest whole-token prefix as a subject wildcard and then on the exact
 *    string prefix here; delete markers are dropped.
 * Reads go to the stream leader, not through direct get (allow_direct off for this view): a
 * direct get may be answered by a lagging replica, and a renew that read an older revision
 * would wrongly report the lease lost.
 *
 * Expiry timing. The server stamps each message when it stores it and removes it from its own
 * timer once max_age has passed, so ttlMs is a lower bound, never cut short. Measured on
 * nats-server 2.9.10 (loopback, polling acquire every few ms): a key written and then left
 * alone was acquirable again 1-14 ms (median 2-4 ms) after ttlMs counted from the request that
 * wrote it, for ttl 200 ms, 1 s and 3 s, after renewals as well as after a lone acquire, and with
 * 200 other keys being renewed meanwhile. Until the server removes it, an expired-by-the-clock
 * lease is still live in every respect (acquire fails, renew succeeds, list shows it): the store
 * never disagrees with itself. The server refuses a max_age under 100 ms, hence the minimum.
 *
 * An existing bucket with another ttl is refused, not updated: ttlMs is a cluster-wide
 * protocol constant (every node renews at some fraction of it), so a node started with a new
 * value must not silently shorten the lifetime of leases that running nodes renew on the old
 * schedule, nor be silently bound to a lifetime it did not ask for. Change it deliberately
 * (edit the stream's max_age with the nats CLI, or start over with a fresh bucket — see above).
 *
 * Timeouts. Every call is bounded by `timeoutMs` (default 2 s) and fails with VigilError
 * `store_unavailable`; a connection opened here reconnects forever, and a call made while it is
 * disconnected waits for the reconnect within the same budget. A call that timed out may still
 * have taken effect: an acquire or renew then leaves a lease held by the caller at a revision
 * it does not know (list() shows it; it expires after ttlMs if left alone).
 */
import {
  connect,
  nanos,
  StorageType,
  type JetStreamManager,
  type KV,
  type KvEntry,
  type NatsConnection,
  type QueuedIterator,
  type StreamInfo,
} from 'nats';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { Lease, LeaseStore } from '../../runtime/ports.js';
import { bounded, ConnectionGuard, errorText } from './guard.js';

export const DEFAULT_LEASE_TIMEOUT_MS = 2000;
/** nats-server refuses a stream max_age below 100 ms. */
export const MIN_LEASE_TTL_MS = 100;
/** max_age is in nanoseconds: above this, ttlMs * 1e6 is no longer an exact number here. */
export const MAX_LEASE_TTL_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1e6);

export interface JetStreamLeaseStoreOptions {
  /** Server URL(s) to connect to; the store owns (and on close drains) that connection. */
  servers?: string | string[];
  /** Or an existing connection, left open by close(). */
  nc?: NatsConnection;
  /** KV bucket name ([-_a-zA-Z0-9]); created (file storage, history 1) if missing. */
  bucket: string;
  /** Lease lifetime without a renewal: the bucket's ttl. An existing bucket must have the same. */
  ttlMs: number;
  /** Bound on every call. Default 2000 ms. */
  timeoutMs?: number;
}

// A KV key is a NATS subject: dot-separated non-empty tokens. nats.js accepts `[-/=.\w]` (and
// lets "a..b" through to the server, which rejects it); the same rule holds in the memory store.
const KEY = /^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$/;
/** A prefix of a valid key: whole tokens, each followed by a dot, then a partial token. */
const PREFIX = /^([-/_=a-zA-Z0-9]+\.)*[-/_=a-zA-Z0-9]*$/;
const BUCKET = /^[-_a-zA-Z0-9]+$/;
const MAX_KEY_LENGTH = 1024;
const WRONG_LAST_SEQUENCE = 10071;
const STREAM_NOT_FOUND = 10059;

function invalid(what: string, rule: string, got: unknown): never {
  throw new VigilError(ErrorCode.InvalidOption, `JetStreamLeaseStore: ${what} ${rule}; got ${JSON.stringify(got)}`);
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length > MAX_KEY_LENGTH || !KEY.test(key)) {
    invalid('key', `must be dot-separated non-empty tokens of [-/_=a-zA-Z0-9], at most ${MAX_KEY_LENGTH} characters`, key);
  }
}

function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix.length > MAX_KEY_LENGTH || !PREFIX.test(prefix)) {
    invalid('prefix', 'must be the start of a valid key (tokens of [-/_=a-zA-Z0-9] separated by single dots), or ""', prefix);
  }
}

function checkStrings(holder: unknown, value: unknown): void {
  if (typeof holder !== 'string') invalid('holder', 'must be a string', holder);
  if (typeof value !== 'string') invalid('value', 'must be a string', value);
}

/** A revision this store can have handed out (stream sequences start at 1). */
function isRevision(revision: unknown): revision is number {
  return Number.isSafeInteger(revision) && (revision as number) >= 1;
}

function isWrongLastSequence(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: unknown }; message?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  return e.api_error?.err_code === WRONG_LAST_SEQUENCE || (typeof e.message === 'string' && /wrong last sequence/i.test(e.message));
}

function isStreamNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: unknown } } | null;
  return e !== null && typeof e === 'object' && e.api_error?.err_code === STREAM_NOT_FOUND;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encode(holder: string, value: string): Uint8Array {
  return encoder.encode(JSON.stringify({ holder, value }));
}

/** The `{holder, value}` of a PUT entry; undefined when it is not one of ours. */
function decode(entry: KvEntry): { holder: string; value: string } | undefined {
  try {
    const v = JSON.parse(decoder.decode(entry.value)) as unknown;
    if (v === null || typeof v !== 'object') return undefined;
    const { holder, value } = v as { holder?: unknown; value?: unknown };
    return typeof holder === 'string' && typeof value === 'string' ? { holder, value } : undefined;
  } catch {
    return undefined;
  }
}

export class JetStreamLeaseStore implements LeaseStore {
  readonly ttlMs: number;
  readonly bucket: string;
  private readonly timeoutMs: number;
  private closed = false;
  private readonly guard: ConnectionGuard;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly kv: KV,
    opts: { bucket: string; ttlMs: number; timeoutMs: number },
  ) {
    this.bucket = opts.bucket;
    this.ttlMs = opts.ttlMs;
    this.timeoutMs = opts.timeoutMs;
    this.guard = new ConnectionGuard(nc, opts.timeoutMs);
  }

  /** Connects (unless given `nc`), creates or binds the bucket, and returns the store. */
  static async open(opts: JetStreamLeaseStoreOptions): Promise<JetStreamLeaseStore> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_LEASE_TIMEOUT_MS;
    if (typeof opts.bucket !== 'string' || !BUCKET.test(opts.bucket)) {
      invalid('bucket', 'must be a non-empty name of [-_a-zA-Z0-9]', opts.bucket);
    }
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < MIN_LEASE_TTL_MS || opts.ttlMs > MAX_LEASE_TTL_MS) {
      invalid('ttlMs', `must be an integer in ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS} (the server's smallest max_age is 100 ms)`, opts.ttlMs);
    }
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) invalid('timeoutMs', 'must be a positive integer', timeoutMs);
    if ((opts.nc === undefined) === (opts.servers === undefined)) invalid('servers/nc', 'exactly one must be given', null);

    const owns = opts.nc === undefined;
    let nc: NatsConnection;
    try {
      nc =
        opts.nc ??
        (await connect({
          servers: opts.servers,
          name: `vigil-leases-${opts.bucket}`,
          timeout: timeoutMs,
          // Leases must ride out broker restarts: reconnect forever; every call stays bounded
          // by timeoutMs meanwhile (and a lease simply expires if its holder cannot renew).
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          pingInterval: 10_000,
        }));
    } catch (err) {
      throw unavailable(`connect to ${String(opts.servers)}`, err);
    }
    try {
      const open = async (): Promise<KV> => {
        const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
        const js = nc.jetstream({ timeout: timeoutMs });
        // views.kv creates the bucket, or binds to an existing one without looking at its
        // config, so the config is checked afterwards (also covers another node creating it
        // between the two steps).
        const kv = await js.views.kv(opts.bucket, {
          ttl: opts.ttlMs,
          history: 1,
          storage: StorageType.File,
          replicas: 1,
          allow_direct: false,
          description: 'Vigil leases: key-group slots and node membership',
          timeout: timeoutMs,
        });
        checkBucket(await bucketInfo(jsm, opts.bucket), opts.bucket, opts.ttlMs);
        return kv;
      };
      const kv = await bounded(open(), timeoutMs);
      return new JetStreamLeaseStore(nc, owns, kv, { bucket: opts.bucket, ttlMs: opts.ttlMs, timeoutMs });
    } catch (err) {
      // Closing a connection that never got to carry anything: its failure adds nothing to the one thrown.
      if (owns) await nc.close().catch(() => undefined);
      throw unavailable(`open bucket ${opts.bucket}`, err);
    }
  }

  async acquire(key: string, holder: string, value: string): Promise<number | null> {
    this.ensureOpen();
    checkKey(key);
    checkStrings(holder, value);
    const data = encode(holder, value);
    return this.call('acquire', async () => {
      try {
        return await this.kv.create(key, data);
      } catch (err) {
        if (isWrongLastSequence(err)) return null;
        throw err;
      }
    });
  }

  async renew(key: string, holder: string, value: string, revision: number): Promise<number | null> {
    this.ensureOpen();
    checkKey(key);
    checkStrings(holder, value);
    if (!isRevision(revision)) return null;
    const data = encode(holder, value);
    return this.call('renew', async () => {
      const e = await this.kv.get(key);
      if (e === null || e.operation !== 'PUT' || e.revision !== revision || decode(e)?.holder !== holder) return null;
      try {
        return await this.kv.update(key, data, revision);
      } catch (err) {
        if (isWrongLastSequence(err)) return null;
        throw err;
      }
    });
  }

  async release(key: string, revision: number): Promise<boolean> {
    this.ensureOpen();
    checkKey(key);
    if (!isRevision(revision)) return false;
    return this.call('release', async () => {
      // Only a live PUT at `revision` is a held lease (not, say, the revision of a delete marker).
      const e = await this.kv.get(key);
      if (e === null || e.operation !== 'PUT' || e.revision !== revision) return false;
      try {
        await this.kv.delete(key, { previousSeq: revision });
        return true;
      } catch (err) {
        if (isWrongLastSequence(err)) return false;
        throw err;
      }
    });
  }

  async list(prefix: string): Promise<Lease[]> {
    this.ensureOpen();
    checkPrefix(prefix);
    // The subject filter can only cut at token boundaries: "kg.1" lists under "kg.>" and the
    // string prefix does the rest ("kg.1" must match "kg.10" and "kg.1.x" alike).
    const dot = prefix.lastIndexOf('.');
    const filter = dot < 0 ? '>' : `${prefix.slice(0, dot)}.>`;
    const entries = await this.call('list', (ms) => this.lastPerKey(filter, ms));
    const out: Lease[] = [];
    for (const e of entries.values()) {
      if (e.operation !== 'PUT' || !e.key.startsWith(prefix)) continue;
      const d = decode(e);
      if (d === undefined) {
        throw new VigilError(ErrorCode.Internal, `JetStreamLeaseStore: bucket ${this.bucket} holds an undecodable value under ${e.key}`);
      }
      out.push({ key: e.key, holder: d.holder, value: d.value, revision: e.revision });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.guard.stop();
    if (this.ownsConnection) await this.guard.closeConnection();
  }

  private ensureOpen(): void {
    if (this.closed) throw new VigilError(ErrorCode.ShuttingDown, `jetstream lease store ${this.bucket} is closed`);
  }

  /** Runs one operation within `timeoutMs` overall, waiting out a reconnect (see ConnectionGuard). */
  private async call<T>(op: string, request: (timeoutMs: number) => Promise<T>): Promise<T> {
    try {
      return await this.guard.call(request, () => this.ensureOpen());
    } catch (err) {
      throw unavailable(`${op} (bucket ${this.bucket})`, err);
    }
  }

  /** The last entry (PUT or delete marker) of every key under `filter`, within `ms`. */
  private async lastPerKey(filter: string, ms: number): Promise<Map<string, KvEntry>> {
    const last = new Map<string, KvEntry>();
    let iter: QueuedIterator<KvEntry> | undefined;
    let initialized = false;
    let timedOut = false;
    // Stops the watch (and its consumer) if the caller's budget runs out first.
    const timer = setTimeout(() => {
      timedOut = true;
      iter?.stop();
    }, ms);
    try {
      iter = await this.kv.watch({
        key: filter,
        // Queued after the last entry that existed when the watch started (or called at once
        // for an empty filter): everything up to now has been seen.
        initializedFn: () => {
          initialized = true;
          iter?.stop();
        },
      });
      if (initialized || timedOut) iter.stop();
      for await (const e of iter) {
        const seen = last.get(e.key);
        if (seen === undefined || e.revision > seen.revision) last.set(e.key, e);
      }
    } finally {
      clearTimeout(timer);
      iter?.stop();
    }
    if (!initialized) throw Object.assign(new Error(`no complete listing within ${ms} ms`), { code: 'TIMEOUT' });
    return last;
  }
}

function unavailable(op: string, err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError(ErrorCode.StoreUnavailable, `jetstream lease store: ${op} failed: ${errorText(err)}`, { cause: err });
}

async function bucketInfo(jsm: JetStreamManager, bucket: string): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(`KV_${bucket}`);
  } catch (err) {
    if (isStreamNotFound(err)) throw new Error(`bucket ${bucket} vanished right after it was created or bound`, { cause: err });
    throw err;
  }
}

/** An existing bucket must give leases the lifetime asked for and keep its sequence (header). */
function checkBucket(info: StreamInfo, bucket: string, ttlMs: number): void {
  const cfg = info.config;
  if (cfg.max_age !== nanos(ttlMs)) {
    throw new VigilError(
      ErrorCode.InvalidOption,
      `JetStreamLeaseStore: bucket ${bucket} exists with ttl ${cfg.max_age / 1e6} ms, not ttlMs ${ttlMs}; ` +
        'every node must use the bucket\'s ttl (change it deliberately, not by starting a node with another ttlMs)',
    );
  }
  if (cfg.storage !== StorageType.File) {
    throw new VigilError(
      ErrorCode.InvalidOption,
      `JetStreamLeaseStore: bucket ${bucket} exists with ${cfg.storage} storage, not file: its revisions (fencing tokens) ` +
        'would start over at 1 after a server restart',
    );
  }
}

