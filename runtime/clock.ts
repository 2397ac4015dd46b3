// setImmediate from node:timers, not the global: Deno (which runs the runtime too, see
// test/fixtures/deno-smoke.ts) provides it there.
import { clearImmediate, setImmediate } from 'node:timers';
import type { Clock } from './ports.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A node must be able to exit while a tick timer is pending.
    t.unref?.();
    return () => clearTimeout(t);
  },
  monotonic: () => performance.now(),
  defer: (fn) => {
    const t = setImmediate(fn);
    return () => clearImmediate(t);
  },
};

/**
 * A clock the test moves by hand. Timers fire synchronously inside `advance`, in due order,
 * so a test of passivation or timer wheels is deterministic and takes no wall time. A deferred
 * function is a timer due now: the next `advance` (`advance(0)` will do) runs it. `monotonic`
 * is `now`: nothing moves this clock backwards.
 */
export class ManualClock implements Clock {
  private t: number;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }
  defer(fn: () => void): () => void {
    return this.setTimeout(fn, 0);
  }
  /** Timers and deferred functions not yet run. */
  get pending(): number {
    return this.timers.length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.timers.length; i++) {
        const tm = this.timers[i]!;
        if (tm.at <= end && (best < 0 || tm.at < this.timers[best]!.at)) best = i;
      }
      if (best < 0) break;
      const [tm] = this.timers.splice(best, 1);
      this.t = Math.max(this.t, tm!.at);
      tm!.fn();
    }
    this.t = end;
  }
}
