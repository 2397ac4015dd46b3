// Backpressure: the ledger says when the runtime is saturated (writable() false) and wakes the
// producer (whenWritable) once it is not.
import { describe, expect, it } from 'vitest';
import { AckAt } from '../../runtime/ledger.js';
import { setup } from './ledger-fixtures.js';

/** Whether `p` has settled, after the microtasks queued so far ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe('SubmissionLedger backpressure', () => {
  it('is not writable at the in-flight limit and whenWritable resolves once a host applies', async () => {
    const t = setup({ limits: { hostBatchEvents: 1, maxInFlightBatches: 3 } });
    const s = t.open(3);
    for (let i = 0; i < 3; i++) t.add(0, s.sub, i, `e${i}`); // each one a full batch
    await t.ledger.allAppended();
    expect(t.ledger.inFlight(0)).toBe(3);
    expect(t.ledger.writable()).toBe(false);
    const w = t.ledger.whenWritable();
    expect(await settled(w)).toBe(false);
    t.ledger.applied(0, 1);
    expect(await settled(w)).toBe(true);
    expect(t.ledger.writable()).toBe(true);
  });

  it('counts appends still on their way to the log', async () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 1, maxInFlightBatches: 2 } });
    t.log.auto = false;
    const s = t.open(2);
    t.add(0, s.sub, 0, 'a');
    expect(t.ledger.writable()).toBe(true);
    t.add(0, s.sub, 1, 'b');
    expect(t.ledger.appending(0)).toBe(2);
    expect(t.ledger.writable()).toBe(false);
    t.log.settleNext();
    t.log.settleNext();
    await t.ledger.allAppended();
    // Appended and sent: now in flight, still two.
    expect(t.ledger.writable()).toBe(false);
    t.ledger.applied(0, 2);
    expect(t.ledger.writable()).toBe(true);
  });

  it("at 'appended' counts only appends: the log is the buffer and the tail paces itself", async () => {
    const t = setup({ hosts: 1, ackAt: AckAt.appended, limits: { hostBatchEvents: 1, maxInFlightBatches: 1 } });
    const s = t.open(1);
    t.add(0, s.sub, 0, 'a');
    expect(t.ledger.writable()).toBe(false);
    await t.ledger.allAppended();
    t.ledger.send(0, t.log.appended[0]!, 1); // what the tail does
    expect(t.ledger.inFlight(0)).toBe(1);
    expect(t.ledger.writable()).toBe(true);
  });

  it('counts events held while their key group moves', () => {
    const t = setup({ limits: { hostBatchEvents: 2, maxInFlightBatches: 2 } });
    const s = t.open(5);
    for (let i = 0; i < 4; i++) t.ledger.hold(s.sub, i === 0);
    expect(t.ledger.writable()).toBe(true);
    t.ledger.hold(s.sub, false);
    expect(t.ledger.writable()).toBe(false);
    const w = t.ledger.whenWritable();
    t.ledger.unhold(5);
    t.ledger.notifyWritable();
    return expect(w).resolves.toBeUndefined();
  });

  it('counts events the log retains until they are trimmed', async () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 100, maxLogEvents: 3 } });
    const s = t.open(4);
    for (let i = 0; i < 4; i++) t.add(0, s.sub, i, `e${i}`);
    t.ledger.scheduleFlush();
    await t.flush();
    t.ledger.applied(0, 4);
    expect(t.ledger.retained).toBe(4);
    expect(t.ledger.writable()).toBe(false);
    const w = t.ledger.whenWritable();
    expect(t.ledger.forget(3)).toBe(4); // the append ends at 4: nothing of it may go yet
    expect(await settled(w)).toBe(false);
    expect(t.ledger.forget(4)).toBe(0);
    expect(await settled(w)).toBe(true);
  });
});
