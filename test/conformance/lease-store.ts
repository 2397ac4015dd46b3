import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { Lease, LeaseStore } from '../../runtime/ports.js';

export interface LeaseStoreHarness {
  store: LeaseStore;
  cleanup?: () => Promise<void>;
  /** Lets every lease's ttl run out (and returns once the store no longer holds any). */
  expire: () => Promise<void>;
  /**
   * Lets `ms` (less than the ttl) pass: moves a manual clock, or sleeps. Needed to show that a
   * renewal restarts a lease's lifetime, which no `expire()` can.
   */
  advance: (ms: number) => Promise<void>;
}

/** Rejects with a VigilError of this code. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a VigilError ${code}`).toBeInstanceOf(VigilError);
  expect((err as VigilError).code).toBe(code);
}

const byKey = (a: Lease, b: Lease): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The LeaseStore contract (runtime/ports.ts), run against every adapter. `make` returns a fresh,
 * empty store for each test; the suite closes it, then calls `cleanup`.
 */
export function leaseStoreConformance(name: string, make: () => Promise<LeaseStoreHarness>): void {
  describe(`LeaseStore conformance: ${name}`, () => {
    let h: LeaseStoreHarness;
    let store: LeaseStore;
    beforeEach(async () => {
      h = await make();
      store = h.store;
    });
    afterEach(async () => {
      await store.close();
      await h.cleanup?.();
    });

    it('has a positive ttl', () => {
      expect(store.ttlMs).toBeGreaterThan(0);
    });

    it('acquires a free key and reports its revision', async () => {
      const rev = await store.acquire('kg.1', 'node-a', 'http://a:8080');
      expect(rev).not.toBeNull();
      expect(Number.isSafeInteger(rev)).toBe(true);
      expect(rev).toBeGreaterThan(0);
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'http://a:8080', revision: rev }]);
    });

    it('refuses to acquire a held key, whoever asks, and leaves the lease as it was', async () => {
      const rev = await store.acquire('kg.1', 'node-a', 'a');
      expect(await store.acquire('kg.1', 'node-b', 'b')).toBeNull();
      expect(await store.acquire('kg.1', 'node-a', 'a2')).toBeNull();
      expect(await store.list('kg.')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: rev }]);
    });

    it('renews with the current revision: a higher revision and the new value', async () => {
      const r1 = (await store.acquire('kg.1', 'node-a', 'v1'))!;
      const r2 = await store.renew('kg.1', 'node-a', 'v2', r1);
      expect(r2).not.toBeNull();
      expect(r2).toBeGreaterThan(r1);
      const r3 = await store.renew('kg.1', 'node-a', 'v3', r2!);
      expect(r3).toBeGreaterThan(r2!);
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'v3', revision: r3 }]);
    });

    it('refuses a renewal with a stale or unknown revision, and on a key nobody holds', async () => {
      const r1 = (await store.acquire('kg.1', 'node-a', 'v1'))!;
      const r2 = (await store.renew('kg.1', 'node-a', 'v2', r1))!;
      expect(await store.renew('kg.1', 'node-a', 'stale', r1)).toBeNull();
      expect(await store.renew('kg.1', 'node-a', 'future', r2 + 1000)).toBeNull();
      expect(await store.renew('kg.1', 'node-a', 'zero', 0)).toBeNull();
      expect(await store.renew('kg.1', 'node-a', 'negative', -r2)).toBeNull();
      expect(await store.renew('kg.2', 'node-a', 'free', r2)).toBeNull();
      // The refused renewals changed nothing, and did not take the free key.
      expect(await store.list('kg.')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'v2', revision: r2 }]);
    });

    it('refuses a renewal by another holder, even with the current revision', async () => {
      const rev = (await store.acquire('kg.1', 'node-a', 'a'))!;
      expect(await store.renew('kg.1', 'node-b', 'b', rev)).toBeNull();
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: rev }]);
      // The holder can still renew it.
      expect(await store.renew('kg.1', 'node-a', 'a', rev)).toBeGreaterThan(rev);
    });

    it('releases with the current revision; the key is free again and its next revision is higher', async () => {
      const r1 = (await store.acquire('kg.1', 'node-a', 'a'))!;
      const r2 = (await store.renew('kg.1', 'node-a', 'a', r1))!;
      expect(await store.release('kg.1', r2)).toBe(true);
      expect(await store.list('kg.')).toEqual([]);
      // A second release of the same lease finds nothing held.
      expect(await store.release('kg.1', r2)).toBe(false);
      const r3 = await store.acquire('kg.1', 'node-b', 'b');
      expect(r3).not.toBeNull();
      expect(r3).toBeGreaterThan(r2);
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-b', value: 'b', revision: r3 }]);
    });

    it('refuses a release with a stale or unknown revision and keeps the lease', async () => {
      const r1 = (await store.acquire('kg.1', 'node-a', 'a'))!;
      const r2 = (await store.renew('kg.1', 'node-a', 'a', r1))!;
      expect(await store.release('kg.1', r1)).toBe(false);
      expect(await store.release('kg.1', r2 + 1000)).toBe(false);
      expect(await store.release('kg.1', 0)).toBe(false);
      expect(await store.release('kg.2', r2)).toBe(false);
      expect(await store.acquire('kg.1', 'node-b', 'b')).toBeNull();
      expect(await store.list('kg.')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: r2 }]);
      expect(await store.renew('kg.1', 'node-a', 'a', r2)).toBeGreaterThan(r2);
    });

    it('frees a lease nobody renews; the next holder gets a higher revision', async () => {
      const r1 = (await store.acquire('kg.1', 'node-a', 'a'))!;
      await h.advance(Math.round(store.ttlMs / 2));
      expect(await store.acquire('kg.1', 'node-b', 'b')).toBeNull();
      await h.expire();
      expect(await store.list('')).toEqual([]);
      const r2 = await store.acquire('kg.1', 'node-b', 'b');
      expect(r2).not.toBeNull();
      expect(r2).toBeGreaterThan(r1);
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-b', value: 'b', revision: r2 }]);
    });

    it('a renewal restarts the lease\'s lifetime', async () => {
      const ttl = store.ttlMs;
      const r1 = (await store.acquire('kg.1', 'node-a', 'a'))!;
      await h.advance(Math.round(ttl * 0.6));
      const r2 = (await store.renew('kg.1', 'node-a', 'a', r1))!;
      expect(r2).toBeGreaterThan(r1);
      // Past the first acquire's ttl, within the renewal's.
      await h.advance(Math.round(ttl * 0.6));
      expect(await store.acquire('kg.1', 'node-b', 'b')).toBeNull();
      expect(await store.list('kg.1')).toEqual([{ key: 'kg.1', holder: 'node-a', value: 'a', revision: r2 }]);
      expect(await store.renew('kg.1', 'node-a', 'a', r2)).toBeGreaterThan(r2);
    });

    it('fences the old holder out once its lease expired and another took it', async () => {
      const old = (await store.acquire('kg.1', 'node-a', 'a'))!;
      await h.expire();
      // Expired, not yet retaken: still no renewal or release for the old holder.
      expect(await store.renew('kg.1', 'node-a', 'a', old)).toBeNull();
      expect(await store.release('kg.1', old)).toBe(false);
      const next = (await store.acquire('kg.1', 'node-b', 'b'))!;
      expect(next).toBeGreaterThan(old);
      expect(await store.renew('kg.1', 'node-a', 'a', old)).toBeNull();
      expect(await store.release('kg.1', old)).toBe(false);
      // The new holder is untouched by the old one's attempts.
      expect(await store.list('kg.')).toEqual([{ key: 'kg.1', holder: 'node-b', value: 'b', revision: next }]);
      expect(await store.renew('kg.1', 'node-b', 'b', next)).toBeGreaterThan(next);
    });

    it('lists the live leases whose key starts with the prefix, with holder, value and revision', async () => {
      const live = new Map<string, Lease>();
      for (const [key, holder] of [
        ['kg.1', 'node-a'],
        ['kg.2', 'node-b'],
        ['kg.10', 'node-a'],
        ['kg.1.x', 'node-c'],
        ['kgx', 'node-a'],
        ['node.a', 'node-a'],
        ['node.b', 'node-b'],
      ] as const) {
        const value = `${holder}@${key}`;
        live.set(key, { key, holder, value, revision: (await store.acquire(key, holder, value))! });
      }
      expect(await store.release('kg.2', live.get('kg.2')!.revision)).toBe(true);
      live.delete('kg.2');
      const nb = live.get('node.b')!;
      live.set('node.b', { ...nb, value: 'renewed', revision: (await store.renew('node.b', 'node-b', 'renewed', nb.revision))! });
      const leases = (...keys: string[]): Lease[] => keys.map((k) => live.get(k)!);
      const list = async (prefix: string): Promise<Lease[]> => (await store.list(prefix)).sort(byKey);

      expect(await list('kg.')).toEqual(leases('kg.1', 'kg.1.x', 'kg.10'));
      // A string prefix, not a token prefix: "kg.1" covers kg.10 and kg.1.x too.
      expect(await list('kg.1')).toEqual(leases('kg.1', 'kg.1.x', 'kg.10'));
      expect(await list('kg.1.')).toEqual(leases('kg.1.x'));
      expect(await list('kg')).toEqual(leases('kg.1', 'kg.1.x', 'kg.10', 'kgx'));
      expect(await list('node.')).toEqual(leases('node.a', 'node.b'));
      expect(await list('')).toEqual(leases(...[...live.keys()].sort()));
      expect(await list('kg.2')).toEqual([]);
      expect(await list('nothing.')).toEqual([]);

      await h.expire();
      expect(await store.list('')).toEqual([]);
      expect(await store.list('kg.')).toEqual([]);
    });

    it('hands out strictly increasing revisions across keys', async () => {
      const seen: number[] = [];
      const take = (r: number | null): number => {
        expect(r).not.toBeNull();
        seen.push(r!);
        return r!;
      };
      const a = take(await store.acquire('kg.a', 'n', 'v'));
      const b = take(await store.acquire('kg.b', 'n', 'v'));
      const a2 = take(await store.renew('kg.a', 'n', 'v', a));
      expect(await store.release('kg.b', b)).toBe(true);
      take(await store.acquire('node.x', 'n', 'v'));
      take(await store.acquire('kg.b', 'm', 'v'));
      take(await store.renew('kg.a', 'n', 'v', a2));
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    });

    it('lets exactly one of several concurrent acquires of a key win: free, released or expired', async () => {
      const race = async (key: string): Promise<number> => {
        const holders = Array.from({ length: 8 }, (_, i) => `node-${i}`);
        const got = await Promise.all(holders.map((holder) => store.acquire(key, holder, holder)));
        const winners = got.flatMap((r, i) => (r === null ? [] : [{ holder: holders[i]!, revision: r }]));
        expect(winners).toHaveLength(1);
        const [w] = winners;
        expect(await store.list(key)).toEqual([{ key, holder: w!.holder, value: w!.holder, revision: w!.revision }]);
        return w!.revision;
      };
      const r1 = await race('kg.7');
      expect(await store.release('kg.7', r1)).toBe(true);
      const r2 = await race('kg.7');
      expect(r2).toBeGreaterThan(r1);
      await h.expire();
      expect(await race('kg.7')).toBeGreaterThan(r2);
    });

    it('keeps holder and value exactly, whatever they hold', async () => {
      const cases = [
        ['node-1', ''],
        ['', 'empty holder'],
        ['hôpital-🩺', '{"url":"http://10.0.0.1:8080","w":[1,2]}'],
        ['q"uo\\te', 'line1\nline2\r\n\u2028\u0000 "q" \\ עברית'],
        ['big', 'x'.repeat(20_000)],
      ] as const;
      const revs: number[] = [];
      for (const [i, [holder, value]] of cases.entries()) revs.push((await store.acquire(`h.${i}`, holder, value))!);
      expect(await store.list('h.')).toEqual(cases.map(([holder, value], i) => ({ key: `h.${i}`, holder, value, revision: revs[i] })));
      // Renewals compare the holder exactly.
      expect(await store.renew('h.2', 'hôpital-🩺', 'v', revs[2]!)).toBeGreaterThan(revs[2]!);
      expect(await store.renew('h.3', 'q"uo\\te ', 'v', revs[3]!)).toBeNull();
    });

    it('accepts keys of [-/_=a-zA-Z0-9] tokens and rejects the rest as invalid options', async () => {
      for (const key of ['a', 'A-b_c/d=e.0', 'kg.0042', 'node.n-1.url', `k.${'x'.repeat(500)}`]) {
        expect(await store.acquire(key, 'n', 'v'), key).not.toBeNull();
      }
      for (const key of ['', ' ', 'a b', '.a', 'a.', 'a..b', 'a*', 'a.>', 'ä', 'a\nb', 'a:b', 'x'.repeat(5000)]) {
        await rejectsWith(store.acquire(key, 'n', 'v'), ErrorCode.InvalidOption);
        await rejectsWith(store.renew(key, 'n', 'v', 1), ErrorCode.InvalidOption);
        await rejectsWith(store.release(key, 1), ErrorCode.InvalidOption);
      }
      for (const prefix of ['.a', 'a..', 'a*', '>', 'a b']) await rejectsWith(store.list(prefix), ErrorCode.InvalidOption);
    });

    it('closes idempotently, and refuses calls once closed', async () => {
      await store.acquire('kg.1', 'n', 'v');
      await store.close();
      await store.close();
      await rejectsWith(store.acquire('kg.2', 'n', 'v'), ErrorCode.ShuttingDown);
      await rejectsWith(store.renew('kg.1', 'n', 'v', 1), ErrorCode.ShuttingDown);
      await rejectsWith(store.release('kg.1', 1), ErrorCode.ShuttingDown);
      await rejectsWith(store.list(''), ErrorCode.ShuttingDown);
    });
  });
}
