// Reading and feeding what a node derives from its actors (issue 14 item 3), for the restart
// tests of one node (test/durable) and of several (test/cluster).
import { randomBytes } from 'node:crypto';
import { TOKEN } from './producer.js';

export const auth = { authorization: `Bearer ${TOKEN}` };

export async function get(port: number, path: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: auth, signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

export async function post(port: number, events: unknown[]): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events:batch`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(events), signal: AbortSignal.timeout(10_000),
  });
  const ack = (await r.json()) as { accepted: number; rejected: unknown[] };
  if (!r.ok || ack.rejected.length > 0) throw new Error(`batch: HTTP ${r.status} ${JSON.stringify(ack)}`);
}

export interface Derived {
  patients: string[];
  total: number;
  recent: unknown[];
  recentHigh: unknown[];
  top: unknown[];
}

/** Everything derived, the patient list paged through with a small page size. */
export async function derived(port: number): Promise<Derived> {
  const patients: string[] = [];
  let cursor: string | null = null;
  let total = -1;
  for (let i = 0; i < 100; i++) {
    const p = (await get(port, `/v1/patients?limit=7${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)) as { patients: string[]; next_cursor: string | null; total: number };
    patients.push(...p.patients);
    total = p.total;
    cursor = p.next_cursor;
    if (cursor === null) break;
  }
  const recent = ((await get(port, '/v1/alerts/recent?limit=1000')) as { alerts: unknown[] }).alerts;
  const recentHigh = ((await get(port, '/v1/alerts/recent?limit=1000&min_level=high')) as { alerts: unknown[] }).alerts;
  const top = ((await get(port, '/v1/alerts/top?limit=1000')) as { alerts: unknown[] }).alerts;
  return { patients, total, recent, recentHigh, top };
}

let eventNo = 0;
const run = randomBytes(3).toString('hex');

/** NEWS2 0 (normal), 5-6 (medium) or >= 7 (high) vitals for one patient. */
export function vitals(patient: string, kind: 'normal' | 'medium' | 'high', time: number): unknown {
  const v = kind === 'high'
    ? { heart_rate: 135, resp_rate: 26, spo2: 90, systolic_bp: 88, temperature_c: 39.5, consciousness: 'V' }
    : kind === 'medium'
      ? { heart_rate: 115, resp_rate: 22, spo2: 95, systolic_bp: 105, temperature_c: 38.5, consciousness: 'A' }
      : { heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 36.8, consciousness: 'A' };
  return { event_id: `dr-${run}-${eventNo++}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: time, payload: { patient_id: patient, ...v } };
}

/** A round: `n` patients from `from`, each a high, medium or normal reading; every third earlier one back to normal. */
export function round(from: number, n: number, t: number): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < from + n; i++) out.push(vitals(`dp-${String(i).padStart(3, '0')}`, i % 3 === 0 ? 'high' : i % 3 === 1 ? 'medium' : 'normal', t + i));
  for (let i = 0; i < from; i += 3) out.push(vitals(`dp-${String(i).padStart(3, '0')}`, 'normal', t + 500 + i));
  return out;
}

/** Waits until two reads 300 ms apart agree (the node has applied what it was sent). */
export async function settled(port: number): Promise<Derived> {
  let last = await derived(port);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await derived(port);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  throw new Error('derived state never settled');
}

