// What every NATS-backed port needs around its calls: a deadline on each, waiting out a
// reconnect instead of sending into the void, and a bounded close. Shared by the JetStream
// event log and the lease store.
import { Events, type NatsConnection, type Status } from 'nats';

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code !== undefined && code !== '' && String(code) !== err.message ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}

/** Settles like `p`, or rejects with a TIMEOUT error after `ms` (p's late outcome is ignored). */
export function bounded<T>(p: Promise<T>, ms: number, why = `no reply within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(why), { code: 'TIMEOUT' })), ms);
  });
  // Only to mark p handled when the timeout wins: the race still rejects with p's error otherwise.
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Follows one connection's disconnect/reconnect events. The nats client drops what is published
 * while it is disconnected (its outbound buffer is reset on every reconnect attempt), so a
 * request sent then would only time out: `call` waits for the reconnect first, within the same
 * budget as the request itself.
 */
export class ConnectionGuard {
  private connected = true;
  private stopped = false;
  private readonly reconnected = new Set<() => void>();
  private readonly statusFeed: AsyncIterable<Status> & { stop?: () => void };

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.statusFeed = nc.status();
    void this.follow();
  }

  /**
   * Runs `request` within `timeoutMs` overall (it gets what is left of the budget). Errors come
   * out as they are (the caller names them); after `stop()`, `onStopped` decides what to throw.
   */
  async call<T>(request: (timeoutMs: number) => Promise<T>, onStopped: () => void): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    if (this.nc.isClosed()) throw new Error('the NATS connection is closed');
    if (!this.connected) {
      let wake!: () => void;
      const reconnect = new Promise<void>((resolve) => (wake = resolve));
      this.reconnected.add(wake);
      try {
        await bounded(reconnect, this.timeoutMs, `no connection to NATS for ${this.timeoutMs} ms`);
      } finally {
        this.reconnected.delete(wake);
      }
      if (this.stopped) onStopped();
    }
    const left = Math.max(1, deadline - Date.now());
    return bounded(request(left), left);
  }

  /** Stops following; calls waiting for a reconnect go on at once (and see `onStopped`). */
  stop(): void {
    this.stopped = true;
    this.statusFeed.stop?.();
    for (const wake of this.reconnected) wake();
  }

  /** Drains and closes a connection the port owns; a server that is down cannot stall it. */
  async closeConnection(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      // drain() waits for a reconnect while the server is down: bound it, then close.
      await bounded(this.nc.drain(), this.timeoutMs);
    } catch {
      // closing anyway
    } finally {
      // Best-effort close at shutdown: the connection carries nothing unsent by now (drained above or given up).
      if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    }
  }

  private async follow(): Promise<void> {
    try {
      for await (const s of this.statusFeed) {
        if (s.type === Events.Disconnect) {
          this.connected = false;
        } else if (s.type === Events.Reconnect) {
          this.connected = true;
          for (const wake of this.reconnected) wake();
        }
      }
    } catch {
      // the feed ends with the connection
    }
  }
}
