import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { importEvents } from '../../load/import.js';
import { useClickHouse } from '../harness/servers.js';

const TOKEN = 'analytics-demo-token';
const NASTY = ["'", "\\", "\\'", "' OR 1=1 --", '/* x */', "x' UNION SELECT name FROM system.tables --", '%', '_', '\u0000', 'é☃', '"', ';DROP TABLE events_raw;'];

async function get(node: VigilNode, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('served analytics on a real clickhouse-server: timeline, biometrics, search, imports', () => {
  const ch = useClickHouse();
  let node: VigilNode;
  let dataDir: string;
  const patient = `pat-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'vigil-analytics-'));
    node = await startNode(parseNodeConfig({}, {}, {
      host: '127.0.0.1', port: 0, demoToken: TOKEN, adminToken: 'analytics-admin-token', clickhouseUrl: ch().url,
      cluster: `a${randomBytes(3).toString('hex')}`, dataDir,
    }), { log: () => undefined });
    const now = Date.now();
    const events = [
      ...[0, 1, 2].map((i) => ({ event_id: `t-${i}`, tenant_id: 'demo', event_type: 'surgical.telemetry', schema_version: 1, event_time: now - 3000 + i * 1000,
        payload: { patient_id: patient, procedure_id: `${patient}-proc`, robot_arm: 'arm_1', step: i === 2 ? "Suturing O'Brien" : 'Dissection', force_newtons: 10, velocity_mm_s: 5, latency_ms: 30, ...(i === 1 ? { error_code: 'E_TORQUE_LIMIT' } : {}) } })),
    ];
    const r = await fetch(`${node.url}/v1/events:batch`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(r.status).toBe(200);
    // Biometrics arrive as a scheduled CSV feed (seed 002 layout), one bad row.
    const csv = [
      'patient_id,biometric_type,timestamp,value,systolic,diastolic,unit',
      `${patient},glucose,2026-11-21T06:00:00,117,,,mg/dL`,
      `${patient},glucose,2026-11-21T07:00:00,123,,,mg/dL`,
      `${patient},blood_pressure,2026-11-21T07:00:00,,130,85,mmHg`,
      `${patient},glucose,2026-11-21T08:00:00,abc,,,mg/dL`,
    ].join('\n');
    const { csvToEnvelopes } = await import('../../load/import.js');
    const summary = await importEvents(node.url, TOKEN, 'feed.csv', csvToEnvelopes(csv, 'demo'));
    expect(summary).toMatchObject({ input_rows: 4, output_rows: 3, dlq_rows: 1, rejected_by_code: { invalid_type: 1 }, status: 'partial' });
  });
  afterAll(async () => {
    await node?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('timeline returns the patient’s events from the analytics store, newest first, with a time range', async () => {
    const t = await until(() => get(node, `/v1/patients/${patient}/timeline?limit=10`), (r) => (r.body.events as unknown[] | undefined)?.length === 6);
    const ids = (t.body.events as { event_id: string }[]).map((e) => e.event_id);
    expect(ids.slice(0, 3)).toEqual(['t-2', 't-1', 't-0']);
    const ranged = await get(node, `/v1/patients/${patient}/timeline?from=2026-11-21T06:30:00Z&to=2026-11-21T07:30:00Z`);
    expect((ranged.body.events as unknown[]).length).toBe(2);
    expect((await get(node, `/v1/patients/${patient}/timeline?from=yesterday`)).status).toBe(400);
  });

  it('biometrics returns the history of readings, filtered by type', async () => {
    const b = await until(() => get(node, `/v1/patients/${patient}/biometrics?type=glucose`), (r) => (r.body.readings as unknown[] | undefined)?.length === 2);
    expect((b.body.readings as { value: number }[]).map((x) => x.value)).toEqual([123, 117]);
    const all = await get(node, `/v1/patients/${patient}/biometrics`);
    expect((all.body.readings as unknown[]).length).toBe(3);
  });

  it('search finds steps and error codes', async () => {
    const s = await until(() => get(node, '/v1/search?q=torque'), (r) => (r.body.matches as unknown[] | undefined)?.length === 1);
    expect(s.body.matches).toEqual([expect.objectContaining({ kind: 'error_code', value: 'E_TORQUE_LIMIT', events: 1, procedures: 1 })]);
    const quote = await get(node, `/v1/search?q=${encodeURIComponent("O'Brien")}`);
    expect(quote.body.matches).toEqual([expect.objectContaining({ kind: 'step', value: "Suturing O'Brien" })]);
  });

  it('user input reaching SQL is data, never SQL, on every endpoint', async () => {
    for (const x of NASTY) {
      const e = encodeURIComponent(x);
      const s = await get(node, `/v1/search?q=${e}`);
      expect(s.status, `search ${JSON.stringify(x)}`).toBe(200);
      // Matched literally: only values that contain the text itself (the quote finds O'Brien).
      const values = (s.body.matches as { value: string }[]).map((m) => m.value);
      expect(values.every((v) => v.toLowerCase().includes(x.toLowerCase())), `search ${JSON.stringify(x)} -> ${values}`).toBe(true);
      if (/UNION|DROP|OR 1=1|\*/.test(x)) expect(values, `search ${JSON.stringify(x)}`).toEqual([]);
      const t = await get(node, `/v1/patients/${e}/timeline`);
      expect(t.status, `timeline ${JSON.stringify(x)}`).toBe(200);
      expect(t.body.events).toEqual([]);
      const b = await get(node, `/v1/patients/${patient}/biometrics?type=${e}`);
      expect(b.status, `biometrics ${JSON.stringify(x)}`).toBe(200);
      expect(b.body.readings).toEqual([]);
      const r = await get(node, `/v1/patients/${patient}/timeline?from=${e}`);
      expect(r.status, `from ${JSON.stringify(x)}`).toBe(400);
    }
    // And the tables are all still there with their rows.
    const t = await get(node, `/v1/patients/${patient}/timeline`);
    expect((t.body.events as unknown[]).length).toBe(6);
  });

  it('records the import and every HTTP batch in the audit table, and the bad row in the DLQ table', async () => {
    const res = await fetch(`${ch().url}/?query=${encodeURIComponent("SELECT name FROM system.databases WHERE name LIKE 'vigil_a%' FORMAT TSV")}`);
    const dbs = (await res.text()).trim().split('\n').filter(Boolean);
    expect(dbs.length).toBeGreaterThan(0);
    const q = async (sql: string) => (await (await fetch(`${ch().url}/?query=${encodeURIComponent(sql)}`)).text()).trim();
    const db = dbs[dbs.length - 1]!;
    const audit = await until(() => q(`SELECT source, input_rows, output_rows, dlq_rows, status FROM ${db}.ingest_audit FINAL WHERE source = 'import' AND batch_id LIKE 'import-feed.csv-%' AND batch_id NOT LIKE '%:%' FORMAT TSV`), (v) => v.length > 0);
    expect(audit).toBe('import\t4\t3\t1\tpartial');
    const dlq = await until(() => q(`SELECT source, code FROM ${db}.dlq WHERE source = 'import' FORMAT TSV`), (v) => v.length > 0);
    expect(dlq).toBe('import\tinvalid_type');
  });
});
