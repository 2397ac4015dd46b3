import type { Clock } from './ports.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A node must be able to exit while a tick timer is pending.
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/**
 * A clock the test moves by hand. Timers fire synchronously inside `advance`, in due order,
 * so a test of passivation or timer wheels is deterministic and takes no wall time.
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
  setTimeout(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
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
