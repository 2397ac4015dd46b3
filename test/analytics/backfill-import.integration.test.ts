// Back-fill end to end (issue 14 item 4, SPEC §5): two patients stream vitals live; then
// `vigil import` (the bin, a child process) sends 24 h of their glucose and blood-pressure history
// as CSV and of their vitals history as NDJSON, newest row first. Every row is accepted; the
// minute rollups in ClickHouse equal those of a second node that got the same events live in
// event-time order; the latest values, NEWS2 and open alerts are what they were before the import.
// History beyond the horizon is refused too_late, and the same history sent live (no import mark)
// still meets the live lateness rule.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { csvToEnvelopes, ndjsonToEnvelopes } from '../../load/import.js';
import { useClickHouse } from '../harness/servers.js';
import { BUILT, vigilAsync } from '../unit/cli-run.js';

const TOKEN = 'backfill-demo-token';
const MIN = 60_000;

interface Envelope { event_id: string; event_time: number | string; [k: string]: unknown }

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function post(node: VigilNode, body: unknown): Promise<{ accepted: number; duplicates: number; rejected: { code: string; message: string }[] }> {
  const r = await fetch(`${node.url}/v1/events:batch`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as { accepted: number; duplicates: number; rejected: { code: string; message: string }[] };
}

async function get(node: VigilNode, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 19); // the seed's zone-less UTC form

describe.skipIf(!BUILT)('back-fill through vigil import, against a live stream', () => {
  const ch = useClickHouse();
  const tag = randomBytes(3).toString('hex');
  const patients = [`bf-${tag}-1`, `bf-${tag}-2`];
  let live: VigilNode;
  let ref: VigilNode;
  let dir: string;
  const dbs: string[] = [];
  // Live vitals for the last 20 minutes; history for the 24 hours before.
  const liveFrom = Math.floor((Date.now() - 20 * MIN) / MIN) * MIN;
  const liveTo = liveFrom + 20 * MIN;
  const liveEvents: Envelope[] = [];
  const csvRows: string[] = ['patient_id,biometric_type,timestamp,value,systolic,diastolic,unit'];
  const ndjson: Envelope[] = [];

  function vitals(id: string, patient: string, t: number, p: Record<string, unknown>): Envelope {
    return { event_id: id, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: t, payload: { patient_id: patient, ...p } };
  }

  for (const [n, patient] of patients.entries()) {
    for (let t = liveFrom, i = 0; t < liveTo; t += 15_000, i++) {
      liveEvents.push(vitals(`live-${patient}-${i}`, patient, t, { heart_rate: 128 + n + (i % 4), resp_rate: 22, spo2: 95, systolic_bp: 118, temperature_c: 37, consciousness: 'A', on_oxygen: false }));
    }
    // Newest first, as a device log dumps it.
    for (let k = 1; k <= 24 * 60; k++) {
      const t = liveFrom - k * MIN + ((k * 7) % 50) * 1000;
      csvRows.push(`${patient},glucose,${iso(t)},${90 + ((k * 37 + n) % 120)},,,mg/dL`);
      if (k % 30 === 0) csvRows.push(`"${patient}","blood_pressure","${iso(t + 2000)}",,${110 + (k % 40)},${70 + (k % 15)},"mmHg"`);
      if (k % 5 === 0) ndjson.push(vitals(`hist-${patient}-${k}`, patient, t + 3000, { heart_rate: 60 + ((k * 13) % 50), spo2: 93 + (k % 7) }));
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-backfill-'));
    const start = async (name: string) => {
      const cluster = `bf${tag}${name}`;
      dbs.push(`vigil_${cluster}`);
      return startNode(parseNodeConfig({}, {}, {
        host: '127.0.0.1', port: 0, demoToken: TOKEN, adminToken: 'backfill-admin-token', clickhouseUrl: ch().url, cluster, dataDir: join(dir, name),
      }), { log: () => undefined });
    };
    live = await start('live');
    ref = await start('ref');
  }, 120_000);

  afterAll(async () => {
    await live?.close();
    await ref?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts every history row; rollups equal an in-order run; latest values, NEWS2 and open alerts unchanged; beyond the horizon too_late', async () => {
    // 1. The live stream, in order.
    for (let i = 0; i < liveEvents.length; i += 500) {
      const ack = await post(live, liveEvents.slice(i, i + 500));
      expect(ack.rejected).toEqual([]);
    }
    const summary = async (p: string) => {
      const s = await get(live, `/v1/patients/${p}/risk-summary`);
      return { latest: s.latest_vitals, news2: s.news2, open: s.open_alerts, updated: s.updated_at };
    };
    const before = await Promise.all(patients.map(summary));
    for (const b of before) expect((b.open as unknown[]).length).toBeGreaterThan(0); // a live news2 alert is open
    const recentBefore = await get(live, '/v1/alerts/recent?limit=100');

    // 2. `vigil import` of the CSV and the NDJSON, newest first.
    const csvFile = join(dir, 'history.csv');
    writeFileSync(csvFile, `\uFEFF${csvRows.join('\r\n')}\r\n`);
    const ndFile = join(dir, 'vitals.ndjson');
    writeFileSync(ndFile, ndjson.map((e) => JSON.stringify(e)).join('\n'));
    for (const [file, rows] of [[csvFile, csvRows.length - 1], [ndFile, ndjson.length]] as const) {
      const run = await vigilAsync(['import', file, '--tenant', 'demo', '--url', live.url, '--token', TOKEN], { timeoutMs: 120_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ input_rows: rows, output_rows: rows, duplicates: 0, dlq_rows: 0, status: 'ok' });
    }

    // 3. Nothing live moved.
    expect(await Promise.all(patients.map(summary))).toEqual(before);
    expect(await get(live, '/v1/alerts/recent?limit=100')).toEqual(recentBefore);
    const glucose = await get(live, `/v1/patients/${patients[0]}/risk-summary`);
    expect((glucose.window_stats as Record<string, unknown>).glucose).toBeDefined();

    // 4. The reference node gets the same events live, in event-time order.
    const history = [...csvToEnvelopes(csvRows.join('\n'), 'demo'), ...ndjsonToEnvelopes(ndjson.map((e) => JSON.stringify(e)).join('\n'))] as Envelope[];
    const time = (e: Envelope) => (typeof e.event_time === 'number' ? e.event_time : Date.parse(e.event_time));
    const all = [...history, ...liveEvents].sort((a, b) => time(a) - time(b));
    for (let i = 0; i < all.length; i += 1000) {
      const ack = await post(ref, all.slice(i, i + 1000));
      expect(ack.rejected).toEqual([]);
    }

    // 5. Every window the in-order run closed is the same in both analytics stores.
    const cut = liveTo - 15_000;
    const q = async (db: string) => (await (await fetch(`${ch().url}/?query=${encodeURIComponent(
      `SELECT actor_id, metric, window_start_ms, count, min, max, sum FROM ${db}.rollups_minute FINAL
       WHERE actor_kind = 'patient' AND actor_id LIKE 'bf-${tag}-%' AND window_start_ms + 60000 <= ${cut}
       ORDER BY actor_id, metric, window_start_ms FORMAT TSV`,
    )}`)).text()).trim();
    const minWindows = 2 * (24 * 60 + 24 * 12); // glucose (every minute) and heart_rate (every 5 minutes) history alone
    const want = await until(() => q(dbs[1]!), (v) => v.split('\n').length >= minWindows);
    const got = await until(() => q(dbs[0]!), (v) => v === want, 30_000).catch(async () => q(dbs[0]!));
    expect(got.split('\n').length).toBe(want.split('\n').length);
    expect(got).toBe(want);
    // events_raw holds every imported row once.
    const raw = await (await fetch(`${ch().url}/?query=${encodeURIComponent(`SELECT count() FROM ${dbs[0]}.events_raw FINAL WHERE patient_id LIKE 'bf-${tag}-%'`)}`)).text();
    expect(Number(raw.trim())).toBe(liveEvents.length + history.length);

    // 6. Re-importing is idempotent: every row a duplicate.
    const again = await vigilAsync(['import', csvFile, '--tenant', 'demo', '--url', live.url, '--token', TOKEN], { timeoutMs: 120_000 });
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ output_rows: 0, duplicates: csvRows.length - 1, dlq_rows: 0 });

    // 7. Beyond the horizon (7 days): too_late, and the import fails.
    const old = join(dir, 'old.csv');
    writeFileSync(old, `patient_id,biometric_type,timestamp,value,unit\n${patients[0]},glucose,${iso(liveTo - 8 * 24 * 60 * MIN)},100,mg/dL\n`);
    const late = await vigilAsync(['import', old, '--tenant', 'demo', '--url', live.url, '--token', TOKEN], { timeoutMs: 60_000 });
    expect(late.status).toBe(1);
    expect(JSON.parse(late.stdout)).toMatchObject({ output_rows: 0, dlq_rows: 1, rejected_by_code: { too_late: 1 }, status: 'failed' });

    // 8. History sent live (no import mark) still meets the live lateness rule; marked, it is back-fill.
    const stray = vitals(`stray-${tag}`, patients[1]!, liveFrom - 3 * 60 * MIN + 500, { heart_rate: 77 });
    expect((await post(live, [stray])).rejected.map((r) => r.code)).toEqual(['too_late']);
    expect(await post(live, { batch_id: 'b1', mode: 'import', events: [stray] })).toMatchObject({ accepted: 1, rejected: [] });
    const bad = await fetch(`${live.url}/v1/events:batch`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'history', events: [] }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_type', message: expect.stringContaining('mode must be "live" or "import"') } });
  }, 300_000);
});
