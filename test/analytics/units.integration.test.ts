// Biometric units end to end on a ClickHouse server (issue 14 item 5, SPEC §5): a glucose reading
// in an unknown unit is a dead letter `invalid_unit` (GET /v1/dlq and the dlq table) while the
// rest of its batch is accepted; a patient whose glucose arrives in mmol/L and mg/dL gets minute
// rollups in mg/dL, while events_raw (and /v1/patients/{id}/biometrics) keeps each reading as sent.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { useClickHouse } from '../harness/servers.js';

const TOKEN = 'units-demo-token';
const MIN = 60_000;

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('biometric units: dead letters, canonical rollups, raw events as sent (clickhouse-server)', () => {
  const ch = useClickHouse();
  const tag = randomBytes(3).toString('hex');
  const cluster = `un${tag}`;
  const db = `vigil_${cluster}`;
  const patient = `un-${tag}`;
  let node: VigilNode;
  let dir: string;
  const base = Math.floor(Date.now() / MIN) * MIN - 20 * MIN;
  const mgdl = [100, 110, 120, 130, 140];

  const req = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const r = await fetch(`${node.url}${path}`, {
      method, headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const sql = async (q: string): Promise<string> => (await (await fetch(`${ch().url}/?query=${encodeURIComponent(q)}`)).text()).trim();
  const reading = (id: string, t: number, p: Record<string, unknown>) => ({
    event_id: id, tenant_id: 'demo', event_type: 'biometric.reading', schema_version: 1, event_time: t, payload: { patient_id: patient, ...p },
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-units-'));
    node = await startNode(parseNodeConfig({}, {}, {
      host: '127.0.0.1', port: 0, demoToken: TOKEN, adminToken: 'units-admin-token', clickhouseUrl: ch().url, cluster, dataDir: dir,
    }), { log: () => undefined });
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('invalid_unit is a dead letter; mixed units roll up in mg/dL; raw events keep the units as sent', async () => {
    const events = mgdl.map((v, i) => reading(`mix-${i}`, base + i * MIN + 5000,
      i % 2 === 1 ? { biometric_type: 'glucose', value: v / 18.016, unit: 'mmol/L' } : { biometric_type: 'glucose', value: v, unit: 'mg/dL' }));
    events.splice(2, 0, reading('bad-unit', base + 2 * MIN + 6000, { biometric_type: 'glucose', value: 6.5, unit: 'mmol' }));
    const ack = await req('POST', '/v1/events:batch', events);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ accepted: 5, duplicates: 0 });
    expect(ack.body.rejected).toEqual([{ index: 2, event_id: 'bad-unit', code: 'invalid_unit', message: 'payload.unit "mmol" is not a unit of glucose (accepted, case-insensitive: mg/dL, mmol/L)' }]);
    // Closes the five minutes (patient lateness 5 min).
    expect((await req('POST', '/v1/events:batch', [reading('closer', base + 15 * MIN, { biometric_type: 'glucose', value: 5.5, unit: 'mmol/L' })])).body).toMatchObject({ accepted: 1 });

    // The dead letter, through the API and in the table.
    const page = await until(() => req('GET', '/v1/dlq?code=invalid_unit'), (r) => ((r.body.dead_letters as unknown[] | undefined) ?? []).length === 1);
    const [letter] = page.body.dead_letters as { event_id: string; code: string; message: string; event: { payload: { unit: string } } }[];
    expect(letter).toMatchObject({ event_id: 'bad-unit', code: 'invalid_unit' });
    expect(letter!.message).toContain('mg/dL, mmol/L');
    expect(letter!.event.payload.unit).toBe('mmol');
    expect(await sql(`SELECT event_id, code FROM ${db}.dlq WHERE code = 'invalid_unit' FORMAT TSV`)).toBe('bad-unit\tinvalid_unit');

    // Rollups in mg/dL, one reading per minute.
    const rollups = await until(
      () => sql(`SELECT window_start_ms, count, min, max, sum, final FROM ${db}.rollups_minute FINAL
                 WHERE actor_id = '${patient}' AND metric = 'glucose' AND window_start_ms < ${base + 5 * MIN} ORDER BY window_start_ms FORMAT JSONCompact`),
      (v) => (JSON.parse(v) as { data: unknown[][] }).data.filter((r) => Number(r[5]) === 1).length === 5,
    );
    const rows = (JSON.parse(rollups) as { data: [string, string, number, number, number, number][] }).data;
    rows.forEach((r, i) => {
      expect(Number(r[0])).toBe(base + i * MIN);
      expect(Number(r[1])).toBe(1);
      expect(r[2]).toBeCloseTo(mgdl[i]!, 9);
      expect(r[3]).toBeCloseTo(mgdl[i]!, 9);
      expect(r[4]).toBeCloseTo(mgdl[i]!, 9);
    });

    // events_raw keeps the readings as sent; so does the biometrics read that serves it.
    const b = await until(() => req('GET', `/v1/patients/${patient}/biometrics?type=glucose`), (r) => ((r.body.readings as unknown[] | undefined) ?? []).length === 6);
    const readings = (b.body.readings as { event_id: string; value: number; unit: string }[]).filter((r) => r.event_id.startsWith('mix-')).sort((x, y) => x.event_id.localeCompare(y.event_id));
    expect(readings.map((r) => [r.event_id, r.value, r.unit])).toEqual(mgdl.map((v, i) => [`mix-${i}`, i % 2 === 1 ? v / 18.016 : v, i % 2 === 1 ? 'mmol/L' : 'mg/dL']));
    expect(await sql(`SELECT count() FROM ${db}.events_raw FINAL WHERE patient_id = '${patient}' AND event_id = 'bad-unit'`)).toBe('0');
  }, 90_000);
});
