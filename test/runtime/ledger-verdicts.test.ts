// Verdicts: an actor's duplicate or rejection of one event reaches the submission that carried
// it, at the index it was submitted at.
import { describe, expect, it } from 'vitest';
import { DUPLICATE, type Outcomes } from '../../runtime/protocol.js';
import { setup } from './ledger-fixtures.js';

function outcomes(...rows: [seq: number, code: string, message?: string][]): Outcomes {
  return { n: rows.length, seq: rows.map((r) => r[0]), code: rows.map((r) => r[1]), message: rows.map((r) => r[2] ?? '') };
}

describe('SubmissionLedger verdicts', () => {
  it('maps duplicates and rejections back to each submission and its own index', async () => {
    const t = setup({ limits: { hostBatchEvents: 100 } });
    const a = t.open(3);
    const b = t.open(2);
    t.add(0, a.sub, 0, 'a0');
    t.add(1, a.sub, 1, 'a1');
    t.add(0, a.sub, 2, 'a2');
    t.add(0, b.sub, 0, 'b0');
    t.add(0, b.sub, 1, 'b1');
    t.ledger.opened(a.sub);
    t.ledger.opened(b.sub);
    t.ledger.scheduleFlush();
    await t.flush();
    // Host 0's batch is sequences 1..4 (a0 a2 b0 b1), host 1's is 5 (a1).
    expect(t.hosts[0]!.ids()).toEqual(['a0', 'a2', 'b0', 'b1']);
    t.ledger.outcomes(0, outcomes([2, 'late', 'too late'], [3, DUPLICATE], [4, DUPLICATE]));
    t.ledger.applied(0, 4);
    t.ledger.outcomes(1, outcomes([5, 'actor_failed', 'handler threw']));
    t.ledger.applied(1, 5);
    expect(a.answers).toEqual([{
      err: null,
      result: {
        events: 3, lastSeq: 5, duplicates: 0,
        rejected: [{ index: 2, code: 'late', message: 'too late' }, { index: 1, code: 'actor_failed', message: 'handler threw' }],
      },
    }]);
    expect(b.answers).toEqual([{ err: null, result: { events: 2, lastSeq: 4, duplicates: 2, rejected: [] } }]);
  });

  it('finds the batch a verdict belongs to among several in flight to one host', async () => {
    const t = setup({ hosts: 1, limits: { hostBatchEvents: 2 } });
    const s = t.open(5);
    for (let i = 0; i < 5; i++) t.add(0, s.sub, i, `e${i}`);
    t.ledger.opened(s.sub);
    t.ledger.scheduleFlush();
    await t.flush();
    expect(t.hosts[0]!.posts.map((p) => p.lastSeq)).toEqual([2, 4, 5]);
    t.ledger.outcomes(0, outcomes([4, 'bad', 'x'], [5, DUPLICATE], [1, 'bad', 'y']));
    t.ledger.applied(0, 5);
    expect(s.answers[0]!.result).toEqual({
      events: 5, lastSeq: 5, duplicates: 1,
      rejected: [{ index: 3, code: 'bad', message: 'x' }, { index: 0, code: 'bad', message: 'y' }],
    });
  });

  it('ignores verdicts on events no submission of this run carried (a replay of an earlier run)', async () => {
    const t = setup({ hosts: 1 });
    const s = t.open(1);
    t.add(0, s.sub, 0, 'x');
    t.ledger.opened(s.sub);
    t.ledger.scheduleFlush();
    await t.flush();
    t.ledger.outcomes(0, outcomes([999, DUPLICATE], [0, 'bad']));
    t.ledger.applied(0, 1);
    expect(s.answers[0]!.result).toEqual({ events: 1, lastSeq: 1, duplicates: 0, rejected: [] });
  });

  it('forgets the origins of applied batches', async () => {
    const t = setup({ hosts: 1 });
    const s = t.open(1);
    t.add(0, s.sub, 0, 'x');
    t.ledger.opened(s.sub);
    t.ledger.scheduleFlush();
    await t.flush();
    t.ledger.applied(0, 1);
    // A verdict arriving after the apply report no longer finds its origin: it changes nothing.
    t.ledger.outcomes(0, outcomes([1, DUPLICATE]));
    expect(s.answers).toHaveLength(1);
    expect(s.answers[0]!.result.duplicates).toBe(0);
  });
});
