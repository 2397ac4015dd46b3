// events_raw (and what timeline and biometrics serve from it) holds exactly the events the actors
// accepted: not the ones refused at the edge, not the ones an actor refused as too late, not the
// copies it recognised as duplicates. On a ClickHouse server and on embedded chDB.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { useClickHouse } from '../harness/servers.js';

const TOKEN = 'accepted-only-token';

async function post(node: VigilNode, events: unknown[]): Promise<{ accepted: number; duplicates: number; rejected: { index: number; code: string }[] }> {
  const r = await fetch(`${node.url}/v1/events:batch`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  expect(r.status).toBe(200);
  return (await r.json()) as { accepted: number; duplicates: number; rejected: { index: number; code: string }[] };
}

async function timelineIds(node: VigilNode, patient: string): Promise<string[]> {
  const r = await fetch(`${node.url}/v1/patients/${patient}/timeline?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await r.json()) as { events?: { event_id: string }[] };
  return (body.events ?? []).map((e) => e.event_id).sort();
}

async function settled(node: VigilNode, patient: string, want: number): Promise<string[]> {
  // Rows reach the store within the writer's flush interval; wait for them, then a little more
  // so a row that should not be there has had every chance to arrive.
  const end = Date.now() + 20_000;
  let ids = await timelineIds(node, patient);
  while (ids.length < want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    ids = await timelineIds(node, patient);
  }
  await new Promise((r) => setTimeout(r, 1500));
  return timelineIds(node, patient);
}

function scenario(engine: 'server' | 'chdb', clickhouseUrl: () => string | undefined): void {
  describe(`events_raw holds exactly the accepted events (${engine})`, () => {
    let node: VigilNode;
    let dataDir: string;
    const patient = `pat-${randomBytes(3).toString('hex')}`;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'vigil-accepted-'));
      const url = clickhouseUrl();
      node = await startNode(parseNodeConfig({}, {}, {
        host: '127.0.0.1', port: 0, demoToken: TOKEN, adminToken: 'accepted-only-admin', dataDir,
        cluster: `acc${randomBytes(3).toString('hex')}`, ...(url ? { clickhouseUrl: url } : {}),
      }), { log: () => undefined });
    });
    afterAll(async () => {
      await node?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('after valid, invalid, too_late and duplicate events', async () => {
      const now = Date.now();
      const vitals = (id: string, t: number, hr = 80): unknown => ({
        event_id: id, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: t, payload: { patient_id: patient, heart_rate: hr },
      });
      const bio = (id: string, t: number): unknown => ({
        event_id: id, tenant_id: 'demo', event_type: 'biometric.reading', schema_version: 1, event_time: t,
        payload: { patient_id: patient, biometric_type: 'glucose', value: 110, unit: 'mg/dL' },
      });
      const first = await post(node, [
        vitals('ok-1', now - 3000), vitals('ok-2', now - 2000), bio('ok-bio', now - 1000),
        { event_id: 'bad-1', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now }, // no payload
      ]);
      expect(first.accepted).toBe(3);
      expect(first.rejected.map((r) => r.code)).toEqual(['missing_field']);
      const second = await post(node, [
        vitals('late-1', now - 24 * 3600_000), // far behind the watermark: too_late
        vitals('ok-1', now - 500, 120), // same id, other time: a duplicate
        bio('ok-bio', now - 400), // same id again
        vitals('ok-3', now),
      ]);
      expect(second).toMatchObject({ accepted: 1, duplicates: 2 });
      expect(second.rejected.map((r) => r.code)).toEqual(['too_late']);

      expect(await settled(node, patient, 4)).toEqual(['ok-1', 'ok-2', 'ok-3', 'ok-bio']);
      const b = await fetch(`${node.url}/v1/patients/${patient}/biometrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const readings = ((await b.json()) as { readings: { value: number }[] }).readings;
      expect(readings).toHaveLength(1);
    });
  });
}

const ch = useClickHouse();
scenario('server', () => ch().url);
scenario('chdb', () => undefined);
