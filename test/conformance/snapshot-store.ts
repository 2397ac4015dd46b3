import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { actorKey } from '../../runtime/ids.js';
import type { SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';

export interface SnapshotStoreHarness {
  store: SnapshotStore;
  cleanup?: () => Promise<void>;
}

const rec = (key: string, data: string, seq: number): SnapshotRecord => ({ key, data, seq });

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
  });
}
