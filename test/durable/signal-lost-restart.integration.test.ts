// Issue 14 item 2 (durable timers), through a real node in durable mode (JetStream + Redis): a
// 1 Hz monitored patient that falls silent raises signal_lost within the threshold + 1 s even
// when the node restarts during the silence, gracefully or by kill -9. Nothing but the timer wakes
// the patient after the restart (no reads of it, no events): the key group's due index in Redis
// does. A spot-check patient never raises it, and a timer that fired does not fire again.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort, useNats, useRedis } from '../harness/servers.js';
import { spawnNode, TOKEN, type NodeProcess } from './producer.js';

const auth = { authorization: `Bearer ${TOKEN}` };
// Long enough for a restart to finish inside the silence on a busy machine.
const SIGNAL_LOST_MS = 20_000;
const run = randomBytes(3).toString('hex');
let eventNo = 0;

async function post(port: number, events: unknown[]): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/events:batch`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(events), signal: AbortSignal.timeout(10_000),
  });
  const ack = (await r.json()) as { accepted: number; rejected: unknown[] };
  if (!r.ok || ack.rejected.length > 0) throw new Error(`batch: HTTP ${r.status} ${JSON.stringify(ack)}`);
}

function reading(patient: string): unknown {
  return {
    event_id: `sl-${run}-${eventNo++}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: Date.now(),
    payload: { patient_id: patient, heart_rate: 72, resp_rate: 14, spo2: 98, systolic_bp: 120, temperature_c: 36.8, consciousness: 'A' },
  };
}

/** Six readings, one a second, like a bedside monitor; returns when the last one was sent. */
async function stream(port: number, patient: string): Promise<number> {
  let last = 0;
  for (let i = 0; i < 6; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000));
    last = Date.now();
    await post(port, [reading(patient)]);
  }
  return last;
}

interface OpenAlert {
  reason: string;
  since: string;
  last_reading_at?: string;
}

async function openAlerts(port: number, patient: string): Promise<OpenAlert[] | null> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/patients/${patient}/risk-summary`, { headers: auth, signal: AbortSignal.timeout(5000) });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`risk-summary ${patient}: HTTP ${r.status} ${await r.text()}`);
  return ((await r.json()) as { open_alerts: OpenAlert[] }).open_alerts;
}

/** Polls until `patient` has an open signal_lost; its fired time (epoch ms). */
async function signalLost(port: number, patient: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const open = await openAlerts(port, patient);
    const a = open?.find((x) => x.reason === 'signal_lost');
    if (a) return Date.parse(a.since);
    if (Date.now() > end) throw new Error(`no signal_lost for ${patient} within ${timeoutMs} ms (open: ${JSON.stringify(open)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('durable mode: signal_lost across node restarts (durable timers)', () => {
  const redis = useRedis();
  const nats = useNats();

  it('fires within the threshold + 1 s after a graceful restart and after kill -9 during the silence, once', async () => {
    const port = await freePort();
    const cluster = `s${randomBytes(4).toString('hex')}`;
    const config = join(tmpdir(), `vigil-signal-lost-${cluster}.json`);
    writeFileSync(config, JSON.stringify({ clinical: { patient: { signalLostMs: SIGNAL_LOST_MS } } }));
    const env = {
      VIGIL_NATS_URL: nats().url, VIGIL_REDIS_URL: redis().url, VIGIL_CLUSTER: cluster, VIGIL_ANALYTICS: 'off', VIGIL_HOSTS: '1', VIGIL_CONFIG: config,
    };
    const rc = new Redis(redis().url, { maxRetriesPerRequest: 1 });
    /** The patient's entry in its key group's due index, as committed in Redis. */
    const due = async (patient: string): Promise<number | null> => {
      const keys = await rc.keys(`vigil:{${cluster}}:due:*`);
      for (const k of keys) {
        const members = await rc.zrange(k, '0', '-1', 'WITHSCORES');
        for (let i = 0; i < members.length; i += 2) if (members[i]!.endsWith(`\u001f${patient}`)) return Number(members[i + 1]);
      }
      return null;
    };
    /** Waits until the commit holding the last reading's re-armed timer is in Redis. */
    const committed = async (patient: string, lastSentAt: number): Promise<number> => {
      for (let i = 0; i < 400; i++) {
        const at = await due(patient);
        if (at !== null && at >= lastSentAt + SIGNAL_LOST_MS) return at;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the due index never held ${patient}'s last timer`);
    };
    let node: NodeProcess = await spawnNode(env, port);
    try {
      // A nurse's spot check: one reading, never monitored.
      await post(port, [reading('spot')]);

      // Graceful restart while a monitored patient is silent.
      const lastA = await stream(port, 'mon-a');
      const dueA = await committed('mon-a', lastA);
      let t = Date.now();
      await node.stop('SIGTERM');
      node = await spawnNode(env, port);
      const gracefulMs = Date.now() - t;
      const firedA = await signalLost(port, 'mon-a', SIGNAL_LOST_MS + 5000);
      expect(firedA - lastA).toBeGreaterThanOrEqual(SIGNAL_LOST_MS);
      expect(firedA - lastA).toBeLessThanOrEqual(SIGNAL_LOST_MS + 1000);
      expect(firedA).toBeGreaterThanOrEqual(dueA);
      // The firing was committed at once: its index entry is gone.
      for (let i = 0; i < 100 && (await due('mon-a')) !== null; i++) await new Promise((r) => setTimeout(r, 25));
      expect(await due('mon-a')).toBeNull();

      // kill -9 while another one is silent (its last reading committed, the kill right after).
      const lastB = await stream(port, 'mon-b');
      const dueB = await committed('mon-b', lastB);
      t = Date.now();
      await node.stop('SIGKILL');
      node = await spawnNode(env, port);
      const killMs = Date.now() - t;
      const firedB = await signalLost(port, 'mon-b', SIGNAL_LOST_MS + 5000);
      expect(firedB - lastB).toBeGreaterThanOrEqual(SIGNAL_LOST_MS);
      expect(firedB - lastB).toBeLessThanOrEqual(SIGNAL_LOST_MS + 1000);
      expect(firedB).toBeGreaterThanOrEqual(dueB);
      console.log(`signal_lost after restart: graceful restart ${gracefulMs} ms, fired ${firedA - dueA} ms after due; kill -9 restart ${killMs} ms, fired ${firedB - dueB} ms after due`);

      // At most once: mon-a's alert is the one raised before the kill, not raised again.
      const openA = (await openAlerts(port, 'mon-a'))!.filter((x) => x.reason === 'signal_lost');
      expect(openA.map((x) => Date.parse(x.since))).toEqual([firedA]);
      expect((await openAlerts(port, 'spot'))!.filter((x) => x.reason === 'signal_lost')).toEqual([]);
    } finally {
      rc.disconnect();
      await node.stop('SIGTERM');
    }
  }, 180_000);
});
