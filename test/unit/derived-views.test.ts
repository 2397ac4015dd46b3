// AlertHub and PatientDirectory over their indexes (issue 14 item 3): what reaches the feed is
// what the index applied (a replay does not), downstream gets every transition at least once (a
// kill -9 between the index write and the forward loses nothing), a failing index is retried in
// order, and the directory writes each new patient once per batch.
import { describe, expect, it } from 'vitest';
import { AlertHub, type AlertView } from '../../adapters/http/alert-hub.js';
import { PatientDirectory } from '../../adapters/http/reads.js';
import { MemoryReadModel } from '../../adapters/memory/index.js';
import type { AlertRecord, AlertSink, PatientIndex } from '../../runtime/ports.js';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);
const rec = (id: string, o: Partial<AlertRecord> = {}): AlertRecord => ({
  alertId: id, tenant: 'a', subjectKind: 'patient', subjectId: `p-${id}`, level: 'high', state: 'open', reason: 'news2', value: 7, eventTime: T0, ...o,
});

describe('AlertHub over an AlertIndex', () => {
  it('pushes only what the index applied (a replay does not reach the feed); forwards every transition', async () => {
    const forwarded: AlertRecord[] = [];
    const down: AlertSink = { publish: async (a) => void forwarded.push(...a), close: async () => {} };
    const hub = new AlertHub(down, { index: new MemoryReadModel() });
    const feed: AlertView[] = [];
    hub.subscribe('a', 'low', (v) => feed.push(v));
    const batch = [rec('x'), rec('x', { level: 'critical', eventTime: T0 + 1 }), rec('y', { tenant: 'b' })];
    await hub.publish(batch);
    await hub.publish(batch);
    await hub.publish([batch[0]!, rec('x', { state: 'acknowledged', level: 'critical', eventTime: T0 + 2, by: 'rn' })]);
    expect(feed.map((v) => `${v.alert_id}:${v.state}:${v.level}`)).toEqual(['x:open:high', 'x:open:critical', 'x:acknowledged:critical']);
    // At least once downstream: the replayed batch goes again (downstream is idempotent per transition).
    expect(forwarded.map((a) => `${a.alertId}:${a.state}`)).toEqual(['x:open', 'x:open', 'y:open', 'x:open', 'x:open', 'y:open', 'x:open', 'x:acknowledged']);
    expect((await hub.topFor('a', 10)).map((v) => [v.alert_id, v.state])).toEqual([['x', 'acknowledged']]);
    expect((await hub.recentFor('a', 'critical', 10)).map((v) => v.state)).toEqual(['acknowledged', 'open']);
    expect((await hub.recentAll(10)).map((v) => v.alert_id)).toEqual(['x', 'y', 'x', 'x']);
    expect(await hub.openCounts()).toEqual({
      total: { low: 0, medium: 0, high: 1, critical: 1, total: 2 },
      by_tenant: { a: { low: 0, medium: 0, high: 0, critical: 1, total: 1 }, b: { low: 0, medium: 0, high: 1, critical: 0, total: 1 } },
    });
  });

  it('writes: false only pushes to subscribers (the owner applied it); reads still come from the index', async () => {
    const index = new MemoryReadModel();
    await index.applyAlerts([rec('z')]);
    const hub = new AlertHub(null, { index, writes: false });
    const feed: string[] = [];
    hub.subscribe('a', 'high', (v) => feed.push(v.alert_id));
    await hub.publish([rec('w'), rec('v', { level: 'low' })]);
    expect(feed).toEqual(['w']);
    // The owner's copies after its restart (it forwards replays too) reach this feed once.
    await hub.publish([rec('w'), rec('u')]);
    expect(feed).toEqual(['w', 'u']);
    expect((await hub.topFor('a', 10)).map((v) => v.alert_id)).toEqual(['z']);
  });

  it('retries a failing index in order; later batches wait behind the failed one', async () => {
    const real = new MemoryReadModel();
    let failures = 2;
    const calls: string[][] = [];
    const index = Object.assign(Object.create(real) as MemoryReadModel, {
      applyAlerts: async (alerts: readonly AlertRecord[]) => {
        calls.push(alerts.map((a) => a.alertId));
        if (failures-- > 0) throw new Error('redis down');
        return real.applyAlerts(alerts);
      },
    });
    const errors: string[] = [];
    const hub = new AlertHub(null, { index, retryMs: 5, onError: (e) => errors.push(e.message) });
    const feed: string[] = [];
    hub.subscribe('a', 'low', (v) => feed.push(v.alert_id));
    const first = hub.publish([rec('1')]);
    await new Promise((r) => setTimeout(r, 1));
    const second = hub.publish([rec('2')]);
    await Promise.all([first, second]);
    expect(feed).toEqual(['1', '2']);
    expect(errors).toEqual(['redis down', 'redis down']);
    expect(calls).toEqual([['1'], ['1'], ['1'], ['2']]);
    expect((await hub.recentFor('a', 'low', 10)).map((v) => v.alert_id)).toEqual(['2', '1']);
  });
});

describe('reads when the store is down', () => {
  it('answer unavailable (503), not a server error', async () => {
    const down = () => Promise.reject(new VigilError(ErrorCode.StoreUnavailable, 'read model recent alerts failed: redis down'));
    const index = Object.assign(Object.create(new MemoryReadModel()) as MemoryReadModel, { recentAlerts: down, topAlerts: down, patientPage: down });
    const hub = new AlertHub(null, { index });
    await expect(hub.recentFor('a', 'low', 10)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    await expect(hub.topFor('a', 10)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(new PatientDirectory(index).page('a', 10, null)).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('PatientDirectory over a PatientIndex', () => {
  const ev = (tenant: string, id: string): RuntimeEvent => ({ tenant, kind: 'patient', id, time: T0, body: { p: {} } });

  it('writes each new patient once, one write per batch; a failed write is retried when the patient is seen again', async () => {
    const real = new MemoryReadModel();
    const writes: string[][] = [];
    let fail = false;
    const index: PatientIndex = Object.assign(Object.create(real) as MemoryReadModel, {
      addPatients: async (pairs: readonly (readonly [string, string])[]) => {
        writes.push(pairs.map(([t, id]) => `${t}/${id}`));
        if (fail) throw new Error('redis down');
        return real.addPatients(pairs);
      },
    });
    const errors: string[] = [];
    const dir = new PatientDirectory(index, (e) => errors.push(e.message));
    dir.note([ev('a', 'p1'), ev('a', 'p2'), ev('a', 'p1'), ev('b', 'p1')]);
    dir.note([ev('a', 'p1')]);
    dir.addAll([['a', 'p2'], ['a', 'p3']]);
    await dir.flushed();
    expect(writes).toEqual([['a/p1', 'a/p2', 'b/p1'], ['a/p3']]);
    fail = true;
    dir.add('a', 'p4');
    await dir.flushed();
    expect(errors).toEqual(['redis down']);
    fail = false;
    dir.add('a', 'p4');
    await dir.flushed();
    expect(await dir.page('a', 2, null)).toEqual({ patients: ['p1', 'p2'], next_cursor: 'p2', total: 4 });
    expect(await dir.page('a', 2, 'p2')).toEqual({ patients: ['p3', 'p4'], next_cursor: null, total: 4 });
    expect(await dir.counts()).toEqual({ a: 4, b: 1 });
  });
});
