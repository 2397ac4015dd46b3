// The PatientIndex + AlertIndex conformance suite (the derived read model): every adapter
// (runtime/read-model.ts in process, adapters/redis/read-model.ts) must pass it, so the patient
// list and the alert lists answer the same whichever is wired.
import { describe, expect, it } from 'vitest';
import type { AlertIndex, AlertLevelName, AlertRecord, AlertState, PatientIndex } from '../../runtime/ports.js';
import type { ReadModelOptions } from '../../runtime/read-model.js';

export type ReadModel = PatientIndex & AlertIndex;

export interface ReadModelFixture {
  model: ReadModel;
  cleanup?: () => Promise<void>;
}

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

function alert(id: string, o: { tenant?: string; level?: AlertLevelName; state?: AlertState; t?: number; value?: number; by?: string; note?: string; until?: number } = {}): AlertRecord {
  const base: AlertRecord = {
    alertId: id, tenant: o.tenant ?? 'a', subjectKind: 'patient', subjectId: `p-${id}`, level: o.level ?? 'high',
    state: o.state ?? 'open', reason: 'news2', value: o.value ?? 7, eventTime: o.t ?? T0,
  };
  return { ...base, ...(o.by !== undefined ? { by: o.by } : {}), ...(o.note !== undefined ? { note: o.note } : {}), ...(o.until !== undefined ? { until: o.until } : {}) };
}

const ids = (rs: readonly AlertRecord[]): string[] => rs.map((r) => `${r.alertId}:${r.state}:${r.level}`);

export function readModelConformance(name: string, make: (options?: ReadModelOptions) => Promise<ReadModelFixture>): void {
  describe(`read model conformance: ${name}`, () => {
    const withModel = (options: ReadModelOptions | undefined, fn: (m: ReadModel) => Promise<void>) => async () => {
      const f = await make(options);
      try {
        await fn(f.model);
      } finally {
        await f.model.close();
        await f.cleanup?.();
      }
    };

    it('pages a tenant\'s patients in code-point order with an exclusive cursor', withModel(undefined, async (m) => {
      // U+FF21 sorts before U+1F600 by code point, after it in UTF-16 code units.
      const all = ['p-10', 'p-2', 'p-1', 'Z', 'p-\uFF21', 'p-\u{1F600}', 'é', 'p-3'];
      await m.addPatients(all.map((id) => ['a', id] as const));
      await m.addPatients([['a', 'p-1'], ['a', 'p-2'], ['b', 'other']]);
      const want = ['Z', 'p-1', 'p-10', 'p-2', 'p-3', 'p-\uFF21', 'p-\u{1F600}', 'é'];
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const p = await m.patientPage('a', 3, cursor);
        expect(p.total).toBe(want.length);
        seen.push(...p.ids);
        cursor = p.next;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual(want);
      expect(pages).toBe(3);
      // A page that ends exactly at the last id says nothing follows.
      expect(await m.patientPage('a', 8, null)).toEqual({ ids: want, next: null, total: 8 });
      expect(await m.patientPage('a', 2, 'p-3')).toEqual({ ids: ['p-\uFF21', 'p-\u{1F600}'], next: 'p-\u{1F600}', total: 8 });
      // A cursor need not be a stored id.
      expect((await m.patientPage('a', 2, 'p-15')).ids).toEqual(['p-2', 'p-3']);
      expect(await m.patientPage('b', 10, null)).toEqual({ ids: ['other'], next: null, total: 1 });
      expect(await m.patientPage('nobody', 10, null)).toEqual({ ids: [], next: null, total: 0 });
      expect(await m.patientCounts()).toEqual({ a: 8, b: 1 });
    }));

    it('keeps open alerts at their latest transition; only resolved ends one', withModel(undefined, async (m) => {
      const applied = await m.applyAlerts([
        alert('x1', { level: 'high', t: T0 }),
        alert('x2', { level: 'medium', t: T0 + 1 }),
        alert('x1', { level: 'critical', t: T0 + 2, value: 9 }),
        alert('x2', { state: 'acknowledged', level: 'medium', t: T0 + 3, by: 'nurse', note: 'seen' }),
        alert('x3', { level: 'low', t: T0 + 4 }),
        alert('x3', { state: 'shelved', level: 'low', t: T0 + 5, by: 'nurse', until: T0 + 60_000 }),
        alert('x4', { level: 'high', t: T0 + 6 }),
        alert('x4', { state: 'resolved', level: 'high', t: T0 + 7 }),
      ]);
      expect(applied).toHaveLength(8);
      const top = await m.topAlerts('a', 10);
      expect(ids(top)).toEqual(['x1:open:critical', 'x2:acknowledged:medium', 'x3:shelved:low']);
      expect(top[0]!.value).toBe(9);
      expect(top[1]).toEqual(alert('x2', { state: 'acknowledged', level: 'medium', t: T0 + 3, by: 'nurse', note: 'seen' }));
      expect(top[2]!.until).toBe(T0 + 60_000);
      expect(ids(await m.topAlerts('a', 1))).toEqual(['x1:open:critical']);
      expect(await m.openAlertCounts()).toEqual({ a: { low: 1, medium: 1, high: 0, critical: 1, total: 3 } });
      // Every transition, newest first.
      expect(ids(await m.recentAlerts('a', 'low', 100))).toEqual([
        'x4:resolved:high', 'x4:open:high', 'x3:shelved:low', 'x3:open:low', 'x2:acknowledged:medium', 'x1:open:critical', 'x2:open:medium', 'x1:open:high',
      ]);
      expect(ids(await m.recentAlerts('a', 'high', 3))).toEqual(['x4:resolved:high', 'x4:open:high', 'x1:open:critical']);
      expect(ids(await m.recentAlerts('a', 'critical', 10))).toEqual(['x1:open:critical']);
      expect(await m.recentAlerts('b', 'low', 10)).toEqual([]);
      expect(await m.topAlerts('b', 10)).toEqual([]);
      // Looked up by id, within its tenant only.
      expect(await m.lookupAlert('a', 'x2')).toEqual(alert('x2', { state: 'acknowledged', level: 'medium', t: T0 + 3, by: 'nurse', note: 'seen' }));
      expect(await m.lookupAlert('a', 'x4')).toBe('resolved');
      expect(await m.lookupAlert('a', 'nope')).toBeNull();
      expect(await m.lookupAlert('b', 'x1')).toBeNull();
    }));

    it('orders top by level, then latest event time, then alert id descending', withModel(undefined, async (m) => {
      await m.applyAlerts([
        alert('b', { level: 'high', t: T0 }),
        alert('c', { level: 'high', t: T0 }),
        alert('a', { level: 'high', t: T0 }),
        alert('old', { level: 'critical', t: T0 - 1000 }),
        alert('new', { level: 'high', t: T0 + 1000 }),
      ]);
      expect((await m.topAlerts('a', 10)).map((r) => r.alertId)).toEqual(['old', 'new', 'c', 'b', 'a']);
    }));

    it('skips a replay: transitions already applied and anything of a resolved alert', withModel(undefined, async (m) => {
      const batch = [
        alert('r1', { level: 'high', t: T0 }),
        alert('r1', { level: 'critical', t: T0 + 1 }),
        alert('r2', { level: 'medium', t: T0 + 2 }),
        alert('r2', { state: 'resolved', level: 'medium', t: T0 + 3 }),
      ];
      expect(await m.applyAlerts(batch)).toHaveLength(4);
      const before = { top: await m.topAlerts('a', 10), recent: await m.recentAlerts('a', 'low', 100), counts: await m.openAlertCounts() };
      // A restart replays from the checkpoint: the same records again, whole or in part.
      expect(await m.applyAlerts(batch)).toEqual([]);
      expect(await m.applyAlerts(batch.slice(2, 3))).toEqual([]);
      const now = async () => ({ top: await m.topAlerts('a', 10), recent: await m.recentAlerts('a', 'low', 100), counts: await m.openAlertCounts() });
      expect(await now()).toEqual(before);
      // Mid-replay an open alert shows where the replay is; at its end, where it was.
      expect(await m.applyAlerts(batch.slice(0, 1))).toEqual([]);
      expect(ids(await m.topAlerts('a', 10))).toEqual(['r1:open:high']);
      expect(await m.recentAlerts('a', 'low', 100)).toEqual(before.recent);
      expect(await m.applyAlerts(batch.slice(1, 2))).toEqual([]);
      expect(await now()).toEqual(before);
      // A new transition of an open alert is applied, and returned as applied.
      const next = alert('r1', { state: 'acknowledged', level: 'critical', t: T0 + 10, by: 'dr' });
      expect(await m.applyAlerts([batch[0]!, next])).toEqual([next]);
      expect(ids(await m.topAlerts('a', 10))).toEqual(['r1:acknowledged:critical']);
    }));

    it('ends a replay at the actor\'s latest transition even when one was re-emitted differently', withModel(undefined, async (m) => {
      const ack = alert('s1', { state: 'acknowledged', level: 'high', t: T0 + 50, by: 'rn' });
      await m.applyAlerts([alert('s1', { level: 'high', t: T0 }), ack]);
      // A timer-raised opening fires at another time in the replay: it is new, the acknowledgement is not.
      const refired = alert('s1', { level: 'high', t: T0 + 7 });
      expect(await m.applyAlerts([refired, ack])).toEqual([refired]);
      expect(await m.topAlerts('a', 10)).toEqual([ack]);
      expect(await m.lookupAlert('a', 's1')).toEqual(ack);
    }));

    it('keeps tenants apart and counts every tenant\'s open alerts', withModel(undefined, async (m) => {
      await m.applyAlerts([
        alert('t1', { tenant: 'a', level: 'critical' }),
        alert('t2', { tenant: 'b', level: 'low' }),
        alert('t3', { tenant: 'b', level: 'low', t: T0 + 1 }),
        alert('t3', { tenant: 'b', state: 'resolved', level: 'low', t: T0 + 2 }),
      ]);
      expect(ids(await m.topAlerts('a', 10))).toEqual(['t1:open:critical']);
      expect(ids(await m.topAlerts('b', 10))).toEqual(['t2:open:low']);
      expect(await m.openAlertCounts()).toEqual({
        a: { low: 0, medium: 0, high: 0, critical: 1, total: 1 },
        b: { low: 1, medium: 0, high: 0, critical: 0, total: 1 },
      });
      // Every tenant's, newest first, in the order applied.
      expect(ids(await m.recentAlerts(null, 'low', 10))).toEqual(['t3:resolved:low', 't3:open:low', 't2:open:low', 't1:open:critical']);
      expect(ids(await m.recentAlerts(null, 'critical', 10))).toEqual(['t1:open:critical']);
      await m.applyAlerts([alert('t2', { tenant: 'b', state: 'resolved', level: 'low', t: T0 + 3 })]);
      expect(await m.openAlertCounts()).toEqual({ a: { low: 0, medium: 0, high: 0, critical: 1, total: 1 } });
    }));

    it('caps the recent lists per tenant and level, and over all tenants', withModel({ recentKeep: 3, recentAllKeep: 4 }, async (m) => {
      const batch: AlertRecord[] = [];
      for (let i = 0; i < 6; i++) batch.push(alert(`c${i}`, { level: i === 0 ? 'critical' : 'low', t: T0 + i }));
      await m.applyAlerts(batch.slice(0, 3));
      await m.applyAlerts(batch.slice(3));
      expect((await m.recentAlerts('a', 'low', 10)).map((r) => r.alertId)).toEqual(['c5', 'c4', 'c3']);
      // The critical one is still in the list of its own level.
      expect((await m.recentAlerts('a', 'critical', 10)).map((r) => r.alertId)).toEqual(['c0']);
      expect((await m.recentAlerts(null, 'low', 10)).map((r) => r.alertId)).toEqual(['c5', 'c4', 'c3', 'c2']);
      expect((await m.topAlerts('a', 10))).toHaveLength(6);
    }));

    it('remembers resolved alerts up to resolvedKeep per tenant', withModel({ resolvedKeep: 2 }, async (m) => {
      for (const id of ['d1', 'd2', 'd3']) {
        await m.applyAlerts([alert(id, { t: T0 }), alert(id, { state: 'resolved', t: T0 + 1 })]);
      }
      // d2, d3 are remembered: their replay changes nothing; d1 was forgotten first.
      expect(await m.applyAlerts([alert('d3', { t: T0 }), alert('d2', { t: T0 })])).toEqual([]);
      expect(await m.applyAlerts([alert('d1', { t: T0 })])).toHaveLength(1);
    }));
  });
}
