// Issue 15 over a real socket: ids and query strings that cannot mean one string answer 400
// invalid_parameter on every route that takes them (they were 500 internal "URI malformed"), and
// the node answers the next request as before.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, DEMO_TOKEN, errorCode, http, postBatch, startDemoNode, vitals, type TestNode } from './node-fixture.js';

let t: TestNode;
beforeAll(async () => {
  t = await startDemoNode();
});
afterAll(async () => {
  await t?.close();
});

const ISSUE_IDS = ['%', '%E0%A4%A', '%ZZ', '%C0%AF', '%ED%A0%80'];
const TENANT_ROUTES = ['/v1/patients/{id}/risk-summary', '/v1/procedures/{id}/risk-summary', '/v1/patients/{id}/trends', '/v1/patients/{id}/timeline', '/v1/patients/{id}/biometrics'];

/** One request with the target written byte for byte (fetch would percent-encode raw bytes). */
function rawGet(port: number, target: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
    s.on('error', reject);
    s.on('close', () => {
      const text = out.toString('utf8');
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    s.end(Buffer.concat([Buffer.from('GET '), target, Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`)]));
  });
}

describe('malformed ids and query strings: 400 invalid_parameter, never 500', () => {
  it('the issue ids on every /v1 route with an id', async () => {
    for (const route of TENANT_ROUTES) {
      for (const id of ISSUE_IDS) {
        const a = await http(t.node, route.replace('{id}', id));
        expect(a.status, `${route} ${id}`).toBe(400);
        expect(errorCode(a)).toBe('invalid_parameter');
      }
    }
  });

  it('the issue ids on /admin/actors, as the kind and as the id', async () => {
    for (const id of ISSUE_IDS) {
      for (const p of [`/admin/actors/patient/${id}?tenant=demo`, `/admin/actors/${id}/p-1?tenant=demo`]) {
        const a = await http(t.node, p, { token: ADMIN_TOKEN });
        expect(a.status, p).toBe(400);
        expect(errorCode(a)).toBe('invalid_parameter');
      }
    }
  });

  it('raw bytes that are not UTF-8 in the path or the query (uWS would hand them over as U+FFFD)', async () => {
    const targets = [
      Buffer.concat([Buffer.from('/v1/patients/a'), Buffer.from([0xff]), Buffer.from('/risk-summary')]),
      Buffer.concat([Buffer.from('/v1/patients/a'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('/trends')]),
      Buffer.concat([Buffer.from('/v1/patients?cursor='), Buffer.from([0xc0, 0xaf])]),
    ];
    for (const target of targets) {
      const a = await rawGet(t.node.port, target, DEMO_TOKEN);
      expect(a.status, target.toString('latin1')).toBe(400);
      expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'invalid_parameter' } });
    }
  });

  it('a query string with malformed escapes; out-of-range limit', async () => {
    for (const q of ['cursor=%', 'cursor=%ZZ', 'cursor=%C0%AF', 'cursor=%ED%A0%80', 'limit=999999999999999999999']) {
      const a = await http(t.node, `/v1/patients?${q}`);
      expect(a.status, q).toBe(400);
      expect(errorCode(a)).toBe('invalid_parameter');
    }
  });

  it('well-formed escapes still reach the actor, and the node still answers', async () => {
    const id = 'edge-é/1';
    expect((await postBatch(t.node, [vitals('edge-id-1', id, { heart_rate: 70 })])).body).toMatchObject({ accepted: 1 });
    const a = await http(t.node, `/v1/patients/${encodeURIComponent(id)}/risk-summary`);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ patient_id: id });
    expect((await http(t.node, '/healthz', { token: null })).status).toBe(200);
  });
});
