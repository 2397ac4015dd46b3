import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { actorKey } from '../../runtime/ids.js';
import type { DueTimer, SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';

export interface SnapshotStoreHarness {
  store: SnapshotStore;
  cleanup?: () => Promise<void>;
}

const rec = (key: string, data: string, seq: number): SnapshotRecord => ({ key, data, seq });

/** The rejection of `p`, checked to be a VigilError with `code`. */
async function rejection(p: Promise<unknown>, code: string): Promise<VigilError> {
  const err = await p.then(
    () => {
      throw new Error(`expected a rejection with code ${code}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VigilError);
  expect((err as VigilError).code).toBe(code);
  return err as VigilError;
}

/**
 * The SnapshotStore contract (runtime/ports.ts), run against every adapter. `make` returns a
 * fresh, empty store for each test; the suite closes it, then calls `cleanup`.
 */
export function snapshotStoreConformance(name: string, make: () => Promise<SnapshotStoreHarness>): void {
  describe(`SnapshotStore conformance: ${name}`, () => {
    let h: SnapshotStoreHarness;
    let store: SnapshotStore;
    beforeEach(async () => {
      h = await make();
      store = h.store;
    });
    afterEach(async () => {
      await store.close();
      await h.cleanup?.();
    });

    it('loads undefined for keys never snapshotted, in their positions', async () => {
      expect(await store.load([])).toEqual([]);
      expect(await store.load(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
      await store.commit({ snapshots: [rec('b', '{"n":1}', 5)], keyGroups: [], checkpointSeq: 0 });
      expect(await store.load(['a', 'b', 'c'])).toEqual([undefined, rec('b', '{"n":1}', 5), undefined]);
    });

    it('round-trips data and seq, whatever the data holds', async () => {
      const big = 'x'.repeat(100_000) + '🫀'.repeat(25_000) + 'end'; // ~200 KB in UTF-16, more in UTF-8
      const records = [
        rec(actorKey('acme', 'patient', 'p-1'), JSON.stringify({ hr: [72, 75], note: 'a\nb' }), 1),
        rec(actorKey('hôpital', 'patient', '患者-42'), 'line1\nline2\r\nline3\n', 2),
        rec(actorKey('t', 'procedure', 'or-7'), 'unicode: ε ✓ עברית 🩺 \u2028 \u0000 "q" \\', 3),
        rec(actorKey('t', 'patient', 'big'), big, 2 ** 40 + 7),
        rec(actorKey('t', 'patient', 'empty'), '', 4),
        rec('key with spaces / slashes : colons {braces}', 'plain', Number.MAX_SAFE_INTEGER),
      ];
      await store.commit({ snapshots: records, keyGroups: [1], checkpointSeq: 10 });
      const got = await store.load(records.map((r) => r.key));
      expect(got).toEqual(records);
      expect(got[3]!.data.length).toBe(big.length);
    });

    it('a later commit overwrites data and seq', async () => {
      await store.commit({ snapshots: [rec('k', 'v1', 10), rec('other', 'o', 1)], keyGroups: [7], checkpointSeq: 10 });
      await store.commit({ snapshots: [rec('k', 'v2', 20)], keyGroups: [7], checkpointSeq: 20 });
      expect(await store.load(['k', 'other'])).toEqual([rec('k', 'v2', 20), rec('other', 'o', 1)]);
      expect(await store.checkpoints([7])).toEqual([20]);
    });

    it('checkpoints default to 0 and are kept per key group', async () => {
      expect(await store.checkpoints([0, 1, 2, 3, 4095])).toEqual([0, 0, 0, 0, 0]);
      await store.commit({ snapshots: [], keyGroups: [1, 2], checkpointSeq: 42 });
      expect(await store.checkpoints([1, 2, 3])).toEqual([42, 42, 0]);
      await store.commit({ snapshots: [], keyGroups: new Uint32Array([2, 0]), checkpointSeq: 50 });
      // Same order as asked, whatever order that is, including key group 0.
      expect(await store.checkpoints([3, 2, 1, 0])).toEqual([0, 50, 42, 50]);
      expect(await store.checkpoints(new Uint32Array([0, 1]))).toEqual([50, 42]);
      expect(await store.checkpoints([])).toEqual([]);
    });

    it('a commit with no snapshots still writes its checkpoints', async () => {
      await store.commit({ snapshots: [], keyGroups: [9], checkpointSeq: 123 });
      expect(await store.checkpoints([9])).toEqual([123]);
    });

    it('a commit with no key groups still writes its snapshots and moves no checkpoint', async () => {
      await store.commit({ snapshots: [], keyGroups: [5], checkpointSeq: 3 });
      await store.commit({ snapshots: [rec('k', 'v', 8)], keyGroups: [], checkpointSeq: 8 });
      expect(await store.load(['k'])).toEqual([rec('k', 'v', 8)]);
      expect(await store.checkpoints([5])).toEqual([3]);
    });

    it('holds many keys in one commit and loads them in the order asked', async () => {
      const records: SnapshotRecord[] = [];
      for (let i = 0; i < 5000; i++) records.push(rec(actorKey('acme', 'patient', `p-${i}`), `{"i":${i}}`, i + 1));
      const kgs = Array.from({ length: 64 }, (_, i) => i * 64);
      await store.commit({ snapshots: records, keyGroups: kgs, checkpointSeq: 5000 });
      // A deterministic shuffle, with unknown keys mixed in.
      const order = records.map((_, i) => (i * 2_654_435_761) % 5000);
      expect(new Set(order).size).toBe(5000);
      const keys = order.flatMap((i) => (i % 500 === 0 ? [records[i]!.key, `missing-${i}`] : [records[i]!.key]));
      const got = await store.load(keys);
      expect(got).toHaveLength(keys.length);
      keys.forEach((k, j) => {
        if (k.startsWith('missing-')) expect(got[j]).toBeUndefined();
        else expect(got[j]).toEqual(records[Number(k.slice(k.lastIndexOf('-') + 1))]);
      });
      expect(await store.checkpoints(kgs)).toEqual(kgs.map(() => 5000));
    });

    it('loads the same key twice when asked twice', async () => {
      await store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [], checkpointSeq: 0 });
      expect(await store.load(['k', 'x', 'k'])).toEqual([rec('k', 'v', 1), undefined, rec('k', 'v', 1)]);
    });

    describe('fencing', () => {
      it('fencing tokens default to 0, in the order asked', async () => {
        expect(await store.fences([])).toEqual([]);
        expect(await store.fences([0, 1, 4095])).toEqual([0, 0, 0]);
        await store.fence([1], 5);
        expect(await store.fences(new Uint32Array([4095, 1, 0]))).toEqual([0, 5, 0]);
      });

      it('fence() raises tokens and never lowers one', async () => {
        await store.fence([1, 2], 10);
        await store.fence(new Uint32Array([2, 3]), 20);
        expect(await store.fences([1, 2, 3, 4])).toEqual([10, 20, 20, 0]);
        // Lower and equal tokens leave every key group as it was, including the higher one in a mixed call.
        await store.fence([1, 2, 3], 15);
        expect(await store.fences([1, 2, 3])).toEqual([15, 20, 20]);
        await store.fence([2], 20);
        await store.fence([2], 0);
        expect(await store.fences([2])).toEqual([20]);
        const big = Number.MAX_SAFE_INTEGER;
        await store.fence([0], big);
        await store.fence([0], big - 1);
        expect(await store.fences([0, 1])).toEqual([big, 15]);
        await store.fence([], 99);
        expect(await store.fences([0, 1, 2, 3])).toEqual([big, 15, 20, 20]);
      });

      it('fence() is per key group and does not touch checkpoints', async () => {
        await store.commit({ snapshots: [], keyGroups: [1], checkpointSeq: 7 });
        await store.fence([1, 2], 3);
        expect(await store.checkpoints([1, 2])).toEqual([7, 0]);
      });

      it('a commit whose tokens are at or above the stored ones writes everything', async () => {
        await store.fence([1, 2], 10);
        await store.fence([3], 4);
        await store.commit({
          snapshots: [rec('a', 'va', 5), rec('b', 'vb', 6)],
          keyGroups: [1, 2, 3],
          checkpointSeq: 6,
          // Equal for 1, above for 2 and 3, and 9 was never fenced (0).
          fence: { keyGroups: [1, 2, 3, 9], tokens: [10, 11, 40, 0] },
        });
        expect(await store.load(['a', 'b'])).toEqual([rec('a', 'va', 5), rec('b', 'vb', 6)]);
        expect(await store.checkpoints([1, 2, 3])).toEqual([6, 6, 6]);
        // A commit does not move fencing tokens; only fence() does.
        expect(await store.fences([1, 2, 3, 9])).toEqual([10, 10, 4, 0]);
      });

      it('a commit with one key group fenced writes none of its snapshots or checkpoints', async () => {
        await store.commit({ snapshots: [rec('a', 'old-a', 1), rec('b', 'old-b', 1)], keyGroups: [1, 2], checkpointSeq: 1 });
        await store.fence([1, 2], 5);
        // Another node took key group 2 over.
        await store.fence([2], 8);
        const err = await rejection(
          store.commit({
            snapshots: [rec('a', 'new-a', 2), rec('b', 'new-b', 2), rec('c', 'new-c', 2)],
            keyGroups: [1, 2, 3],
            checkpointSeq: 2,
            fence: { keyGroups: [1, 2, 3], tokens: [5, 5, 5] },
          }),
          ErrorCode.Fenced,
        );
        expect(err.message).toMatch(/key group 2\b/);
        expect(err.message).toMatch(/\b8\b/);
        expect(err.message).toMatch(/\b5\b/);
        expect(await store.load(['a', 'b', 'c'])).toEqual([rec('a', 'old-a', 1), rec('b', 'old-b', 1), undefined]);
        expect(await store.checkpoints([1, 2, 3])).toEqual([1, 1, 0]);
        expect(await store.fences([1, 2, 3])).toEqual([5, 8, 0]);
        // The new owner, with its token, commits fine.
        await store.commit({ snapshots: [rec('b', 'owner-b', 3)], keyGroups: [2], checkpointSeq: 3, fence: { keyGroups: [2], tokens: [8] } });
        expect(await store.load(['b'])).toEqual([rec('b', 'owner-b', 3)]);
        expect(await store.checkpoints([1, 2])).toEqual([1, 3]);
      });

      it('names the first fenced key group in the order given', async () => {
        await store.fence([7], 30);
        await store.fence([4], 20);
        const err = await rejection(
          store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [], checkpointSeq: 0, fence: { keyGroups: [1, 7, 4], tokens: [0, 3, 3] } }),
          ErrorCode.Fenced,
        );
        expect(err.message).toMatch(/key group 7\b/);
        expect(err.message).toMatch(/\b30\b/);
        expect(err.message).not.toMatch(/key group 4\b/);
        expect(await store.load(['k'])).toEqual([undefined]);
      });

      it('checks a fenced commit of many snapshots and key groups as a whole', async () => {
        const records: SnapshotRecord[] = [];
        for (let i = 0; i < 3000; i++) records.push(rec(`p-${i}`, `{"i":${i}}`, i + 1));
        const kgs = Array.from({ length: 2500 }, (_, i) => i);
        await store.fence(kgs, 2);
        // Only the last key group of the fence is ahead.
        await store.fence([kgs.length - 1], 3);
        const fence = { keyGroups: kgs, tokens: kgs.map(() => 2) };
        await rejection(store.commit({ snapshots: records, keyGroups: kgs, checkpointSeq: 9, fence }), ErrorCode.Fenced);
        expect((await store.load(records.map((r) => r.key))).every((r) => r === undefined)).toBe(true);
        expect((await store.checkpoints(kgs)).every((n) => n === 0)).toBe(true);
        await store.commit({ snapshots: records, keyGroups: kgs, checkpointSeq: 9, fence: { keyGroups: kgs, tokens: kgs.map(() => 3) } });
        expect(await store.load(records.map((r) => r.key))).toEqual(records);
        expect(await store.checkpoints(kgs)).toEqual(kgs.map(() => 9));
        expect(await store.fences([0, kgs.length - 1])).toEqual([2, 3]);
      });

      it('a fenced commit round-trips big and unusual data', async () => {
        const big = 'x'.repeat(100_000) + '🫀'.repeat(25_000) + 'end';
        const records = [rec('big', big, 2 ** 40 + 7), rec('odd {x}', 'a\nb\r\n\u0000 ✓', 1), rec('empty', '', 2)];
        await store.fence([1], 1);
        await store.commit({ snapshots: records, keyGroups: [1], checkpointSeq: 2 ** 40 + 7, fence: { keyGroups: [1], tokens: [1] } });
        expect(await store.load(records.map((r) => r.key))).toEqual(records);
        expect(await store.checkpoints([1])).toEqual([2 ** 40 + 7]);
      });

      it('a commit without fence ignores fencing tokens', async () => {
        await store.fence([1], 100);
        await store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [1], checkpointSeq: 1 });
        expect(await store.load(['k'])).toEqual([rec('k', 'v', 1)]);
        expect(await store.checkpoints([1])).toEqual([1]);
        expect(await store.fences([1])).toEqual([100]);
      });

      it('rejects invalid tokens with invalid_option and changes nothing', async () => {
        await store.fence([1], 5);
        for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
          const err = await rejection(store.fence([1, 2], bad), ErrorCode.InvalidOption);
          expect(err.message).toContain(String(bad));
          const err2 = await rejection(
            store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [1], checkpointSeq: 1, fence: { keyGroups: [1, 2], tokens: [5, bad] } }),
            ErrorCode.InvalidOption,
          );
          expect(err2.message).toContain(String(bad));
        }
        expect(await store.fences([1, 2])).toEqual([5, 0]);
        expect(await store.load(['k'])).toEqual([undefined]);
        expect(await store.checkpoints([1])).toEqual([0]);
      });
    });

    describe('due index', () => {
      const sorted = (ts: DueTimer[]): DueTimer[] =>
        [...ts].sort((a, b) => a.keyGroup - b.keyGroup || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

      it('is empty by default and keeps one entry per actor per key group, written with the commit', async () => {
        expect(await store.dueTimers([])).toEqual([]);
        expect(await store.dueTimers([0, 1, 4095])).toEqual([]);
        const a = actorKey('acme', 'patient', 'p-1');
        const b = actorKey('acme', 'patient', 'p-2');
        const c = actorKey('hôpital', 'patient', '患者 {42}\n');
        await store.commit({
          snapshots: [rec(a, 'sa', 1), rec(b, 'sb', 1), rec(c, 'sc', 1)],
          keyGroups: [3, 7],
          checkpointSeq: 1,
          due: [
            { keyGroup: 3, key: a, at: 1_700_000_060_000 },
            { keyGroup: 3, key: b, at: 1_700_000_001_500.5 },
            { keyGroup: 7, key: c, at: 0 },
          ],
        });
        expect(sorted(await store.dueTimers([3, 7, 9]))).toEqual(sorted([
          { keyGroup: 3, key: a, at: 1_700_000_060_000 },
          { keyGroup: 3, key: b, at: 1_700_000_001_500.5 },
          { keyGroup: 7, key: c, at: 0 },
        ]));
        // Per key group: only the ones asked for.
        expect(await store.dueTimers([7])).toEqual([{ keyGroup: 7, key: c, at: 0 }]);
        expect(await store.dueTimers(new Uint32Array([9]))).toEqual([]);
      });

      it('a later commit moves an entry or removes it (null); removing a missing one is fine', async () => {
        await store.commit({ snapshots: [rec('a', 'v', 1)], keyGroups: [], checkpointSeq: 0, due: [{ keyGroup: 1, key: 'a', at: 100 }, { keyGroup: 1, key: 'b', at: 200 }] });
        await store.commit({ snapshots: [rec('a', 'v2', 2)], keyGroups: [], checkpointSeq: 0, due: [{ keyGroup: 1, key: 'a', at: 50 }] });
        expect(sorted(await store.dueTimers([1]))).toEqual([{ keyGroup: 1, key: 'a', at: 50 }, { keyGroup: 1, key: 'b', at: 200 }]);
        await store.commit({
          snapshots: [],
          keyGroups: [],
          checkpointSeq: 0,
          due: [{ keyGroup: 1, key: 'b', at: null }, { keyGroup: 1, key: 'never', at: null }, { keyGroup: 2, key: 'x', at: null }],
        });
        expect(await store.dueTimers([1, 2])).toEqual([{ keyGroup: 1, key: 'a', at: 50 }]);
      });

      it('the last change of a key within one commit wins', async () => {
        await store.commit({
          snapshots: [],
          keyGroups: [],
          checkpointSeq: 0,
          due: [{ keyGroup: 5, key: 'k', at: 10 }, { keyGroup: 5, key: 'k', at: null }, { keyGroup: 5, key: 'j', at: null }, { keyGroup: 5, key: 'j', at: 30 }],
        });
        expect(await store.dueTimers([5])).toEqual([{ keyGroup: 5, key: 'j', at: 30 }]);
      });

      it('holds many entries and returns them all', async () => {
        const due = Array.from({ length: 2500 }, (_, i) => ({ keyGroup: i % 3, key: `p-${i}`, at: 1_000_000 + i }));
        await store.commit({ snapshots: [], keyGroups: [], checkpointSeq: 0, due });
        expect(sorted(await store.dueTimers([0, 1, 2]))).toEqual(sorted(due));
        await store.commit({ snapshots: [], keyGroups: [], checkpointSeq: 0, due: due.map((d) => ({ ...d, at: null })) });
        expect(await store.dueTimers([0, 1, 2])).toEqual([]);
      });

      it('a fenced commit writes its due changes, and a refused one writes none', async () => {
        await store.fence([1, 2], 5);
        await store.commit({
          snapshots: [rec('a', 'va', 1)],
          keyGroups: [1],
          checkpointSeq: 1,
          fence: { keyGroups: [1], tokens: [5] },
          due: [{ keyGroup: 1, key: 'a', at: 1000 }],
        });
        expect(await store.dueTimers([1])).toEqual([{ keyGroup: 1, key: 'a', at: 1000 }]);
        await store.fence([2], 9);
        await rejection(
          store.commit({
            snapshots: [rec('a', 'va2', 2), rec('b', 'vb', 2)],
            keyGroups: [1, 2],
            checkpointSeq: 2,
            fence: { keyGroups: [1, 2], tokens: [5, 5] },
            due: [{ keyGroup: 1, key: 'a', at: null }, { keyGroup: 2, key: 'b', at: 2000 }],
          }),
          ErrorCode.Fenced,
        );
        expect(await store.dueTimers([1, 2])).toEqual([{ keyGroup: 1, key: 'a', at: 1000 }]);
        // Many indexes in one fenced commit.
        const due = Array.from({ length: 1200 }, (_, i) => ({ keyGroup: i % 4, key: `q-${i}`, at: i }));
        await store.commit({ snapshots: [], keyGroups: [1], checkpointSeq: 3, fence: { keyGroups: [1], tokens: [5] }, due: [...due, { keyGroup: 1, key: 'a', at: null }] });
        expect(sorted(await store.dueTimers([0, 1, 2, 3]))).toEqual(sorted(due));
      });

      it('rejects a non-finite due time or a bad key group with invalid_option and writes nothing', async () => {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const err = await rejection(
            store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [1], checkpointSeq: 1, due: [{ keyGroup: 1, key: 'ok', at: 5 }, { keyGroup: 1, key: 'k', at: bad }] }),
            ErrorCode.InvalidOption,
          );
          expect(err.message).toContain(String(bad));
        }
        await rejection(
          store.commit({ snapshots: [rec('k', 'v', 1)], keyGroups: [1], checkpointSeq: 1, due: [{ keyGroup: -1, key: 'k', at: 5 }] }),
          ErrorCode.InvalidOption,
        );
        expect(await store.load(['k'])).toEqual([undefined]);
        expect(await store.checkpoints([1])).toEqual([0]);
        expect(await store.dueTimers([1])).toEqual([]);
      });
    });
  });
}
