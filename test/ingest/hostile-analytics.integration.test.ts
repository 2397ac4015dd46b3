// Issue 15 with analytics on (embedded chDB): the events that ended the process in the raw-event
// row's JSON.stringify and in the dead-letter row's String(event) are refused at the edge with a
// code, their dead letters cut to what identifies them, and the node keeps serving; events_raw
// holds the accepted events of the same batches.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';

const TOKEN = 'hostile-analytics-token';
const deepArrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);

let node: VigilNode;
let dataDir: string;
const patient = `hostile-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-hostile-'));
  node = await startNode(parseNodeConfig({}, {}, {
    host: '127.0.0.1', port: 0, demoToken: TOKEN, adminToken: 'hostile-analytics-admin', dataDir, cluster: `h${randomBytes(3).toString('hex')}`,
  }), { log: () => undefined });
});
afterAll(async () => {
  await node?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(body: string): Promise<{ status: number; body: { accepted?: number; rejected?: { index: number | null; code: string }[]; error?: { code: string } } }> {
  const r = await fetch(`${node.url}/v1/events:batch`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
  return { status: r.status, body: (await r.json()) as never };
}

function vitals(id: string, t: number, extra = ''): string {
  return `{"event_id":"${id}","tenant_id":"demo","event_type":"vitals.observation","schema_version":1,"event_time":${t},"payload":{"patient_id":"${patient}","heart_rate":80${extra}}}`;
}

async function timelineIds(): Promise<string[]> {
  const r = await fetch(`${node.url}/v1/patients/${patient}/timeline?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await r.json()) as { events?: { event_id: string }[] };
  return (body.events ?? []).map((e) => e.event_id).sort();
}

describe('hostile events with analytics on (chDB)', () => {
  it('deep events are refused with codes, the node keeps serving, and events_raw holds the accepted ones', async () => {
    const now = Date.now();
    const a = await post(`[${vitals('ok-1', now - 3000)},${vitals('deep-1', now - 2000, `,"x":${deepArrays(5000)}`)},` +
      `${vitals('unknown-1', now - 1500).replace('vitals.observation', 'no.such.type').replace(/}$/, `,"extra":${deepArrays(10_000)}}`)}]`);
    expect(a.status).toBe(200);
    expect(a.body.accepted).toBe(1);
    expect(a.body.rejected!.map((r) => [r.index, r.code])).toEqual([[1, 'too_deep'], [2, 'unknown_event_type']]);
    const b = await post(deepArrays(10_000));
    expect(b.status).toBe(400);
    expect(b.body.error!.code).toBe('too_deep');
    const c = await post(`[${vitals('ok-2', now - 1000)}]`);
    expect(c.body.accepted).toBe(1);

    const end = Date.now() + 20_000;
    let ids = await timelineIds();
    while (ids.length < 2 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      ids = await timelineIds();
    }
    expect(ids).toEqual(['ok-1', 'ok-2']);
    const health = await fetch(`${node.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
