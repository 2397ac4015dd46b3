// Issue 15 on a real node (uWS, ingest workers, shard hosts; analytics off, so dead letters go
// straight through postMessage): events that used to end the process (5,000 nested arrays in a
// payload, 10,000 nested objects, a bare 10,000-deep array body) are refused with a code and the
// node keeps answering; names of Object.prototype are ordinary biometric types, steps, error codes
// and procedure ids; ids with lone surrogates are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support.js';
import { errorCode, http, postBatch, startDemoNode, Stream, telemetry, vitals, type TestNode, type WsAck } from './node-fixture.js';

let t: TestNode;
beforeAll(async () => {
  t = await startDemoNode();
});
afterAll(async () => {
  await t?.close();
});

const node = () => t.node;
const deepArrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const deepObjects = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** An event's JSON with `"x": <raw>` added to its payload (raw: JSON text too deep to build as a value). */
function withRawPayloadField(e: Record<string, unknown>, raw: string): string {
  const text = JSON.stringify(e);
  return text.replace(/}}$/, `,"x":${raw}}}`);
}

async function alive(): Promise<void> {
  const a = await postBatch(node(), [vitals(`alive-${Math.random()}`, 'alive-p', { heart_rate: 70 })]);
  expect(a.status).toBe(200);
  expect(a.body.accepted).toBe(1);
}

describe('events nested too deep, over HTTP', () => {
  it('a telemetry event with 5,000 nested arrays in its payload: refused too_deep, the rest of the batch accepted', async () => {
    const body = `[${JSON.stringify(telemetry('deep-ok-1', 'deep-p', 'deep-pr'))},${withRawPayloadField(telemetry('deep-5k', 'deep-p', 'deep-pr'), deepArrays(5000))},` +
      `${JSON.stringify(telemetry('deep-ok-2', 'deep-p', 'deep-pr'))}]`;
    const a = await postBatch(node(), body);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(a.body.rejected.map((r) => [r.index, r.event_id, r.code])).toEqual([[1, 'deep-5k', 'too_deep']]);
    await alive();
    const proc = await http(node(), '/v1/procedures/deep-pr/risk-summary');
    expect(proc.status).toBe(200);
    expect(proc.body).toMatchObject({ events: 2 });
  });

  it('10,000 nested objects in a payload: refused too_deep; as the whole body: refused as no event', async () => {
    const a = await postBatch(node(), withRawPayloadField(vitals('deep-obj', 'deep-obj-p', { heart_rate: 70 }), deepObjects(10_000)));
    expect(a.status).toBe(200);
    expect(a.body.rejected.map((r) => r.code)).toEqual(['too_deep']);
    const b = await postBatch(node(), deepObjects(10_000));
    expect(b.status).toBe(200);
    expect(b.body).toMatchObject({ accepted: 0, rejected: [{ index: 0, code: 'missing_field' }] });
    await alive();
  });

  it('a bare body of 10,000 nested arrays: the frame is refused, 400 too_deep', async () => {
    const a = await postBatch(node(), deepArrays(10_000));
    expect(a.status).toBe(400);
    expect(errorCode(a)).toBe('too_deep');
    await alive();
  });

  it('an object of more than 1,000 entries: refused too_large', async () => {
    const big = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i]));
    const a = await postBatch(node(), [vitals('large-1', 'large-p', { heart_rate: 70, extra: big }), vitals('large-2', 'large-p', { heart_rate: 71 })]);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ accepted: 1, rejected: [{ index: 0, event_id: 'large-1', code: 'too_large' }] });
  });

  it('ids with a lone surrogate: refused invalid_value, naming the field', async () => {
    const body = `[${JSON.stringify(vitals('sur-1', 'sur-p', { heart_rate: 70 })).replace('"sur-p"', '"sur-p\\ud800"')},` +
      `${JSON.stringify(vitals('sur-2\\udc00', 'sur-p', { heart_rate: 70 })).replace('sur-2\\\\udc00', 'sur-2\\udc00')}]`;
    const a = await postBatch(node(), body);
    expect(a.status).toBe(200);
    expect(a.body.rejected.map((r) => [r.index, r.code, r.message.split(' ')[0]])).toEqual([[0, 'invalid_value', 'payload.patient_id'], [1, 'invalid_value', 'event_id']]);
  });
});

describe('events nested too deep, over the WebSocket stream', () => {
  it('is refused in its ack and the connection carries on', async () => {
    const s = await Stream.open(node(), '/v1/stream');
    try {
      s.send(`[${withRawPayloadField(vitals('ws-deep', 'ws-deep-p', { heart_rate: 70 }), deepArrays(8000))},${JSON.stringify(vitals('ws-ok', 'ws-deep-p', { heart_rate: 70 }))}]`);
      const a1 = await s.next<WsAck>();
      expect(a1).toMatchObject({ seq: 1, accepted: 1, rejected: [{ index: 0, event_id: 'ws-deep', code: 'too_deep' }] });
      s.send(deepArrays(10_000));
      const a2 = await s.next<WsAck>();
      expect(a2).toMatchObject({ seq: 2, accepted: 0, rejected: [{ index: null, code: 'too_deep' }] });
      s.send(JSON.stringify(vitals('ws-ok-2', 'ws-deep-p', { heart_rate: 72 })));
      expect(await s.next<WsAck>()).toMatchObject({ seq: 3, accepted: 1 });
    } finally {
      s.close();
    }
  });
});

describe('Object.prototype names are ordinary names', () => {
  it('biometric types "constructor", "__proto__", "toString", "hasOwnProperty", "valueOf" do not poison the patient', async () => {
    const types = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    const bio = (id: string, type: string) => ({
      event_id: id, tenant_id: 'demo', event_type: 'biometric.reading', schema_version: 1, event_time: Date.now(),
      payload: { patient_id: 'proto-p', biometric_type: type, value: 5, unit: 'u' },
    });
    const a = await postBatch(node(), types.map((ty, i) => bio(`proto-b${i}`, ty)));
    expect(a.body).toMatchObject({ accepted: 5, rejected: [] });
    const v = await postBatch(node(), [vitals('proto-v', 'proto-p', { heart_rate: 80 })]);
    expect(v.body).toMatchObject({ accepted: 1, rejected: [] });
    const s = await http<{ window_stats: Record<string, unknown>; events: number }>(node(), '/v1/patients/proto-p/risk-summary');
    expect(s.status).toBe(200);
    expect(s.body.events).toBe(6);
    expect(Object.keys(s.body.window_stats).sort()).toEqual([...types, 'heart_rate'].sort());
  });

  it('patient ids named like Object.prototype members are separate patients, each readable', async () => {
    const names = Object.getOwnPropertyNames(Object.prototype);
    const a = await postBatch(node(), names.map((n, i) => vitals(`proto-id-${i}`, n, { heart_rate: 60 + i })));
    expect(a.body).toMatchObject({ accepted: names.length, rejected: [] });
    for (const [i, n] of names.entries()) {
      const s = await http<{ patient_id: string; latest_vitals: { heart_rate: number } }>(node(), `/v1/patients/${n}/risk-summary`);
      expect([n, s.status, s.body.patient_id, s.body.latest_vitals?.heart_rate]).toEqual([n, 200, n, 60 + i]);
    }
  });

  it('steps and error codes named like Object.prototype members are counted exactly; a procedure named __proto__ is listed', async () => {
    const steps = ['__proto__', '__proto__', '__proto__', 'constructor', 'constructor', 'toString'];
    const a = await postBatch(node(), steps.map((step, i) => telemetry(`proto-t${i}`, 'proto-pp', '__proto__', { step, error_code: step })));
    expect(a.body).toMatchObject({ accepted: 6, rejected: [] });
    const p = await http<{ steps: Record<string, number>; error_codes: Record<string, number> }>(node(), '/v1/procedures/__proto__/risk-summary');
    expect(p.status).toBe(200);
    for (const field of ['steps', 'error_codes'] as const) {
      // As parsed from the answer: "__proto__" is an own field there (JSON.parse defines it).
      const got = p.body[field];
      expect(Object.keys(got).sort()).toEqual(['__proto__', 'constructor', 'toString']);
      expect([got.__proto__, got.constructor, got.toString]).toEqual([3, 2, 1]);
    }
    // The procedure tells its patient within a second.
    await waitFor(async () => {
      const s = await http<{ procedures: { procedure_id: string; events: number }[] }>(node(), '/v1/patients/proto-pp/risk-summary');
      return s.status === 200 && s.body.procedures.some((x) => x.procedure_id === '__proto__' && x.events === 6);
    }, 10_000, 'procedure __proto__ in its patient\'s summary');
  });
});
