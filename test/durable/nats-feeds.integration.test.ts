import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { useNats, useRedis } from '../harness/servers.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function nextMessages(sub: Subscription, n: number, ms = 5000): Promise<unknown[]> {
  const out: unknown[] = [];
  const timer = setTimeout(() => sub.unsubscribe(), ms);
  for await (const m of sub) {
    out.push(JSON.parse(dec.decode(m.data)));
    if (out.length >= n) break;
  }
  clearTimeout(timer);
  return out;
}

describe('durable mode: NATS ingest, alert and dead-letter subjects', () => {
  const redis = useRedis();
  const nats = useNats();
  const cluster = `f${randomBytes(4).toString('hex')}`;
  let node: VigilNode;
  let nc: NatsConnection;

  beforeAll(async () => {
    node = await startNode(parseNodeConfig({}, {}, {
      host: '127.0.0.1', port: 0, demoToken: 'feeds-demo-token', adminToken: 'feeds-admin-token',
      natsUrl: nats().url, redisUrl: redis().url, cluster, analytics: 'off',
    }), { log: () => undefined });
    nc = await connect({ servers: nats().url });
  });
  afterAll(async () => {
    await nc?.drain();
    await node?.close();
  });

  it('a partner frame on the tenant ingest subject is validated, applied and acked; alerts and dead letters go out on their subjects', async () => {
    const alerts = nc.subscribe(`vigil.${cluster}.alerts.demo`);
    const dlq = nc.subscribe(`vigil.${cluster}.dlq.demo`);
    const now = Date.now();
    const frame = {
      batch_id: 'partner-1',
      events: [
        { event_id: 'nf-1', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now,
          payload: { patient_id: 'np-1', heart_rate: 135, resp_rate: 26, spo2: 90, systolic_bp: 88, temperature_c: 39.5, consciousness: 'V' } },
        { event_id: 'nf-2', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: now, payload: { patient_id: 'np-1' } },
      ],
    };
    const reply = await nc.request(`vigil.${cluster}.ingest.demo`, enc.encode(JSON.stringify(frame)), { timeout: 5000 });
    const ack = JSON.parse(dec.decode(reply.data)) as { batch_id: string; accepted: number; rejected: { index: number; code: string }[] };
    expect(ack).toMatchObject({ batch_id: 'partner-1', accepted: 1, rejected: [{ index: 1, code: 'missing_field' }] });

    const [alert] = (await nextMessages(alerts, 1)) as { type: string; tenant_id: string; subject: { kind: string; id: string }; level: string; reason: string }[];
    expect(alert).toMatchObject({ type: 'alert', tenant_id: 'demo', subject: { kind: 'patient', id: 'np-1' }, level: 'critical', reason: 'news2' });
    const [letter] = (await nextMessages(dlq, 1)) as { source: string; index: number; event_id: string; code: string; event: { payload: unknown } }[];
    expect(letter).toMatchObject({ source: 'nats', index: 1, event_id: 'nf-2', code: 'missing_field', event: { payload: { patient_id: 'np-1' } } });

    const r = await fetch(`${node.url}/v1/patients/np-1/risk-summary`, { headers: { authorization: 'Bearer feeds-demo-token' } });
    expect(((await r.json()) as { news2: { score: number } }).news2.score).toBeGreaterThanOrEqual(7);
  });

  it('an unreadable frame is answered and dead-lettered; an unknown tenant subject is refused', async () => {
    const dlq = nc.subscribe(`vigil.${cluster}.dlq.demo`);
    const bad = await nc.request(`vigil.${cluster}.ingest.demo`, enc.encode('{"not json'), { timeout: 5000 });
    expect(JSON.parse(dec.decode(bad.data))).toMatchObject({ accepted: 0, rejected: [{ index: null, code: 'invalid_json' }] });
    const [letter] = (await nextMessages(dlq, 1)) as { code: string; event: string; index: null }[];
    expect(letter).toMatchObject({ code: 'invalid_json', index: null, event: '{"not json' });
    const unknown = await nc.request(`vigil.${cluster}.ingest.nobody`, enc.encode('[]'), { timeout: 5000 });
    expect(JSON.parse(dec.decode(unknown.data))).toEqual({ error: { code: 'unknown_tenant', message: 'no tenant nobody' } });
  });

  it('events refused over the WebSocket/HTTP paths reach the dead-letter subject too', async () => {
    const dlq = nc.subscribe(`vigil.${cluster}.dlq.demo`);
    const res = await fetch(`${node.url}/v1/events:batch`, {
      method: 'POST', headers: { authorization: 'Bearer feeds-demo-token', 'content-type': 'application/json' },
      body: JSON.stringify([{ event_id: 'h-1', tenant_id: 'demo', event_type: 'no.such.type', schema_version: 1, event_time: Date.now(), payload: {} }]),
    });
    expect(res.status).toBe(200);
    const [letter] = (await nextMessages(dlq, 1)) as { source: string; code: string }[];
    expect(letter).toMatchObject({ source: 'http', code: 'unknown_event_type' });
  });
});
