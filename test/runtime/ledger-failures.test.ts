// Append failures: every submission waiting on a batch the log refused is answered with the
// error, once; the others carry on.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../runtime/errors.js';
import { setup } from './ledger-fixtures.js';

describe('SubmissionLedger append failures', () => {
  it('answers every submission waiting on a failed append, once, and leaves the others be', async () => {
    const t = setup({ limits: { hostBatchEvents: 100 } });
    t.log.auto = false;
    const a = t.open(2);
    const b = t.open(1);
    const c = t.open(1);
    t.add(0, a.sub, 0, 'a0');
    t.add(1, a.sub, 1, 'a1');
    t.add(0, b.sub, 0, 'b0');
    t.add(1, c.sub, 0, 'c0');
    for (const s of [a, b, c]) t.ledger.opened(s.sub);
    t.ledger.scheduleFlush();
    t.clock.advance(0);
    expect(t.log.pending).toBe(2);
    t.log.failNext('disk full'); // host 0's batch: a0 b0
    t.log.settleNext(); // host 1's batch: a1 c0
    await t.ledger.allAppended();
    expect(a.answers).toHaveLength(1);
    expect(a.answers[0]!.err?.code).toBe(ErrorCode.StoreUnavailable);
    expect(a.answers[0]!.err?.message).toContain('disk full');
    expect(b.answers).toHaveLength(1);
    expect(b.answers[0]!.err?.code).toBe(ErrorCode.StoreUnavailable);
    expect(c.answers).toHaveLength(0);
    expect(t.hosts[0]!.posts).toHaveLength(0);
    expect(t.hosts[1]!.ids()).toEqual(['a1', 'c0']);
    t.ledger.applied(1, t.hosts[1]!.posts[0]!.lastSeq);
    expect(c.answers).toEqual([{ err: null, result: { events: 1, lastSeq: 2, duplicates: 0, rejected: [] } }]);
    // `a` was answered with the failure; its other batch being applied answers nothing more.
    expect(a.answers).toHaveLength(1);
  });

  it('answers a submission once when several of its batches fail', async () => {
    const t = setup();
    t.log.auto = false;
    const s = t.open(2);
    t.add(0, s.sub, 0, 'x');
    t.add(1, s.sub, 1, 'y');
    t.ledger.opened(s.sub);
    t.ledger.scheduleFlush();
    t.clock.advance(0);
    t.log.failNext();
    t.log.failNext();
    await t.ledger.allAppended();
    expect(s.answers).toHaveLength(1);
    expect(s.answers[0]!.err?.code).toBe(ErrorCode.StoreUnavailable);
  });

  it('frees the lane of a failed append (writable again, later batches go out)', async () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 1, maxInFlightBatches: 1 } });
    t.log.auto = false;
    const s = t.open(1);
    t.add(0, s.sub, 0, 'x'); // full builder: flushed inline
    expect(t.ledger.writable()).toBe(false);
    let woke = false;
    void t.ledger.whenWritable().then(() => (woke = true));
    t.log.failNext();
    await t.ledger.allAppended();
    expect(woke).toBe(true);
    expect(t.ledger.writable()).toBe(true);
    t.log.auto = true;
    const next = t.open(1);
    t.add(0, next.sub, 0, 'y');
    await t.ledger.allAppended();
    expect(t.hosts[0]!.ids()).toEqual(['y']);
  });
});
