// Issue 14 item 6 in durable mode: acknowledged and shelved alerts survive a graceful restart and
// a kill -9 right after the action (it is in the event log, replayed into the actor); a shelved
// alert still comes back when its time is up after a restart; every transition is on the NATS
// alert subject with who did it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { spawnNode, TOKEN, type NodeProcess } from './producer.js';

const auth = { authorization: `Bearer ${TOKEN}` };
const SEVERE = { heart_rate: 135, resp_rate: 26, spo2: 90, systolic_bp: 88, temperature_c: 39.5, consciousness: 'V' };
// 0.25 min = 15 s: long enough to restart the node in between, short enough for a test.
const SHELVE_MIN = 0.25;

interface AlertMsg { alert_id: string; subject: { id: string }; state: string; level: string; by?: string; note?: string; until?: string; event_time: string }

async function req<T>(port: number, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await fetch(`http://127.0.0.1:${port}${p}`, {
    method: body === undefined ? 'GET' : 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, body: (await r.json()) as T };
}

let eventNo = 0;
const run = randomBytes(3).toString('hex');
async function severe(port: number, patient: string): Promise<void> {
  const r = await req<{ accepted: number }>(port, '/v1/events:batch', [{
    event_id: `aar-${run}-${eventNo++}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: Date.now() - 1000,
    payload: { patient_id: patient, ...SEVERE },
  }]);
  expect(r.body.accepted).toBe(1);
}

async function openAlert(port: number, patient: string): Promise<{ alert_id: string; state: string; by?: string; note?: string; shelved_until?: string }> {
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await req<{ open_alerts?: { alert_id: string; state: string }[] }>(port, `/v1/patients/${patient}/risk-summary`);
    const a = r.body.open_alerts?.[0];
    if (a) return a;
    if (Date.now() > end) throw new Error(`no open alert for ${patient}: ${JSON.stringify(r)}`);
    await new Promise((x) => setTimeout(x, 100));
  }
}

async function top(port: number): Promise<AlertMsg[]> {
  return (await req<{ alerts: AlertMsg[] }>(port, '/v1/alerts/top?limit=1000')).body.alerts;
}

describe('durable mode: acknowledge and shelve survive restarts', () => {
  const redis = useRedis();
  const nats = useNats();

  it('graceful restart and kill -9: states kept (actor, top, NATS); a shelved alert comes back after a restart', async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'vigil-aar-'));
    const configFile = path.join(dir, 'vigil.json');
    await writeFile(configFile, JSON.stringify({ clinical: { alerts: { shelveMinMinutes: 0.05, shelveMaxMinutes: 60 } } }));
    const cluster = `a${randomBytes(4).toString('hex')}`;
    const env = { VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: cluster, VIGIL_ANALYTICS: 'off', VIGIL_HOSTS: '1', VIGIL_CONFIG: configFile };
    let node: NodeProcess = await spawnNode(env, port);
    const nc: NatsConnection = await connect({ servers: nats().url });
    const onNats: AlertMsg[] = [];
    const sub = nc.subscribe(`vigil.${cluster}.alerts.demo`, { callback: (_e, m) => onNats.push(JSON.parse(new TextDecoder().decode(m.data)) as AlertMsg) });
    try {
      await severe(port, 'aar-ack');
      await severe(port, 'aar-shv');
      const a = await openAlert(port, 'aar-ack');
      const b = await openAlert(port, 'aar-shv');
      expect((await req(port, `/v1/alerts/${a.alert_id}/acknowledge`, { by: 'nurse.kim', note: 'seen' })).status).toBe(200);
      const shelved = await req<{ until: string }>(port, `/v1/alerts/${b.alert_id}/shelve`, { by: 'dr.lee', minutes: SHELVE_MIN });
      expect(shelved.status).toBe(200);
      const until = Date.parse(shelved.body.until);

      // Graceful restart.
      await node.stop('SIGTERM');
      node = await spawnNode(env, port);
      expect(await openAlert(port, 'aar-ack')).toMatchObject({ alert_id: a.alert_id, state: 'acknowledged', by: 'nurse.kim', note: 'seen' });
      expect(await openAlert(port, 'aar-shv')).toMatchObject({ alert_id: b.alert_id, state: 'shelved', by: 'dr.lee', shelved_until: shelved.body.until });
      const t1 = await top(port);
      expect(t1.find((x) => x.alert_id === a.alert_id)).toMatchObject({ state: 'acknowledged', by: 'nurse.kim' });
      expect(t1.find((x) => x.alert_id === b.alert_id)).toMatchObject({ state: 'shelved', by: 'dr.lee' });

      // kill -9 right after an acknowledge: it is only in the event log, and comes back from it.
      await severe(port, 'aar-kill');
      const c = await openAlert(port, 'aar-kill');
      expect((await req(port, `/v1/alerts/${c.alert_id}/acknowledge`, { by: 'nurse.ray' })).status).toBe(200);
      await node.stop('SIGKILL');
      node = await spawnNode(env, port);
      expect(await openAlert(port, 'aar-kill')).toMatchObject({ alert_id: c.alert_id, state: 'acknowledged', by: 'nurse.ray' });
      expect(await openAlert(port, 'aar-ack')).toMatchObject({ state: 'acknowledged' });

      // The shelve ends after the restarts: the alert is open again, on NATS too, with nothing else waking its actor.
      const deadline = until + 10_000;
      let back: { state: string } | undefined;
      while (Date.now() < deadline) {
        back = onNats.find((m) => m.alert_id === b.alert_id && m.state === 'open' && m.event_time === new Date(until).toISOString());
        if (back) break;
        await new Promise((x) => setTimeout(x, 200));
      }
      expect(back, `shelved alert back on NATS by ${new Date(deadline).toISOString()}`).toBeDefined();
      expect(await openAlert(port, 'aar-shv')).toMatchObject({ alert_id: b.alert_id, state: 'open' });

      // NATS saw every transition with who did it.
      expect(onNats.find((m) => m.alert_id === a.alert_id && m.state === 'acknowledged')).toMatchObject({ by: 'nurse.kim', note: 'seen' });
      expect(onNats.find((m) => m.alert_id === b.alert_id && m.state === 'shelved')).toMatchObject({ by: 'dr.lee', until: shelved.body.until });
      expect(onNats.find((m) => m.alert_id === c.alert_id && m.state === 'acknowledged')).toMatchObject({ by: 'nurse.ray' });
    } finally {
      sub.unsubscribe();
      await nc.close();
      await node.stop('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
