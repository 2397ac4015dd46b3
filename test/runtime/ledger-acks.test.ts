// Acks: a submission is answered once every host batch carrying one of its events is done.
import { describe, expect, it } from 'vitest';
import { emptyBatch } from '../../runtime/batch.js';
import { AckAt } from '../../runtime/ledger.js';
import { setup } from './ledger-fixtures.js';

describe('SubmissionLedger acks', () => {
  it('acks a submission only once every host batch it touched is applied', async () => {
    const t = setup();
    const { sub, answers } = t.open(3);
    t.add(0, sub, 0, 'a');
    t.add(1, sub, 1, 'b');
    t.add(0, sub, 2, 'c');
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    expect(t.log.appended).toHaveLength(0); // deferred to the clock, not flushed inline
    await t.flush();
    expect(t.hosts[0]!.posts.map((p) => p.lastSeq)).toEqual([2]);
    expect(t.hosts[1]!.posts.map((p) => p.lastSeq)).toEqual([3]);
    expect(t.hosts[0]!.ids()).toEqual(['a', 'c']);
    expect([...t.hosts[0]!.posts[0]!.batch.seq]).toEqual([1, 2]);

    t.ledger.applied(0, 2);
    expect(answers).toHaveLength(0);
    t.ledger.applied(1, 3);
    expect(answers).toEqual([{ err: null, result: { events: 3, lastSeq: 3, duplicates: 0, rejected: [] } }]);
    t.ledger.applied(1, 3);
    expect(answers).toHaveLength(1);
  });

  it('waits for every batch of one host when its events span a full builder and the next', async () => {
    const t = setup({ limits: { hostBatchEvents: 4 } });
    const { sub, answers } = t.open(6);
    for (let i = 0; i < 6; i++) t.add(0, sub, i, `e${i}`);
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    await t.flush();
    expect(t.hosts[0]!.posts.map((p) => [p.batch.n, p.lastSeq])).toEqual([[4, 4], [2, 6]]);
    t.ledger.applied(0, 4);
    expect(answers).toHaveLength(0);
    t.ledger.applied(0, 6);
    expect(answers[0]!.result).toMatchObject({ events: 6, lastSeq: 6 });
  });

  it('acks a submission of no events at once', () => {
    const t = setup();
    const { sub, answers } = t.open(0);
    t.ledger.opened(sub);
    expect(answers).toEqual([{ err: null, result: { events: 0, lastSeq: 0, duplicates: 0, rejected: [] } }]);
  });

  it('acks each of several submissions sharing one batch when that batch is applied', async () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 100 } });
    const a = t.open(1);
    const b = t.open(2);
    t.add(0, a.sub, 0, 'a0');
    t.add(0, b.sub, 0, 'b0');
    t.add(0, b.sub, 1, 'b1');
    t.ledger.opened(a.sub);
    t.ledger.opened(b.sub);
    t.ledger.scheduleFlush();
    await t.flush();
    expect(t.hosts[0]!.posts).toHaveLength(1);
    t.ledger.applied(0, 3);
    expect(a.answers[0]!.result).toMatchObject({ events: 1, lastSeq: 3 });
    expect(b.answers[0]!.result).toMatchObject({ events: 2, lastSeq: 3 });
  });

  it('keeps a batch in its builder while its host is not live, and sends it once it is', async () => {
    const t = setup();
    t.hosts[0]!.isLive = false;
    const { sub, answers } = t.open(1);
    t.add(0, sub, 0, 'x');
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    await t.flush();
    expect(t.log.appended).toHaveLength(0);
    expect(t.ledger.building(0)).toBe(1);
    t.hosts[0]!.isLive = true;
    t.ledger.flush(0);
    await t.ledger.allAppended();
    expect(t.hosts[0]!.ids()).toEqual(['x']);
    t.ledger.applied(0, 1);
    expect(answers).toHaveLength(1);
  });

  it('does not send a batch to a host replaced during its append; the replay applies it and acks', async () => {
    const t = setup();
    t.log.auto = false;
    const { sub, answers } = t.open(1);
    t.add(0, sub, 0, 'x');
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    t.clock.advance(0);
    t.hosts[0]!.generation++;
    t.log.settleNext();
    await t.ledger.allAppended();
    expect(t.hosts[0]!.posts).toHaveLength(0);
    // What the replacement's replay sends goes through the same lane.
    t.ledger.restarted(0);
    t.ledger.send(0, t.log.appended[0]!, 1);
    t.ledger.applied(0, 1);
    expect(answers[0]!.result).toMatchObject({ events: 1, lastSeq: 1 });
  });

  it("at 'appended' acks once the log has the batch, sends nothing and wakes the feed", async () => {
    const t = setup({ ackAt: AckAt.appended });
    t.hosts[0]!.isLive = false; // the log is the delivery: no host is needed
    const { sub, answers } = t.open(2);
    t.add(0, sub, 0, 'a');
    t.add(1, sub, 1, 'b');
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    await t.flush();
    expect(answers).toEqual([{ err: null, result: { events: 2, lastSeq: 2, duplicates: 0, rejected: [] } }]);
    expect(t.hosts.map((h) => h.posts.length)).toEqual([0, 0]);
    expect(t.counts().appends).toBe(2);
    expect(t.ledger.retained).toBe(0);
  });

  it('keeps a submission with held events open until its held share is released', async () => {
    const t = setup({ hosts: 1 });
    const { sub, answers } = t.open(2);
    t.add(0, sub, 0, 'routed');
    t.ledger.hold(sub, true);
    t.ledger.opened(sub);
    t.ledger.scheduleFlush();
    await t.flush();
    t.ledger.applied(0, 1);
    expect(answers).toHaveLength(0);
    // The rescale is done: the held event goes to its lane, then the held share is released.
    t.ledger.unhold(1);
    t.ledger.add(0, sub, 1, 0, 0, 't', 'held', 0, null);
    t.ledger.releaseShare(sub);
    expect(answers).toHaveLength(0);
    t.ledger.scheduleFlush();
    await t.flush();
    t.ledger.applied(0, 2);
    expect(answers[0]!.result).toMatchObject({ events: 2, lastSeq: 2 });
  });
});

describe('SubmissionLedger flush scheduling', () => {
  it('defers a flush to the clock and, under load, waits out the rest of coalesceMs', async () => {
    const t = setup({ hosts: 1, limits: { coalesceMs: 10, hostBatchEvents: 100 } });
    const first = t.open(1);
    t.add(0, first.sub, 0, 'a');
    t.ledger.scheduleFlush();
    expect(t.ledger.flushPending).toBe(true);
    t.clock.advance(0);
    expect(t.log.appended).toHaveLength(1);
    expect(t.counts().flushes).toBe(1);

    const second = t.open(1);
    t.add(0, second.sub, 0, 'b');
    t.ledger.scheduleFlush();
    t.clock.advance(9);
    expect(t.log.appended).toHaveLength(1);
    t.clock.advance(1);
    expect(t.log.appended).toHaveLength(2);
    expect(t.ledger.flushPending).toBe(false);
  });

  it('flushes a full builder inline', () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 2 } });
    const { sub } = t.open(3);
    t.add(0, sub, 0, 'a');
    expect(t.log.appended).toHaveLength(0);
    t.add(0, sub, 1, 'b');
    expect(t.log.appended).toHaveLength(1);
    t.add(0, sub, 2, 'c');
    expect(t.ledger.building(0)).toBe(1);
  });
});

describe('SubmissionLedger delivery bookkeeping', () => {
  it('counts what was sent until applied and resolves whenApplied then', async () => {
    const t = setup();
    expect(t.ledger.send(0, emptyBatch(0), 5)).toBe(true);
    expect(t.ledger.send(0, emptyBatch(0), 7)).toBe(true);
    expect(t.ledger.inFlight(0)).toBe(2);
    expect(t.ledger.lastSentSeq(0)).toBe(7);
    let done = false;
    void t.ledger.whenApplied(0).then(() => (done = true));
    t.ledger.applied(0, 5);
    await Promise.resolve();
    expect(done).toBe(false);
    t.ledger.applied(0, 7);
    await Promise.resolve();
    expect(done).toBe(true);
    expect(t.ledger.busy(0)).toBe(false);
  });

  it('sends nothing (and counts nothing) to a host without a port', () => {
    const t = setup();
    t.hosts[1]!.hasPort = false;
    expect(t.ledger.send(1, emptyBatch(0), 3)).toBe(false);
    expect(t.ledger.inFlight(1)).toBe(0);
  });
});
