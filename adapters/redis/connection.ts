// One Redis connection as the stores of this adapter use it (snapshots + due index, the read
// model): an owned or borrowed ioredis client, the first connect awaited under each operation's
// deadline, every failure surfaced as `store_unavailable` naming the store and the operation.
import { Redis, type RedisOptions } from 'ioredis';
import { ErrorCode, VigilError } from '../../runtime/errors.js';

export const DEFAULT_TIMEOUT_MS = 2000;

/** The ioredis options for a store-owned client; also what a caller should give its own client. */
export function snapshotClientOptions(timeoutMs = DEFAULT_TIMEOUT_MS): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: timeoutMs,
    // 50, 100, ... ms, capped at 500 ms: a restarted Redis is back in use within half a second.
    retryStrategy: (times) => Math.min(times * 50, 500),
  };
}

/** Refuses a key prefix without a `{hash tag}`: a cluster's keys must share one Redis Cluster slot. */
export function checkHashTag(what: string, prefix: string): void {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  if (open < 0 || close <= open + 1) {
    throw new VigilError(
      ErrorCode.InvalidOption,
      `${what} prefix ${JSON.stringify(prefix)} needs a non-empty {hash tag} (e.g. 'vigil:{cluster}:') so a cluster's keys share one Redis Cluster slot`,
    );
  }
}

export class RedisConnection {
  readonly client: Redis;
  readonly timeoutMs: number;
  private readonly owned: boolean;
  /** The first connect of an owned client; operations wait for it (under their deadline). */
  private connecting: Promise<void> | undefined;
  private closed = false;

  /** `what` names the store in errors ("snapshot", "read model"). */
  constructor(
    private readonly what: string,
    client: Redis | string,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ) {
    if (!(timeoutMs > 0)) throw new VigilError(ErrorCode.InvalidOption, `${what} timeoutMs must be > 0, got ${timeoutMs}`);
    this.timeoutMs = timeoutMs;
    if (typeof client === 'string') {
      this.owned = true;
      this.client = new Redis(client, snapshotClientOptions(timeoutMs));
      // Without a listener ioredis prints every connection error; failures reach callers as
      // rejected operations instead.
      this.client.on('error', () => {});
      // A failed first connect is retried by ioredis' retryStrategy; operations fail fast
      // meanwhile (no offline queue).
      const done = (): void => {
        this.connecting = undefined;
      };
      this.connecting = this.client.connect().then(done, done);
    } else {
      this.owned = false;
      this.client = client;
    }
  }

  /** Runs one Redis operation: waits for the first connect, bounds it, wraps its errors. */
  async run<T>(op: string, fn: () => Promise<T>, deadlineMs: number = this.timeoutMs): Promise<T> {
    if (this.closed) throw new VigilError(ErrorCode.StoreUnavailable, `${this.what} ${op}: store is closed`);
    const started = Date.now();
    try {
      return await withDeadline(
        (async () => {
          if (this.connecting) await this.connecting;
          return fn();
        })(),
        deadlineMs,
      );
    } catch (err) {
      // A missed deadline is the store being unavailable to the caller (wrapped below, with the
      // deadline as its cause); other VigilErrors already say what happened.
      if (err instanceof VigilError && !(err instanceof DeadlineError)) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new VigilError(
        ErrorCode.StoreUnavailable,
        `${this.what} ${op} failed after ${Date.now() - started} ms (redis ${this.client.status}): ${why}`,
        { cause: err },
      );
    }
  }

  /** Closes an owned client (a borrowed one is left open); later operations are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.owned) return;
    await this.connecting;
    if (this.client.status === 'end') return;
    try {
      // QUIT lets pending replies arrive first; a down server gets disconnect() instead.
      if (this.client.status === 'ready') await withDeadline(this.client.quit(), this.timeoutMs);
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
  }
}

class DeadlineError extends VigilError {
  constructor(ms: number) {
    super(ErrorCode.Timeout, `no reply within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), ms);
  });
  // race() subscribes to `p`, so its late rejection after the deadline is handled, not leaked.
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Pipeline / EXEC replies: the results, or the first command error thrown. */
export function unwrap(res: [error: Error | null, result: unknown][]): unknown[] {
  const out: unknown[] = [];
  for (const [err, val] of res) {
    if (err) throw err;
    out.push(val);
  }
  return out;
}
