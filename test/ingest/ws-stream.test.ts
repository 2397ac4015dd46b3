// SPEC §2 over a real socket: GET /v1/stream authentication, the three frame forms, ordered acks
// with seq and credit, frame-level refusals (invalid_json, too_many_events, 1009), the credit
// bound (1008), and per-event rejections and duplicates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WsHandshakeError } from '../../load/ws-client.js';
import {
  ADMIN_TOKEN, CREDIT, DEMO_TOKEN, MAX_FRAME_BYTES, Stream, http, startDemoNode, telemetry, vitals, type TestNode, type WsAck,
} from './node-fixture.js';

let t: TestNode;
const open: Stream[] = [];
beforeAll(async () => {
  t = await startDemoNode();
});
afterAll(async () => {
  for (const s of open) s.close();
  await t?.close();
});

async function stream(path = '/v1/stream', token: string | null = DEMO_TOKEN): Promise<Stream> {
  const s = await Stream.open(t.node, path, token);
  open.push(s);
  return s;
}

async function refusal(path: string, token: string | null): Promise<WsHandshakeError> {
  const err = await Stream.open(t.node, path, token).then(
    (s) => {
      s.close();
      return new Error('the upgrade was accepted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WsHandshakeError);
  return err as WsHandshakeError;
}

describe('authentication', () => {
  it('a bad, missing or admin token is refused with 401 before the upgrade', async () => {
    for (const token of ['wrong-token-xxxxxxxx', null, ADMIN_TOKEN]) {
      const e = await refusal('/v1/stream', token);
      expect(e.status, String(token)).toBe(401);
      expect(JSON.parse(e.body)).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const e = await refusal('/v1/stream?token=wrong-token-xxxxxxxx', null);
    expect(e.status).toBe(401);
  });

  it('?token= authenticates', async () => {
    const s = await stream(`/v1/stream?token=${DEMO_TOKEN}`, null);
    s.send(vitals('qt-1', 'qt-pat', { heart_rate: 70 }));
    expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: 1, batch_id: null, accepted: 1, duplicates: 0, rejected: [], credit: CREDIT });
  });
});

describe('frames and acks', () => {
  it('an envelope, an array and a batch object: acks seq 1, 2, 3 with batch_id and credit', async () => {
    const s = await stream();
    s.send(vitals('ff-1', 'ff-pat', { heart_rate: 70 }));
    expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: 1, batch_id: null, accepted: 1, duplicates: 0, rejected: [], credit: CREDIT });
    s.send([vitals('ff-2', 'ff-pat', { heart_rate: 71 }), telemetry('ff-3', 'ff-pat', 'ff-proc')]);
    expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: 2, batch_id: null, accepted: 2, duplicates: 0, rejected: [], credit: CREDIT });
    s.send({ batch_id: 'b1', events: [vitals('ff-4', 'ff-pat', { heart_rate: 72 }), vitals('ff-5', 'ff-pat', { heart_rate: 73 }), telemetry('ff-6', 'ff-pat', 'ff-proc')] });
    expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: 3, batch_id: 'b1', accepted: 3, duplicates: 0, rejected: [], credit: CREDIT });

    // Acked means applied (embedded mode): the reads see every event.
    const p = await http(t.node, '/v1/patients/ff-pat/risk-summary');
    expect(p.body).toMatchObject({ events: 4, latest_vitals: { heart_rate: 73 } });
    const proc = await http(t.node, '/v1/procedures/ff-proc/risk-summary');
    expect(proc.body).toMatchObject({ events: 2 });
  });

  it('pipelined frames are acked in order, each ack matching its frame', async () => {
    const s = await stream();
    // Different patients land on different shard hosts, so they may finish out of order.
    for (let f = 1; f <= CREDIT; f++) {
      const events = Array.from({ length: f }, (_, i) => vitals(`pl-${f}-${i}`, `pl-pat-${f}-${i}`, { heart_rate: 60 + i }));
      s.send({ batch_id: `frame-${f}`, events });
    }
    for (let f = 1; f <= CREDIT; f++) {
      expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: f, batch_id: `frame-${f}`, accepted: f, duplicates: 0, rejected: [], credit: CREDIT });
    }
  });

  it('up to credit frames beyond the credit are held, then acked in order', async () => {
    const s = await stream();
    const n = 2 * CREDIT;
    for (let f = 1; f <= n; f++) s.send({ batch_id: `h-${f}`, events: [vitals(`held-${f}`, `held-pat-${f % 3}`, { heart_rate: 60 + f })] });
    for (let f = 1; f <= n; f++) {
      expect(await s.next<WsAck>()).toMatchObject({ seq: f, batch_id: `h-${f}`, accepted: 1, credit: CREDIT });
    }
    expect(s.ws.closed).toBe(false);
    // And the connection goes on.
    s.send(vitals('held-after', 'held-pat-0', { heart_rate: 99 }));
    expect(await s.next<WsAck>()).toMatchObject({ seq: n + 1, accepted: 1 });
  });
});

describe('frames the server cannot take', () => {
  it('malformed JSON: an ack with one invalid_json rejection (index null); the connection stays open', async () => {
    const s = await stream();
    s.send('{"event_id": "oops",');
    const ack = await s.next<WsAck>();
    expect(ack).toMatchObject({ type: 'ack', seq: 1, batch_id: null, accepted: 0, duplicates: 0, credit: CREDIT });
    expect(ack.rejected).toHaveLength(1);
    expect(ack.rejected[0]).toMatchObject({ index: null, event_id: null, code: 'invalid_json' });
    expect(ack.rejected[0]!.message.length).toBeGreaterThan(0);

    s.send(vitals('mj-ok', 'mj-pat', { heart_rate: 70 }));
    expect(await s.next<WsAck>()).toEqual({ type: 'ack', seq: 2, batch_id: null, accepted: 1, duplicates: 0, rejected: [], credit: CREDIT });
    expect(s.ws.closed).toBe(false);
  });

  it('1001 events in a frame: too_many_events; 1000 are read', async () => {
    const s = await stream();
    s.send({ batch_id: 'many', events: Array.from({ length: 1001 }, () => ({})) });
    const ack = await s.next<WsAck>();
    expect(ack).toMatchObject({ seq: 1, batch_id: 'many', accepted: 0, duplicates: 0 });
    expect(ack.rejected).toEqual([{ index: null, event_id: null, code: 'too_many_events', message: expect.any(String) as string }]);

    s.send(Array.from({ length: 1000 }, () => ({})));
    const ok = await s.next<WsAck>();
    expect(ok).toMatchObject({ seq: 2, accepted: 0 });
    expect(ok.rejected).toHaveLength(1000);
    expect(ok.rejected[999]).toMatchObject({ index: 999, event_id: null, code: 'missing_field' });
  });

  it('a frame over maxFrameBytes closes the socket with 1009; exactly maxFrameBytes is read', async () => {
    const s = await stream();
    const ev = JSON.stringify([vitals('big-1', 'big-pat', { heart_rate: 70 })]);
    s.send(ev + ' '.repeat(MAX_FRAME_BYTES - Buffer.byteLength(ev)));
    expect(await s.next<WsAck>()).toMatchObject({ seq: 1, accepted: 1 });

    s.send(ev + ' '.repeat(MAX_FRAME_BYTES + 1 - Buffer.byteLength(ev)));
    expect((await s.closedWithin()).code).toBe(1009);

    const s2 = await stream();
    s2.send('x'.repeat(Math.floor(1.5 * MAX_FRAME_BYTES)));
    expect((await s2.closedWithin()).code).toBe(1009);
    expect(s2.pending).toBe(0);
  });

  it('a client that ignores its credit is closed with 1008, never buffered without bound', async () => {
    const s = await stream();
    // All sent before the server reads any: it takes `credit`, holds `credit` more, and closes.
    for (let f = 1; f <= 10 * CREDIT; f++) s.send(vitals(`flood-${f}`, 'flood-pat', { heart_rate: 60 + (f % 40) }));
    const c = await s.closedWithin();
    expect(c.code).toBe(1008);
    expect(c.reason).toBe('credit exceeded');
  });
});

describe('events the server rejects', () => {
  it('a mixed frame: the good events are applied, the bad ones answered by index', async () => {
    const s = await stream();
    s.send({
      batch_id: 'mixed',
      events: [
        vitals('wm-0', 'wm-pat', { heart_rate: 81 }),
        vitals('wm-1', 'wm-pat', { heart_rate: -5 }),
        { event_id: 'wm-2' },
        telemetry('wm-3', 'wm-pat', 'wm-proc', { latency_ms: 25 }),
        vitals('wm-4', 'wm-pat', { heart_rate: 70 }, { tenant_id: 'acme' }),
        null,
        vitals('wm-6', 'wm-pat', { spo2: 96 }, { event_type: 'vitals.observation', schema_version: 3 }),
        vitals('wm-7', 'wm-pat', { spo2: 96 }),
      ],
    });
    const ack = await s.next<WsAck>();
    expect(ack).toMatchObject({ type: 'ack', seq: 1, batch_id: 'mixed', accepted: 3, duplicates: 0, credit: CREDIT });
    expect(ack.rejected.map(({ index, event_id, code }) => ({ index, event_id, code }))).toEqual([
      { index: 1, event_id: 'wm-1', code: 'invalid_value' },
      { index: 2, event_id: 'wm-2', code: 'missing_field' },
      { index: 4, event_id: 'wm-4', code: 'tenant_mismatch' },
      { index: 5, event_id: null, code: 'not_an_object' },
      { index: 6, event_id: 'wm-6', code: 'unknown_schema_version' },
    ]);
    const p = await http(t.node, '/v1/patients/wm-pat/risk-summary');
    expect(p.body).toMatchObject({ events: 2, latest_vitals: { heart_rate: 81, spo2: 96 } });
    const proc = await http(t.node, '/v1/procedures/wm-proc/risk-summary');
    expect(proc.body).toMatchObject({ events: 1, p95_latency_ms: 25 });
  });

  it('duplicates are counted, not applied twice', async () => {
    const s = await stream();
    const frame = { batch_id: 'd', events: [vitals('wd-1', 'wd-pat', { heart_rate: 70 }), vitals('wd-2', 'wd-pat', { heart_rate: 71 }), telemetry('wd-3', 'wd-pat', 'wd-proc')] };
    s.send(frame);
    expect(await s.next<WsAck>()).toMatchObject({ seq: 1, accepted: 3, duplicates: 0, rejected: [] });
    s.send(frame);
    expect(await s.next<WsAck>()).toMatchObject({ seq: 2, batch_id: 'd', accepted: 0, duplicates: 3, rejected: [] });
    // One new, one repeated, one repeated inside the frame.
    s.send([vitals('wd-1', 'wd-pat', { heart_rate: 70 }), vitals('wd-4', 'wd-pat', { heart_rate: 72 }), vitals('wd-4', 'wd-pat', { heart_rate: 72 })]);
    expect(await s.next<WsAck>()).toMatchObject({ seq: 3, accepted: 1, duplicates: 2, rejected: [] });
    // Across connections too: the idempotency key is per tenant, not per socket.
    const s2 = await stream();
    s2.send(frame);
    expect(await s2.next<WsAck>()).toMatchObject({ seq: 1, accepted: 0, duplicates: 3 });
    const p = await http(t.node, '/v1/patients/wd-pat/risk-summary');
    expect(p.body).toMatchObject({ events: 3, latest_vitals: { heart_rate: 72 } });
  });
});

describe('the endpoint', () => {
  it('plain HTTP to /v1/stream is 426 upgrade_required', async () => {
    const r = await http(t.node, '/v1/stream');
    expect(r.status).toBe(426);
    expect(r.body).toMatchObject({ error: { code: 'upgrade_required' } });
  });
});
