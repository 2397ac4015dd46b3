import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerWheel, type WheelEntry } from '../../runtime/timer-wheel.js';

interface Fired<T> {
  payload: T;
  at: number;
  now: number;
}

/** Advances and returns what fired, in firing order. */
function step<T>(w: TimerWheel<T>, now: number, log: Fired<T>[] = []): Fired<T>[] {
  const out: Fired<T>[] = [];
  w.advance(now, (payload, at) => {
    const f = { payload, at, now };
    out.push(f);
    log.push(f);
  });
  return out;
}

const tickOf = (at: number, tickMs: number) => Math.floor(at / tickMs);

function expectTickOrder(fired: readonly Fired<unknown>[], tickMs: number): void {
  for (let i = 1; i < fired.length; i++) {
    expect(tickOf(fired[i]!.at, tickMs)).toBeGreaterThanOrEqual(tickOf(fired[i - 1]!.at, tickMs));
  }
}

describe('TimerWheel', () => {
  it('rejects a slot count that is not a power of two', () => {
    expect(() => new TimerWheel(10, 0, 100)).toThrow(RangeError);
    expect(() => new TimerWheel(10, 0, 128)).not.toThrow();
  });

  it('fires every entry once, in tick order, at the first advance that reaches it, across many turns', () => {
    const tickMs = 10;
    const w = new TimerWheel<number>(tickMs, 0, 64); // one turn = 640 ms, the entries span ~8 turns
    const ats: number[] = [];
    for (let i = 0; i < 500; i++) ats.push((i * 7919) % 5000);
    ats.forEach((at, i) => w.schedule(at, i));
    expect(w.size).toBe(500);
    const fired: Fired<number>[] = [];
    let prev = -1;
    for (let now = 0; now <= 5100; now += 7) {
      for (const f of step(w, now, fired)) {
        expect(f.at).toBe(ats[f.payload]);
        expect(f.at).toBeLessThanOrEqual(now); // not early
        expect(f.at).toBeGreaterThan(prev); // not late: the previous advance had not reached it
      }
      prev = now;
    }
    expect(fired.map((f) => f.payload).sort((a, b) => a - b)).toEqual(ats.map((_, i) => i));
    expectTickOrder(fired, tickMs);
    expect(w.size).toBe(0);
  });

  it('does not fire an entry more than one turn away when its slot comes round earlier', () => {
    const w = new TimerWheel<string>(10, 0, 8); // one turn = 80 ms
    w.schedule(1005, 'far');
    for (let now = 0; now < 1005; now += 5) expect(step(w, now)).toEqual([]);
    expect(step(w, 1005)).toEqual([{ payload: 'far', at: 1005, now: 1005 }]);
  });

  it('does not fire early inside the tick that holds the deadline', () => {
    const w = new TimerWheel<string>(10, 0);
    w.schedule(105, 'x');
    expect(step(w, 100)).toEqual([]);
    expect(step(w, 104)).toEqual([]);
    expect(step(w, 105)).toEqual([{ payload: 'x', at: 105, now: 105 }]);
    expect(step(w, 200)).toEqual([]);
  });

  it('works at epoch-millisecond times, where tick numbers exceed 32 bits', () => {
    const t0 = 1_730_000_000_000;
    const w = new TimerWheel<number>(1, t0, 16);
    for (let i = 0; i < 50; i++) w.schedule(t0 + i * 3, i);
    const fired: Fired<number>[] = [];
    for (let now = t0; now <= t0 + 200; now++) step(w, now, fired);
    expect(fired.map((f) => f.payload)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (const f of fired) expect(f.now).toBe(f.at);
  });

  describe('reschedule', () => {
    it('to a later time fires at the new time, not the old one', () => {
      const w = new TimerWheel<string>(10, 0, 16);
      const e = w.schedule(100, 'x');
      w.reschedule(e, 500); // more than a turn (160 ms) later
      for (let now = 0; now < 500; now += 10) expect(step(w, now)).toEqual([]);
      expect(step(w, 500)).toEqual([{ payload: 'x', at: 500, now: 500 }]);
      expect(step(w, 2000)).toEqual([]);
      expect(w.size).toBe(0);
    });

    it('to a later time keeps deadline order when one advance passes both deadlines', () => {
      // The entry still sits in its old slot; it must not fire from there ahead of entries
      // whose deadlines come before its new one.
      const w = new TimerWheel<string>(10, 0, 64);
      const a = w.schedule(10, 'a');
      w.schedule(30, 'b');
      w.reschedule(a, 55);
      w.schedule(40, 'c');
      expect(step(w, 100).map((f) => [f.payload, f.at])).toEqual([['b', 30], ['c', 40], ['a', 55]]);
    });

    it('to an earlier time fires at the earlier time, exactly once', () => {
      const w = new TimerWheel<string>(10, 0, 16);
      const e = w.schedule(900, 'x');
      w.reschedule(e, 100);
      const fired: Fired<string>[] = [];
      for (let now = 0; now <= 2000; now += 10) step(w, now, fired);
      expect(fired).toEqual([{ payload: 'x', at: 100, now: 100 }]);
      expect(w.size).toBe(0);
    });

    it('to a time already past fires on the next advance', () => {
      const w = new TimerWheel<string>(10, 0, 16);
      const e = w.schedule(900, 'x');
      step(w, 300);
      w.reschedule(e, 50);
      expect(step(w, 301)).toEqual([{ payload: 'x', at: 50, now: 301 }]);
    });

    it('back and forth many times leaves one entry that fires once at the last deadline', () => {
      const w = new TimerWheel<string>(10, 0, 8);
      const e = w.schedule(400, 'x');
      // Alternating far and near deadlines leaves stale copies in many slots; none may fire.
      let last = 0;
      for (let i = 0; i < 50; i++) w.reschedule(e, (last = i % 2 ? 30 + i : 700 - i));
      expect(last).toBe(79);
      const fired: Fired<string>[] = [];
      for (let now = 0; now <= 1500; now += 5) step(w, now, fired);
      expect(fired).toEqual([{ payload: 'x', at: 79, now: 80 }]);
    });

    it('re-arms an entry that already fired or was cancelled', () => {
      const w = new TimerWheel<string>(10, 0, 8);
      const e = w.schedule(20, 'x');
      expect(step(w, 20)).toHaveLength(1);
      expect(w.size).toBe(0);
      w.reschedule(e, 300);
      expect(w.size).toBe(1);
      expect(step(w, 299)).toEqual([]);
      expect(step(w, 300)).toEqual([{ payload: 'x', at: 300, now: 300 }]);

      const c = w.schedule(400, 'y');
      w.cancel(c);
      step(w, 350); // lets the wheel sweep the cancelled entry out of its slot
      w.reschedule(c, 600);
      expect(w.size).toBe(1);
      expect(step(w, 599)).toEqual([]);
      expect(step(w, 600)).toEqual([{ payload: 'y', at: 600, now: 600 }]);
      expect(w.size).toBe(0);
    });
  });

  it('cancel prevents firing and keeps size right, even when repeated', () => {
    const w = new TimerWheel<string>(10, 0, 16);
    const a = w.schedule(100, 'a');
    w.schedule(200, 'b');
    const c = w.schedule(300, 'c');
    expect(w.size).toBe(3);
    w.cancel(a);
    w.cancel(a);
    expect(w.size).toBe(2);
    w.reschedule(c, 150);
    w.cancel(c); // cancels both the moved entry and the stale copy left in its old slot
    expect(w.size).toBe(1);
    expect(step(w, 1000).map((f) => f.payload)).toEqual(['b']);
    expect(w.size).toBe(0);
    w.cancel(a);
    expect(w.size).toBe(0);
  });

  it('fires everything due after a clock jump of many turns, in deadline order', () => {
    const tickMs = 10;
    const w = new TimerWheel<number>(tickMs, 0, 16); // one turn = 160 ms
    const ats: number[] = [];
    for (let i = 0; i < 300; i++) ats.push((i * 104729) % 30_000);
    ats.forEach((at, i) => w.schedule(at, i));
    const fired = step(w, 15_000);
    const due = ats.map((at, i) => [at, i] as const).filter(([at]) => at <= 15_000);
    expect(fired.map((f) => f.payload).sort((a, b) => a - b)).toEqual(due.map(([, i]) => i));
    expectTickOrder(fired, tickMs);
    expect(w.size).toBe(300 - due.length);
    const rest = step(w, 100_000);
    expect(rest).toHaveLength(300 - due.length);
    expectTickOrder(rest, tickMs);
    expect(w.size).toBe(0);
  });

  describe('entries scheduled from a fire callback', () => {
    it('fire at their own deadline when it is later', () => {
      const w = new TimerWheel<string>(10, 0, 16);
      const fired: Fired<string>[] = [];
      const fire = (p: string, at: number) => {
        fired.push({ payload: p, at, now: -1 });
        if (p === 'first') w.schedule(at + 35, 'second');
      };
      w.schedule(50, 'first');
      w.advance(60, fire);
      expect(fired.map((f) => f.payload)).toEqual(['first']);
      w.advance(84, fire);
      expect(fired.map((f) => f.payload)).toEqual(['first']);
      w.advance(85, fire);
      expect(fired.map((f) => f.payload)).toEqual(['first', 'second']);
    });

    it('fire within the same advance when already due, even in a slot the advance has passed', () => {
      const w = new TimerWheel<string>(10, 0, 64);
      const fired: string[] = [];
      const fire = (p: string) => {
        fired.push(p);
        if (p === 'late') w.schedule(20, 'past'); // slot 2 was walked before slot 5
      };
      w.schedule(50, 'late');
      w.advance(100, fire);
      expect(fired).toEqual(['late', 'past']);
      expect(w.size).toBe(0);
    });

    it('re-arm themselves periodically, across a jump of many turns', () => {
      const w = new TimerWheel<string>(10, 0, 8);
      const ats: number[] = [];
      const e: WheelEntry<string> = w.schedule(10, 'tick');
      const fire = (_p: string, at: number) => {
        ats.push(at);
        w.reschedule(e, at + 10);
      };
      w.advance(1000, fire);
      expect(ats).toEqual(Array.from({ length: 100 }, (_, i) => (i + 1) * 10));
      expect(w.size).toBe(1);
      w.advance(1009, fire);
      expect(ats).toHaveLength(100);
      w.advance(1010, fire);
      expect(ats).toHaveLength(101);
    });

    it('can cancel another entry that is due in the same advance', () => {
      const w = new TimerWheel<string>(10, 0, 16);
      const fired: string[] = [];
      let victim: WheelEntry<string> | undefined;
      w.schedule(10, 'killer');
      victim = w.schedule(20, 'victim');
      w.advance(500, (p) => {
        fired.push(p);
        if (p === 'killer' && victim) w.cancel(victim);
        victim = undefined;
      });
      expect(fired).toEqual(['killer']);
      expect(w.size).toBe(0);
    });
  });

  describe('against a naive reference', () => {
    // The reference keeps a flat list and fires every armed entry with at <= now. The wheel only
    // promises order between ticks (entries inside one tick fire in slot order), and an entry
    // armed with a deadline already past counts as due in the tick it was armed in; so the fired
    // sets are compared exactly and the firing order by that effective tick.
    type Op =
      | { op: 'schedule'; delta: number }
      | { op: 'reschedule'; pick: number; delta: number }
      | { op: 'cancel'; pick: number }
      | { op: 'advance'; by: number };

    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { arbitrary: fc.record({ op: fc.constant('schedule' as const), delta: fc.integer({ min: -30, max: 600 }) }), weight: 4 },
      { arbitrary: fc.record({ op: fc.constant('reschedule' as const), pick: fc.nat(), delta: fc.integer({ min: -30, max: 600 }) }), weight: 3 },
      { arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }), weight: 1 },
      { arbitrary: fc.record({ op: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 40 }) }), weight: 4 },
      { arbitrary: fc.record({ op: fc.constant('advance' as const), by: fc.integer({ min: 100, max: 3000 }) }), weight: 1 },
    );

    // fast-check's default size keeps arrays to a handful of ops; long runs are what build up
    // stale copies, wrapped slots and re-armed entries.
    const opsArb = fc.array(opArb, { maxLength: 300, size: 'max' });

    function run(ops: readonly Op[], tickMs: number, slots: number, t0: number): void {
      const w = new TimerWheel<number>(tickMs, t0, slots);
      const entries: WheelEntry<number>[] = [];
      const ref: { at: number; armed: boolean; armedAt: number }[] = [];
      let now = t0;
      const effectiveTick = (i: number) => Math.max(tickOf(ref[i]!.at, tickMs), tickOf(ref[i]!.armedAt, tickMs));
      for (const o of ops) {
        if (o.op === 'schedule') {
          const at = now + o.delta;
          entries.push(w.schedule(at, entries.length));
          ref.push({ at, armed: true, armedAt: now });
        } else if (o.op === 'reschedule' && entries.length > 0) {
          const i = o.pick % entries.length;
          const at = now + o.delta;
          w.reschedule(entries[i]!, at);
          // Moving a live entry later leaves it in its slot, so it keeps its original arming time.
          const armedAt = ref[i]!.armed && at >= ref[i]!.at ? ref[i]!.armedAt : now;
          ref[i] = { at, armed: true, armedAt };
        } else if (o.op === 'cancel' && entries.length > 0) {
          const i = o.pick % entries.length;
          w.cancel(entries[i]!);
          ref[i]!.armed = false;
        } else if (o.op === 'advance') {
          now += o.by;
          const fired = step(w, now);
          const expected: number[] = [];
          ref.forEach((r, i) => {
            if (r.armed && r.at <= now) {
              r.armed = false;
              expected.push(i);
            }
          });
          expect([...fired.map((f) => f.payload)].sort((a, b) => a - b)).toEqual(expected);
          for (const f of fired) expect(f.at).toBe(ref[f.payload]!.at);
          for (let k = 1; k < fired.length; k++) {
            expect(effectiveTick(fired[k]!.payload)).toBeGreaterThanOrEqual(effectiveTick(fired[k - 1]!.payload));
          }
        }
        expect(w.size).toBe(ref.filter((r) => r.armed).length);
      }
    }

    it('agrees on a small wheel that wraps constantly', () => {
      fc.assert(fc.property(opsArb, (ops) => run(ops, 10, 8, 0)), { numRuns: 400 });
    });

    it('agrees with 1 ms ticks at epoch-millisecond times', () => {
      fc.assert(fc.property(opsArb, (ops) => run(ops, 1, 64, 1_730_000_000_000)), { numRuns: 200 });
    });

    it('agrees with the default slot count and a tick that does not divide the deadlines', () => {
      fc.assert(fc.property(opsArb, (ops) => run(ops, 7, 1024, 3)), { numRuns: 100 });
    });
  });
});
