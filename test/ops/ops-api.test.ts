// The ops page's data (adapters/http/ops.ts) from fake deps, its helpers (freshness tracking,
// the all-tenant alert log), and the /ops routes of the uWS server (auth, methods, content types).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestService } from '../../actors/ingest.js';
import { AlertHub } from '../../adapters/http/alert-hub.js';
import { TokenBook } from '../../adapters/http/auth.js';
import { createOpsApi, findOpsPage, FreshnessTracker, RecentAlertLog, type OpsDeps } from '../../adapters/http/ops.js';
import type { ReadApi } from '../../adapters/http/reads.js';
import { startServer, type RunningServer } from '../../adapters/uws/server.js';
import { ShardMap } from '../../runtime/keygroups.js';
import { kDefaultRuntimeOptions } from '../../runtime/options.js';
import type { AlertRecord, AlertSink } from '../../runtime/ports.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function alert(n: number, over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    alertId: `al_${n}`, tenant: 'demo', subjectKind: 'patient', subjectId: `p${n}`, level: 'high', state: 'open', reason: 'news2', value: n,
    eventTime: Date.UTC(2026, 10, 21, 10, 0, n), ...over,
  };
}

type StatsRow = Awaited<ReturnType<OpsDeps['runtime']['stats']>>[number];

function fakeRuntime(stats: () => Promise<StatsRow[]>, generation = [1, 3]): OpsDeps['runtime'] {
  return { stats, shardMap: new ShardMap(16, 4), options: { ...kDefaultRuntimeOptions, keyGroups: 16, shards: 4, hosts: 2 }, generation };
}

const rows: StatsRow[] = [
  { hostId: 0, generation: 1, appliedSeq: 10, inFlight: 0, active: 5, parked: 0, timers: 5, keyGroups: 8, queued: 0, inbox: 0 },
  { hostId: 1, generation: 3, appliedSeq: 12, inFlight: 1, active: 7, parked: 2, timers: 7, keyGroups: 8, queued: 30, inbox: 1 },
];

describe('createOpsApi().data()', () => {
  it('reports hosts, the shard map, alerts, events and freshness', async () => {
    const log = new RecentAlertLog(10);
    await log.publish([alert(1), alert(2, { tenant: 'acme', level: 'critical' })]);
    const now = Date.UTC(2026, 10, 21, 10, 1, 0);
    const api = createOpsApi({
      runtime: fakeRuntime(async () => rows),
      recentAlerts: (limit) => log.recent(limit),
      eventsTotal: () => 1234,
      freshness: () => ({ demo: now - 2500, acme: null }),
      now: () => now,
    });
    const d = await api.data();
    expect(d.now).toBe(now);
    expect(d.generated_at).toBe(new Date(now).toISOString());
    expect(d.events_total).toBe(1234);
    expect(d.cluster).toEqual({ key_groups: 16, shards: 4, hosts: 2, epoch: 1 });
    expect(d.hosts_error).toBeNull();
    expect(d.hosts).toEqual([
      { host: 0, generation: 1, restarts: 0, resident_actors: 5, parked_events: 0, timers: 5, key_groups: 8, applied_seq: 10, in_flight: 0, queued_events: 0, held_messages: 0, mailbox_depth: 0 },
      { host: 1, generation: 3, restarts: 2, resident_actors: 7, parked_events: 2, timers: 7, key_groups: 8, applied_seq: 12, in_flight: 1, queued_events: 30, held_messages: 1, mailbox_depth: 33 },
    ]);
    expect(d.shards).toEqual([
      { shard: 0, key_groups: [0, 4], host: 0 },
      { shard: 1, key_groups: [4, 8], host: 1 },
      { shard: 2, key_groups: [8, 12], host: 0 },
      { shard: 3, key_groups: [12, 16], host: 1 },
    ]);
    expect(d.alerts.map((a) => [a.alert_id, a.tenant_id, a.level])).toEqual([['al_2', 'acme', 'critical'], ['al_1', 'demo', 'high']]);
    expect(d.freshness).toEqual([
      { tenant: 'acme', newest_event_time: null, age_ms: null },
      { tenant: 'demo', newest_event_time: new Date(now - 2500).toISOString(), age_ms: 2500 },
    ]);
    // The wire form is plain JSON.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('answers without host counts when a host does not answer (e.g. being replaced)', async () => {
    const api = createOpsApi({
      runtime: fakeRuntime(() => new Promise(() => {}), [2, 1]),
      recentAlerts: () => [],
      eventsTotal: () => 0,
      freshness: () => ({}),
      statsTimeoutMs: 50,
    });
    const d = await api.data();
    expect(d.hosts_error).toMatch(/within 50 ms/);
    expect(d.hosts).toEqual([
      { host: 0, generation: 2, restarts: 1, resident_actors: null, parked_events: null, timers: null, key_groups: 8, applied_seq: null, in_flight: null, queued_events: null, held_messages: null, mailbox_depth: null },
      { host: 1, generation: 1, restarts: 0, resident_actors: null, parked_events: null, timers: null, key_groups: 8, applied_seq: null, in_flight: null, queued_events: null, held_messages: null, mailbox_depth: null },
    ]);
  });

  it('serves dashboards/ops/index.html, read once', () => {
    const api = createOpsApi({ runtime: fakeRuntime(async () => rows), recentAlerts: () => [], eventsTotal: () => 0, freshness: () => ({}) });
    const html = api.page();
    expect(html).toBe(readFileSync(path.join(REPO, 'dashboards/ops/index.html'), 'utf8'));
    expect(api.page()).toBe(html);
    // No external resources: nothing loaded from another origin.
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).toContain('/ops/data');
  });

  it('finds the page from the sources and from dist/', () => {
    const want = path.join(REPO, 'dashboards/ops/index.html');
    expect(findOpsPage(path.join(REPO, 'adapters/compose'))).toBe(want);
    expect(findOpsPage(path.join(REPO, 'dist/adapters/compose'))).toBe(want);
    expect(() => findOpsPage('/')).toThrow(/not found/);
  });
});

describe('FreshnessTracker', () => {
  it('keeps the newest event time per tenant, never going back', () => {
    const f = new FreshnessTracker();
    f.expect('acme');
    f.expect('demo');
    expect(f.snapshot()).toEqual({ acme: null, demo: null });
    f.note([{ tenant: 'demo', time: 100 }, { tenant: 'demo', time: 300 }, { tenant: 'demo', time: 200 }]);
    f.note([{ tenant: 'demo', time: 250 }, { tenant: 'zeta', time: 50 }, { tenant: 'demo', time: 260 }]);
    f.note([]);
    f.expect('demo');
    expect(f.snapshot()).toEqual({ acme: null, demo: 300, zeta: 50 });
  });
});

describe('RecentAlertLog', () => {
  it('keeps the newest alerts of all tenants, newest first, and forwards downstream', async () => {
    const seen: AlertRecord[] = [];
    let closed = false;
    const down: AlertSink = {
      publish: async (a) => void seen.push(...a),
      close: async () => void (closed = true),
    };
    const log = new RecentAlertLog(3, down);
    expect(log.recent(10)).toEqual([]);
    await log.publish([alert(1), alert(2, { tenant: 'acme' })]);
    await log.publish([alert(3), alert(4, { state: 'resolved' })]);
    expect(log.recent(10).map((a) => a.alert_id)).toEqual(['al_4', 'al_3', 'al_2']);
    expect(log.recent(2).map((a) => a.alert_id)).toEqual(['al_4', 'al_3']);
    expect(log.recent(10)[0]).toMatchObject({ type: 'alert', tenant_id: 'demo', state: 'resolved', subject: { kind: 'patient', id: 'p4' } });
    expect(seen.map((a) => a.alertId)).toEqual(['al_1', 'al_2', 'al_3', 'al_4']);
    // As the AlertHub's downstream it sees every batch the hub publishes, for every tenant.
    const hubLog = new RecentAlertLog(10);
    const hub = new AlertHub(hubLog);
    await hub.publish([alert(5, { tenant: 'acme' }), alert(6)]);
    expect(hubLog.recent(10).map((a) => a.tenant_id)).toEqual(['demo', 'acme']);
    await log.close();
    expect(closed).toBe(true);
  });
});

describe('GET /ops, /ops/data on the uWS server', () => {
  const ADMIN = 'ops-admin-token';
  const TENANT = 'ops-tenant-token';
  let server: RunningServer;
  let bare: RunningServer;
  const base = (s: RunningServer): string => `http://127.0.0.1:${s.port}`;

  beforeAll(async () => {
    const tokens = new TokenBook();
    tokens.addAdminToken(ADMIN);
    tokens.addTenantToken('demo', TENANT);
    const common = {
      host: '127.0.0.1', port: 0, maxFrameBytes: 65536, maxBatchEvents: 100, credit: 4, idleTimeoutSec: 30,
      // The /ops routes touch neither ingest nor the read API.
      ingest: null as unknown as IngestService,
      reads: null as unknown as ReadApi,
      tokens,
      alerts: new AlertHub(null),
      metricsText: async () => ({ contentType: 'text/plain', text: '' }),
      ready: () => ({ ready: true, reasons: [] }),
    };
    server = await startServer({ ...common, ops: { page: () => '<!doctype html><title>ops</title>', data: async () => ({ events_total: 7 }) } });
    bare = await startServer(common);
  });
  afterAll(() => {
    server?.close();
    bare?.close();
  });

  const get = async (s: RunningServer, p: string, token?: string, method = 'GET') => {
    const r = await fetch(base(s) + p, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: 'manual' });
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text(), location: r.headers.get('location'), cookie: r.headers.get('set-cookie') };
  };

  it('serves the page shell to anyone (it holds no data; it signs in) and its data to the admin token, by header or ?token=', async () => {
    expect(await get(server, '/ops')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', text: '<!doctype html><title>ops</title>', cookie: null });
    expect(await get(server, '/ops', ADMIN)).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(await get(server, '/ops/data', ADMIN)).toMatchObject({ status: 200, type: 'application/json', text: '{"events_total":7}' });
    expect(await get(server, `/ops/data?token=${ADMIN}`)).toMatchObject({ status: 200, text: '{"events_total":7}' });
  });

  it('answers /ops?token= with a redirect to /ops: a session cookie for the admin token, nothing otherwise', async () => {
    const admin = await get(server, `/ops?token=${ADMIN}`);
    expect(admin).toMatchObject({ status: 303, location: '/ops' });
    expect(admin.cookie).toMatch(/^vigil_ops_session=[\w-]{43}; Path=\/ops; Max-Age=28800; HttpOnly; SameSite=Strict$/);
    const sid = /^vigil_ops_session=([\w-]+)/.exec(admin.cookie!)![1]!;
    const data = await fetch(`${base(server)}/ops/data`, { headers: { cookie: `vigil_ops_session=${sid}` } });
    expect(data.status).toBe(200);
    for (const t of ['wrong', TENANT]) expect(await get(server, `/ops?token=${t}`)).toMatchObject({ status: 303, location: '/ops', cookie: null });
  });

  it('refuses other callers and methods on /ops/data', async () => {
    const none = await get(server, '/ops/data');
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text)).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await get(server, '/ops/data', 'wrong')).status).toBe(401);
    const tenant = await get(server, '/ops/data', TENANT);
    expect(tenant.status).toBe(403);
    expect(JSON.parse(tenant.text)).toMatchObject({ error: { code: 'forbidden' } });
    for (const p of ['/ops', '/ops/data']) {
      expect((await get(server, p, ADMIN, 'POST')).status).toBe(405);
      const off = await get(bare, p, ADMIN);
      expect(off.status).toBe(404);
      expect(JSON.parse(off.text)).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await get(server, '/ops/nothing', ADMIN)).status).toBe(404);
  });
});
