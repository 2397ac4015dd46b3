import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../runtime/clock.js';

describe('ManualClock', () => {
  it('starts where it is told and moves only on advance', () => {
    const c = new ManualClock(1000);
    expect(c.now()).toBe(1000);
    c.advance(250);
    expect(c.now()).toBe(1250);
    expect(new ManualClock().now()).toBe(0);
  });

  it('fires due timers inside advance, in deadline order, with now at each deadline', () => {
    const c = new ManualClock(0);
    const log: [string, number][] = [];
    c.setTimeout(() => log.push(['c', c.now()]), 30);
    c.setTimeout(() => log.push(['a', c.now()]), 10);
    c.setTimeout(() => log.push(['b', c.now()]), 20);
    c.setTimeout(() => log.push(['late', c.now()]), 100);
    c.advance(29);
    expect(log).toEqual([['a', 10], ['b', 20]]);
    expect(c.now()).toBe(29);
    c.advance(1);
    expect(log).toEqual([['a', 10], ['b', 20], ['c', 30]]);
    c.advance(1000);
    expect(log.at(-1)).toEqual(['late', 100]);
    expect(c.now()).toBe(1030);
  });

  it('fires timers with the same deadline in the order they were set', () => {
    const c = new ManualClock();
    const log: number[] = [];
    for (let i = 0; i < 5; i++) c.setTimeout(() => log.push(i), 10);
    c.advance(10);
    expect(log).toEqual([0, 1, 2, 3, 4]);
  });

  it('treats a negative delay as zero', () => {
    const c = new ManualClock(50);
    let fired = false;
    c.setTimeout(() => (fired = true), -10);
    c.advance(0);
    expect(fired).toBe(true);
  });

  it('fires a timer set from a timer within the same advance when it falls inside it', () => {
    const c = new ManualClock();
    const at: number[] = [];
    const tick = () => {
      at.push(c.now());
      c.setTimeout(tick, 10);
    };
    c.setTimeout(tick, 10);
    c.advance(45);
    expect(at).toEqual([10, 20, 30, 40]);
    c.advance(5);
    expect(at).toEqual([10, 20, 30, 40, 50]);
  });

  it('cancel stops a timer, also from inside another timer, and is harmless twice', () => {
    const c = new ManualClock();
    const log: string[] = [];
    const cancelB = c.setTimeout(() => log.push('b'), 20);
    c.setTimeout(() => {
      log.push('a');
      cancelB();
    }, 10);
    const cancelC = c.setTimeout(() => log.push('c'), 30);
    cancelC();
    cancelC();
    c.advance(100);
    expect(log).toEqual(['a']);
  });

  it('fires each timer once', () => {
    const c = new ManualClock();
    let n = 0;
    c.setTimeout(() => n++, 5);
    c.advance(10);
    c.advance(10);
    expect(n).toBe(1);
  });
});
