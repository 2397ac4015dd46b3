// Hostile frames in an ingest worker, in-process (routeGroup + the clinical decoder, no threads):
// whatever one frame holds fails at most that frame or that event, with a documented code, and
// nothing that leaves the worker (packed batches, verdicts, dead letters) throws when it is
// encoded, cloned or printed.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ClinicalFrameDecoder, createDecoder } from '../../actors/frame-decoder.js';
import { ContractRegistry } from '../../actors/contracts/registry.js';
import { packedText } from '../../runtime/batch.js';
import { postRouted, Router, routeGroup } from '../../runtime/ingest/worker.js';
import type { DecodedSink, FrameDecoder, FrameGroup, FrameVerdict, RoutedGroup } from '../../runtime/ingest/protocol.js';

const KG = 64;
const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);
const enc = new TextEncoder();

function telemetry(id: string, extra = '', procedure = 'pr1'): string {
  return `{"event_id":"${id}","tenant_id":"demo","event_type":"surgical.telemetry","schema_version":1,"event_time":${NOW - 1000},` +
    `"payload":{"patient_id":"p1","procedure_id":"${procedure}","robot_arm":"arm_1","step":"suturing","force_newtons":10,"velocity_mm_s":20,"latency_ms":40${extra}}}`;
}

function vitals(id: string, patient = 'p1', extra = ''): string {
  return `{"event_id":"${id}","tenant_id":"demo","event_type":"vitals.observation","schema_version":1,"event_time":${NOW - 1000},"payload":{"patient_id":"${patient}","heart_rate":80${extra}}}`;
}

const deepArrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const deepObjects = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

function setup(decoder: FrameDecoder = new ClinicalFrameDecoder(new ContractRegistry(), 1000)) {
  const hostOfKg = new Uint16Array(new SharedArrayBuffer(KG * 2));
  for (let k = 0; k < KG; k++) hostOfKg[k] = k % 2;
  const epoch = new Int32Array(new SharedArrayBuffer(4));
  const router = new Router(['patient', 'procedure'], KG, hostOfKg, 2);
  return { epoch, decoder, router };
}

function group(frames: (string | Uint8Array)[]): FrameGroup {
  return {
    t: 'frames', group: 1, now: NOW, tenant: frames.map(() => 'demo'), source: frames.map(() => 'http'),
    bytes: frames.map((t) => (typeof t === 'string' ? enc.encode(t) : t)),
  };
}

/** Event ids routed, per frame, read back from the packed batches. */
function routedIds(g: RoutedGroup): string[][] {
  const out: string[][] = g.verdicts.map(() => []);
  for (const b of g.batches) {
    if (b === null) continue;
    const [, , bodies] = JSON.parse(packedText(b.packed)) as [string[], string[], { id: string }[]];
    for (let i = 0; i < b.n; i++) out[b.frame[i]!]!.push(bodies[i]!.id);
  }
  for (const ids of out) ids.sort();
  return out;
}

/** What the main thread and the dead-letter sinks do with a group: none of it may throw. */
function leavesTheWorker(g: RoutedGroup): void {
  structuredClone(g.verdicts);
  JSON.stringify(g.verdicts);
  for (const v of g.verdicts) for (const l of v.deadLetters ?? []) String((l as { event: unknown }).event);
}

const codes = (v: FrameVerdict) => (v.rejected ?? []).map((r) => [r.index, r.code]);

describe('hostile frames in an ingest worker', () => {
  it('refuses an event nested 5,000 and 20,000 arrays deep in its payload as too_deep, and keeps the rest of the frame', () => {
    const { decoder, router, epoch } = setup();
    const f0 = `[${telemetry('ok1')},${telemetry('deep5k', `,"x":${deepArrays(5000)}`)},${telemetry('ok2')}]`;
    const f1 = `[${telemetry('deep20k', `,"x":${deepArrays(20_000)}`)},${vitals('ok3')}]`;
    const g = routeGroup(decoder, router, epoch, group([f0, f1]));
    expect(g.verdicts.map((v) => [v.items, v.frameStatus])).toEqual([[3, 0], [2, 0]]);
    expect(codes(g.verdicts[0]!)).toEqual([[1, 'too_deep']]);
    expect(codes(g.verdicts[1]!)).toEqual([[0, 'too_deep']]);
    expect(g.verdicts[0]!.rejected![0]).toMatchObject({ event_id: 'deep5k', message: expect.stringContaining('"payload" nests deeper than 32 levels') });
    expect(routedIds(g)).toEqual([['ok1', 'ok2'], ['ok3']]);
    // The dead letter keeps what identifies the event, not the nesting.
    const letter = g.verdicts[0]!.deadLetters![0] as { code: string; event: Record<string, unknown> };
    expect(letter.code).toBe('too_deep');
    expect({ ...letter.event }).toMatchObject({ event_id: 'deep5k', event_type: 'surgical.telemetry', payload: '(not kept)' });
    leavesTheWorker(g);
  });

  it('refuses an event 10,000 objects deep in its payload or attributes; a body that deep is no event, and its dead letter is cut', () => {
    const { decoder, router, epoch } = setup();
    const deepAttrs = vitals('deepattr').replace(/}$/, `,"attributes":{"a":${deepObjects(10_000)}}}`);
    const g = routeGroup(decoder, router, epoch, group([telemetry('deepobj', `,"x":${deepObjects(10_000)}`), deepAttrs, deepObjects(10_000), vitals('fine')]));
    expect(g.verdicts.map((v) => [v.items, v.frameStatus, ...codes(v)])).toEqual([[1, 0, [0, 'too_deep']], [1, 0, [0, 'too_deep']], [1, 0, [0, 'missing_field']], [1, 0]]);
    expect(g.verdicts[1]!.rejected![0]!.message).toContain('"attributes" nests deeper');
    expect((g.verdicts[2]!.deadLetters![0] as { event: unknown }).event).toEqual({ a: '(not kept)' });
    expect(routedIds(g)).toEqual([[], [], [], ['fine']]);
    leavesTheWorker(g);
  });

  it('an event refused for another reason carries a cut dead letter when it is over the limits; a deep field outside payload and attributes goes nowhere', () => {
    const { decoder, router, epoch } = setup();
    const unknownType = telemetry('unk').replace('surgical.telemetry', 'no.such.type').replace(/}$/, `,"extra":${deepArrays(10_000)}}`);
    const envelopeExtra = vitals('extra').replace(/}$/, `,"extra":${deepArrays(10_000)}}`);
    const g = routeGroup(decoder, router, epoch, group([`[${unknownType},${envelopeExtra}]`]));
    expect(codes(g.verdicts[0]!)).toEqual([[0, 'unknown_event_type']]);
    expect((g.verdicts[0]!.deadLetters![0] as { event: Record<string, unknown> }).event).toMatchObject({ event_id: 'unk', event_type: 'no.such.type', payload: '(not kept)', extra: '(not kept)' });
    expect(routedIds(g)).toEqual([['extra']]);
    leavesTheWorker(g);
  });

  it('refuses a bare array body 10,000 deep as a frame (400 too_deep), with its text as the dead letter', () => {
    const { decoder, router, epoch } = setup();
    const g = routeGroup(decoder, router, epoch, group([deepArrays(10_000), `{"events":[${vitals('a')},${deepArrays(40)}]}`, vitals('b')]));
    for (const v of g.verdicts.slice(0, 2)) {
      expect(v.frameStatus).toBe(400);
      expect(v.items).toBe(0);
      expect(codes(v)).toEqual([[null, 'too_deep']]);
      expect(typeof (v.deadLetters![0] as { event: unknown }).event).toBe('string');
    }
    expect(routedIds(g)).toEqual([[], [], ['b']]);
    leavesTheWorker(g);
  });

  it('refuses an object or array of more than 1,000 entries as too_large; 1,000 is fine', () => {
    const { decoder, router, epoch } = setup();
    const arr = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;
    const obj = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;
    const frame = `[${telemetry('a1000', `,"x":${arr(1000)}`)},${telemetry('a1001', `,"x":${arr(1001)}`)},` +
      `${telemetry('o1000', `,"x":{"y":${obj(1000)}}`)},${telemetry('o1001', `,"x":{"y":${obj(1001)}}`)},` +
      `${telemetry('attrs', '').replace(/}$/, `,"attributes":${obj(1001)}}`)}]`;
    const g = routeGroup(decoder, router, epoch, group([frame]));
    expect(codes(g.verdicts[0]!)).toEqual([[1, 'too_large'], [3, 'too_large'], [4, 'too_large']]);
    expect(g.verdicts[0]!.rejected![2]!.message).toContain('"attributes"');
    expect(routedIds(g)).toEqual([['a1000', 'o1000']]);
    leavesTheWorker(g);
  });

  it('takes its limits from the decoder config', async () => {
    // The envelope's own six fields count too.
    const decoder = await createDecoder({ maxFrameEvents: 100, maxEventDepth: 5, maxEventKeys: 8 });
    const { router, epoch } = setup(decoder);
    // event 1, payload 2, x 3, [4], [5]: depth 5 is the limit.
    const g = routeGroup(decoder, router, epoch, group([
      `[${vitals('d5', 'p1', ',"x":{"y":[[1]]}')},${vitals('d6', 'p1', ',"x":{"y":[[[1]]]}')},${vitals('k8', 'p1', ',"x":[1,2,3,4,5,6,7,8]')},${vitals('k9', 'p1', ',"x":[1,2,3,4,5,6,7,8,9]')}]`,
    ]));
    expect(codes(g.verdicts[0]!)).toEqual([[1, 'too_deep'], [3, 'too_large']]);
    expect(routedIds(g)).toEqual([['d5', 'k8']]);
  });

  it('refuses a frame whose bytes are not UTF-8 (400 invalid_utf8), never decoding it with replacements', () => {
    const { decoder, router, epoch } = setup();
    const withBytes = (id: string, bytes: number[]): Uint8Array => {
      const [a, b] = vitals(id, 'PLACEHOLDER').split('PLACEHOLDER');
      return new Uint8Array([...enc.encode(a), ...bytes, ...enc.encode(b)]);
    };
    const bad = [[0xff], [0xc0, 0xaf], [0xe0, 0xa4], [0xed, 0xa0, 0x80], [0x80]];
    const g = routeGroup(decoder, router, epoch, group([
      ...bad.map((b, i) => withBytes(`bad${i}`, b)),
      withBytes('good', [0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]), // é😀
    ]));
    for (const v of g.verdicts.slice(0, bad.length)) {
      expect(v.frameStatus).toBe(400);
      expect(codes(v)).toEqual([[null, 'invalid_utf8']]);
      expect(v.deadLetters).toHaveLength(1);
      expect(v.deadLetters![0]).toMatchObject({ code: 'invalid_utf8', tenant_id: 'demo', source: 'http', index: null });
    }
    expect(g.verdicts[bad.length]!.rejected).toBeNull();
    expect(routedIds(g).at(-1)).toEqual(['good']);
    leavesTheWorker(g);
  });

  it('refuses ids with a lone surrogate as invalid_value, naming the field; a surrogate pair is fine', () => {
    const { decoder, router, epoch } = setup();
    const frame = `[${vitals('\\ud800x')},${vitals('e2', 'p\\udc00')},${vitals('e3').replace('"tenant_id":"demo"', '"tenant_id":"demo\\ud83d"')},` +
      `${telemetry('e4', '', 'pr\\udfff')},${telemetry('e5').replace('"patient_id":"p1"', '"patient_id":"\\ud83d"')},` +
      `${vitals('e6\\ud83d\\ude00', 'p\\ud83d\\ude00')}]`;
    const g = routeGroup(decoder, router, epoch, group([frame]));
    const rejected = g.verdicts[0]!.rejected!;
    expect(rejected.map((r) => [r.index, r.code, r.event_id])).toEqual([
      [0, 'invalid_value', null], [1, 'invalid_value', 'e2'], [2, 'invalid_value', 'e3'], [3, 'invalid_value', 'e4'], [4, 'invalid_value', 'e5'],
    ]);
    expect(rejected.map((r) => r.message.split(' ')[0])).toEqual(['event_id', 'payload.patient_id', 'tenant_id', 'payload.procedure_id', 'payload.patient_id']);
    expect(routedIds(g)).toEqual([['e6\u{1F600}']]);
  });

  it('a frame the decoder throws on is refused alone (500 internal); the group\'s other frames and its own earlier events are not affected', () => {
    const inner = new ClinicalFrameDecoder(new ContractRegistry(), 1000);
    // Routes the frame's events, then throws: what it pushed must be taken back.
    const throwing: FrameDecoder = {
      decode(text: string, tenant: string, source: string, now: number, sink: DecodedSink): FrameVerdict {
        const v = inner.decode(text, tenant, source, now, sink);
        if (text.includes('boom')) throw new Error('decoder bug');
        return v;
      },
      takeNotes: () => inner.takeNotes(),
    };
    const { router, epoch } = setup(throwing);
    const g = routeGroup(throwing, router, epoch, group([vitals('a'), `[${vitals('b1', 'p2')},${vitals('boom', 'p3')}]`, vitals('c', 'p4')]));
    expect(g.verdicts[1]).toMatchObject({ frameStatus: 500, items: 0, hosts: 0 });
    expect(codes(g.verdicts[1]!)).toEqual([[null, 'internal']]);
    expect(routedIds(g)).toEqual([['a'], [], ['c']]);
    // Nothing left over for the next group either.
    const g2 = routeGroup(throwing, router, epoch, group([vitals('d')]));
    expect(routedIds(g2)).toEqual([['d']]);
  });

  it('an event that cannot be encoded is refused alone (invalid_value); the rest of its batch is packed as before', () => {
    const inner = new ClinicalFrameDecoder(new ContractRegistry(), 1000);
    const cyclic: Record<string, unknown> = { id: 'cyc' };
    cyclic.self = cyclic;
    // A decoder that lets something unencodable through (as a deep payload once went through).
    const leaky: FrameDecoder = {
      decode(text: string, tenant: string, source: string, now: number, sink: DecodedSink): FrameVerdict {
        const v = inner.decode(text, tenant, source, now, sink);
        if (text.includes('"leak"')) {
          sink.push('patient', 'demo', 'p1', NOW, cyclic, 1);
          sink.push('patient', 'demo', 'p1', NOW, { id: 'big', n: 10n }, 2);
        }
        return v;
      },
      takeNotes: () => inner.takeNotes(),
    };
    const { router, epoch } = setup(leaky);
    const g = routeGroup(leaky, router, epoch, group([vitals('x0'), `[${vitals('leak')}]`, vitals('x2', 'p1')]));
    expect(g.verdicts[1]!.rejected!.map((r) => [r.index, r.code])).toEqual([[1, 'invalid_value'], [2, 'invalid_value']]);
    expect(g.verdicts[0]!.rejected).toBeNull();
    expect(routedIds(g)).toEqual([['x0'], ['leak'], ['x2']]);
    for (const b of g.batches) if (b !== null) expect(b.kg.length).toBe(b.n);
  });

  it('posts a group whose dead letters cannot be cloned without them, rather than not at all', async () => {
    const { port1, port2 } = new MessageChannel();
    let deep: unknown[] = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const out: RoutedGroup = {
      t: 'routed', group: 9, epoch: 0, batches: [null], notes: null,
      verdicts: [
        { batchId: null, items: 1, rejected: [{ index: 0, event_id: null, code: 'x', message: '' }], frameStatus: 0, deadLetters: [{ event: deep }], hosts: 0 },
        { batchId: 'keep', items: 1, rejected: [{ index: 0, event_id: null, code: 'y', message: '' }], frameStatus: 0, deadLetters: [{ event: 'fine' }], hosts: 0 },
      ],
    };
    const got = new Promise<RoutedGroup>((resolve) => port2.once('message', resolve));
    postRouted(port1 as MessagePort, out);
    const g = await got;
    port1.close();
    expect(g.t).toBe('routed');
    expect(g.verdicts.map((v) => v.deadLetters)).toEqual([null, [{ event: 'fine' }]]);
  });
});
