// Dead letters end to end, on a ClickHouse server and on chDB: events the tenant's configuration
// does not know are rejected into the DLQ; GET /v1/dlq shows them (tenant-scoped, newest first,
// paged, parameters checked); the tenant's configuration is fixed (an event type added by files
// alone) and the node restarted; a replay takes them through the contracts and dedup: accepted
// once, a duplicate of an event the producer resent meanwhile counted as such, a still-invalid
// one back in the DLQ once; a second replay takes nothing.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { useClickHouse } from '../harness/servers.js';
import { BUILT, vigilAsync } from '../unit/cli-run.js';

const TOKEN = 'dlq-demo-token';
const OTHER_TOKEN = 'dlq-other-token';
const DEPLOY = fileURLToPath(new URL('../../deploy/config', import.meta.url));

type Obj = Record<string, unknown>;
interface Letter {
  letter_id: string; event_id: string | null; code: string; message: string; source: string; index: number | null;
  rejected_at: string; event: unknown; replayable: boolean; replay: { at: string; outcome: string } | null;
}
interface Page { dead_letters: Letter[]; next: string | null }

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A config dir: tenant demo (no extra types, or ventilator.reading once fixed) and tenant other. */
function writeConfig(dir: string, fixed: boolean): void {
  mkdirSync(join(dir, 'tenants'), { recursive: true });
  const types = fixed ? [{
    event_type: 'ventilator.reading', schema_version: 1, schema: 'schemas/ventilator.reading.v1.json', rules: 'rules/ventilator.reading.v1.json',
    route: { actor: 'patient', key: 'patient_id' }, handling: 'generic',
  }] : [];
  if (fixed) {
    cpSync(join(DEPLOY, 'schemas'), join(dir, 'schemas'), { recursive: true });
    cpSync(join(DEPLOY, 'rules'), join(dir, 'rules'), { recursive: true });
  }
  writeFileSync(join(dir, 'tenants', 'demo.json'), JSON.stringify({ tenant_id: 'demo', tokens: [TOKEN], event_types: types }));
  writeFileSync(join(dir, 'tenants', 'other.json'), JSON.stringify({ tenant_id: 'other', tokens: [OTHER_TOKEN], event_types: [] }));
}

const ENGINES = [
  { name: 'clickhouse-server', server: true },
  { name: 'chdb', server: false },
] as const;

for (const engine of ENGINES) {
  describe(`dead letters: browse, fix the configuration, replay (${engine.name})`, () => {
    const ch = engine.server ? useClickHouse() : null;
    let node: VigilNode | undefined;
    let dir: string;
    const cluster = `d${randomBytes(3).toString('hex')}`;
    const patient = `pat-${randomBytes(3).toString('hex')}`;
    let t0: number;

    const start = async () => {
      node = await startNode(parseNodeConfig({}, {}, {
        host: '127.0.0.1', port: 0, adminToken: 'dlq-admin-token', configDir: join(dir, 'config'), cluster, dataDir: join(dir, 'data'),
        ...(ch ? { clickhouseUrl: ch().url } : {}),
      }), { log: () => undefined });
      return node;
    };
    const req = async (method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: Obj }> => {
      const r = await fetch(`${node!.url}${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: r.status, body: (await r.json()) as Obj };
    };
    const list = async (q: string, token = TOKEN): Promise<Page> => {
      const r = await req('GET', `/v1/dlq${q}`, undefined, token);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as unknown as Page;
    };
    const vent = (id: string, p: Obj = {}): Obj => ({
      event_id: id, tenant_id: 'demo', event_type: 'ventilator.reading', schema_version: 1, event_time: Date.now() - 60_000, device_id: 'vent-1',
      payload: { patient_id: patient, peep_cm_h2o: 5, fio2: 0.4, tidal_volume_ml: 450, mode: 'VC', ...p },
    });

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-dlq-'));
      writeConfig(join(dir, 'config'), false);
      await start();
      t0 = Date.now() - 1;
    });
    afterAll(async () => {
      await node?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('rejected events are dead letters: GET /v1/dlq, newest first, with the original event, tenant-scoped and paged', async () => {
      const vitals = { event_id: 'vit-1', tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: Date.now() - 60_000, payload: { patient_id: patient, heart_rate: 80 } };
      const first = await req('POST', '/v1/events:batch', [vent('v-ok'), vent('v-bad', { peep_cm_h2o: 45 }), vitals]);
      expect(first.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [{ index: 0, code: 'unknown_event_type' }, { index: 1, code: 'unknown_event_type' }] });
      await new Promise((r) => setTimeout(r, 5));
      const second = await req('POST', '/v1/events:batch', [vent('v-dup')]);
      expect(second.body).toMatchObject({ accepted: 0, rejected: [{ code: 'unknown_event_type' }] });
      // A body that is no JSON: a letter with the frame's text, which no replay can take.
      expect((await req('POST', '/v1/events:batch', '{"event_id": nope')).status).toBe(400);

      const all = await until(() => list(`?since=${t0}`), (p) => p.dead_letters.length === 4);
      expect(all.next).toBeNull();
      const [frame, dup, ...batch] = all.dead_letters;
      expect(frame).toMatchObject({ code: 'invalid_json', event_id: null, index: null, event: '{"event_id": nope', replayable: false, replay: null, source: 'http' });
      expect(dup).toMatchObject({ code: 'unknown_event_type', event_id: 'v-dup', index: 0, source: 'http', replayable: true, replay: null });
      expect(dup!.event).toEqual({ ...vent('v-dup'), event_time: expect.any(Number) });
      expect(dup!.message).toContain('ventilator.reading');
      expect(Date.parse(dup!.rejected_at)).toBeGreaterThanOrEqual(t0);
      expect(Date.parse(frame!.rejected_at)).toBeGreaterThanOrEqual(Date.parse(dup!.rejected_at));
      expect(batch.map((l) => l.event_id).sort()).toEqual(['v-bad', 'v-ok']);
      expect((batch.find((l) => l.event_id === 'v-bad')!.event as { payload: Obj }).payload.peep_cm_h2o).toBe(45);
      expect(new Set(all.dead_letters.map((l) => l.letter_id)).size).toBe(4);

      expect((await list(`?since=${t0}&code=unknown_event_type`)).dead_letters.map((l) => l.event_id).sort()).toEqual(['v-bad', 'v-dup', 'v-ok']);
      expect((await list(`?since=${new Date(Date.now() + 60_000).toISOString()}`)).dead_letters).toEqual([]);
      // Pages: two, then the other two, then nothing more.
      const p1 = await list(`?since=${t0}&limit=3`);
      expect(p1.dead_letters.map((l) => l.letter_id)).toEqual(all.dead_letters.slice(0, 3).map((l) => l.letter_id));
      expect(p1.next).toEqual(expect.any(String));
      const p2 = await list(`?since=${t0}&limit=3&cursor=${encodeURIComponent(p1.next!)}`);
      expect(p2.dead_letters.map((l) => l.letter_id)).toEqual([all.dead_letters[3]!.letter_id]);
      expect(p2.next).toBeNull();
      // Another tenant's token sees none of them.
      expect((await list('', OTHER_TOKEN)).dead_letters).toEqual([]);
    });

    it('refuses bad parameters with 400 invalid_parameter (and bad replay bodies)', async () => {
      for (const q of ['limit=0', 'limit=1001', 'limit=x', 'since=yesterday', 'code=Not%20A%20Code', `code=${'a'.repeat(65)}`, 'cursor=zzz', "code='%20OR%201=1"]) {
        const r = await req('GET', `/v1/dlq?${q}`);
        expect([r.status, (r.body.error as Obj | undefined)?.code], q).toEqual([400, 'invalid_parameter']);
      }
      const bad: [unknown, number, string][] = [
        ['nope', 400, 'invalid_json'], [[], 400, 'invalid_json'], [{ since: t0 }, 400, 'invalid_parameter'], [{ code: 'x' }, 400, 'invalid_parameter'],
        [{ code: 'x', since: 'soon' }, 400, 'invalid_parameter'], [{ code: 'x', since: t0, limit: 0 }, 400, 'invalid_parameter'],
        [{ code: 'x', since: t0, extra: 1 }, 400, 'invalid_field'],
      ];
      for (const [body, status, code] of bad) {
        const r = await req('POST', '/v1/dlq:replay', body);
        expect([r.status, (r.body.error as Obj | undefined)?.code], JSON.stringify(body)).toEqual([status, code]);
      }
      expect((await req('GET', '/v1/dlq', undefined, 'wrong-token')).status).toBe(401);
      expect((await req('POST', '/v1/dlq:replay', { code: 'x', since: t0 }, 'wrong-token')).status).toBe(401);
    });

    it('after the configuration is fixed, a replay accepts each event once, counts a duplicate, sends a still-invalid one back once', async () => {
      // Unfixed, a replay would only bounce them: not done here, the letters stay untaken.
      await node!.close();
      node = undefined;
      writeConfig(join(dir, 'config'), true);
      await start();
      // The producer resent v-dup itself once the type was known: its letter is now a duplicate.
      expect((await req('POST', '/v1/events:batch', [vent('v-dup')])).body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });

      const r = await req('POST', '/v1/dlq:replay', { code: 'unknown_event_type', since: new Date(t0).toISOString() });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ replayed: 3, accepted: 1, duplicates: 1, rejected: 1, already_replayed: 0, not_replayable: 0, more: false });
      expect(Date.parse(r.body.until as string)).toBeGreaterThan(t0);

      // Accepted once: the replayed v-ok is applied (the producer's copy is now a duplicate) ...
      expect((await req('POST', '/v1/events:batch', [vent('v-ok')])).body).toMatchObject({ accepted: 0, duplicates: 1 });
      // ... and in the analytics store once.
      const timeline = await until(() => req('GET', `/v1/patients/${patient}/timeline?limit=100`),
        (t) => ((t.body.events as { event_id: string }[] | undefined) ?? []).filter((e) => e.event_id.startsWith('v-')).length === 2);
      expect((timeline.body.events as { event_id: string }[]).map((e) => e.event_id).filter((id) => id.startsWith('v-')).sort()).toEqual(['v-dup', 'v-ok']);

      // The still-invalid event (now out_of_range under the new rules) is back once, as a new letter.
      const back = await until(() => list(`?since=${t0}&code=out_of_range`), (p) => p.dead_letters.length >= 1);
      expect(back.dead_letters).toHaveLength(1);
      expect(back.dead_letters[0]).toMatchObject({ event_id: 'v-bad', source: 'replay', replayable: true, replay: null });
      expect(back.dead_letters[0]!.message).toContain('peep_cm_h2o');
      // The replayed letters say so, with their outcome.
      const taken = await list(`?since=${t0}&code=unknown_event_type`);
      expect(Object.fromEntries(taken.dead_letters.map((l) => [l.event_id, l.replay?.outcome]))).toEqual({ 'v-ok': 'accepted', 'v-dup': 'accepted', 'v-bad': 'rejected' });

      // A second replay takes nothing: every letter of the range was taken.
      const again = await req('POST', '/v1/dlq:replay', { code: 'unknown_event_type', since: t0 });
      expect(again.body).toMatchObject({ replayed: 0, accepted: 0, duplicates: 0, rejected: 0, already_replayed: 3, more: false });
      // Letters that hold no whole event are never replayed, only counted.
      expect((await req('POST', '/v1/dlq:replay', { code: 'invalid_json', since: t0 })).body).toMatchObject({ replayed: 0, not_replayable: 1 });
      // No loop: nothing replays on its own; the DLQ stays as it was past the writers' flush.
      await new Promise((res) => setTimeout(res, 2500));
      expect((await list(`?since=${t0}`)).dead_letters).toHaveLength(5);
      expect((await list(`?since=${t0}&code=out_of_range`)).dead_letters).toHaveLength(1);
    });

    it.skipIf(!BUILT)('vigil dlq list and replay talk to the node with the tenant token', async () => {
      const env = { VIGIL_TOKEN: TOKEN };
      const l = await vigilAsync(['dlq', 'list', '--url', node!.url, '--since', new Date(t0).toISOString(), '--code', 'out_of_range'], { env });
      expect([l.status, l.stderr]).toEqual([0, '']);
      expect(l.stdout).toMatch(/out_of_range {2}v-bad {2}replay {2}- {2}/);
      const j = await vigilAsync(['dlq', 'list', '--url', node!.url, '--json', '--limit', '1'], { env });
      expect(j.status).toBe(0);
      expect((JSON.parse(j.stdout) as Page).dead_letters).toHaveLength(1);
      // Still invalid: replayed once, rejected again, so the command fails (exit 1) and says so.
      const r = await vigilAsync(['dlq', 'replay', '--url', node!.url, '--code', 'out_of_range', '--since', String(t0)], { env });
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ replayed: 1, rejected: 1, accepted: 0 });
      expect(r.stderr.trim()).toMatch(/^vigil dlq replay: all 1 replayed letters were rejected again/);
      const r2 = await vigilAsync(['dlq', 'replay', '--url', node!.url, '--code', 'unknown_event_type', '--since', String(t0)], { env });
      expect(r2.status).toBe(0);
      expect(JSON.parse(r2.stdout)).toMatchObject({ replayed: 0, already_replayed: 3 });
      const bad = await vigilAsync(['dlq', 'list', '--url', node!.url, '--since', 'yesterday'], { env });
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim()).toBe(`vigil dlq: GET ${node!.url}/v1/dlq answered HTTP 400 invalid_parameter: since must be an RFC 3339 time or epoch milliseconds (at most 8640000000000000)`);
    });
  });
}
