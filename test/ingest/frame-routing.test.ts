// The ingest worker's work, in-process: frames decoded by the clinical decoder and routed into one
// columnar batch per host, with each event's frame and index, and a verdict per frame.
import { describe, expect, it } from 'vitest';
import { ClinicalFrameDecoder, type IngestNotes } from '../../actors/frame-decoder.js';
import { ContractRegistry } from '../../actors/contracts/registry.js';
import { keyGroupOf } from '../../runtime/keygroups.js';
import { packedText } from '../../runtime/batch.js';
import { Router, routeGroup } from '../../runtime/ingest/worker.js';
import type { FrameGroup } from '../../runtime/ingest/protocol.js';

const KG = 64;
const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);
const enc = new TextEncoder();

function vitals(id: string, patient: string, extra = ''): string {
  return `{"event_id":"${id}","tenant_id":"demo","event_type":"vitals.observation","schema_version":1,"event_time":${NOW - 1000},"payload":{"patient_id":"${patient}","heart_rate":80${extra}}}`;
}

function setup() {
  const hostOfKg = new Uint16Array(new SharedArrayBuffer(KG * 2));
  for (let k = 0; k < KG; k++) hostOfKg[k] = k % 2;
  const epoch = new Int32Array(new SharedArrayBuffer(4));
  const decoder = new ClinicalFrameDecoder(new ContractRegistry(), 1000);
  const router = new Router(['patient', 'procedure'], KG, hostOfKg, 2);
  return { hostOfKg, epoch, decoder, router };
}

function group(texts: string[]): FrameGroup {
  return { t: 'frames', group: 1, now: NOW, tenant: texts.map(() => 'demo'), source: texts.map(() => 'ws'), bytes: texts.map((t) => enc.encode(t)) };
}

describe('frame routing in an ingest worker', () => {
  it('routes every valid event to its key group\'s host with its frame and index, and answers each frame', () => {
    const { decoder, router, epoch, hostOfKg } = setup();
    const patients = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
    const f0 = `[${patients.map((p, i) => vitals(`a${i}`, p)).join(',')}]`;
    const f1 = `[${vitals('b0', 'p1')},{"event_id":"bad"},${vitals('b2', 'p7')}]`;
    const f2 = '{not json';
    const g = routeGroup(decoder, router, epoch, group([f0, f1, f2]));

    expect(g.verdicts.map((v) => v.items)).toEqual([6, 3, 0]);
    expect(g.verdicts[0]!.rejected).toBeNull();
    expect(g.verdicts[1]!.rejected!.map((r) => [r.index, r.code])).toEqual([[1, 'missing_field']]);
    expect(g.verdicts[2]!.frameStatus).toBe(400);
    expect(g.verdicts[2]!.rejected![0]!.code).toBe('invalid_json');
    expect(g.verdicts[2]!.deadLetters).toHaveLength(1);

    const seen: string[] = [];
    const masks = [0, 0, 0];
    g.batches.forEach((b, h) => {
      if (b === null) return;
      const [tenants, ids, bodies] = JSON.parse(packedText(b.packed)) as [string[], string[], { id: string }[]];
      expect(tenants).toHaveLength(b.n);
      for (let i = 0; i < b.n; i++) {
        expect(hostOfKg[b.kg[i]!]).toBe(h);
        expect(b.kg[i]).toBe(keyGroupOf('demo', 'patient', ids[i]!, KG));
        expect(b.kind[i]).toBe(0);
        masks[b.frame[i]!]! |= 1 << h;
        seen.push(`${b.frame[i]}:${b.index[i]}:${bodies[i]!.id}`);
      }
    });
    expect(seen.sort()).toEqual(['0:0:a0', '0:1:a1', '0:2:a2', '0:3:a3', '0:4:a4', '0:5:a5', '1:0:b0', '1:2:b2'].sort());
    expect(g.verdicts.map((v) => v.hosts)).toEqual(masks);
    const notes = g.notes as IngestNotes;
    expect(notes.patients.map((p) => p[1]).sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(notes.newest).toEqual({ demo: NOW - 1000 });
  });

  it('tags a group with the route epoch read before routing, and reports a patient once', () => {
    const { decoder, router, epoch } = setup();
    Atomics.store(epoch, 0, 7);
    const g1 = routeGroup(decoder, router, epoch, group([vitals('c1', 'q1')]));
    expect(g1.epoch).toBe(7);
    const g2 = routeGroup(decoder, router, epoch, group([vitals('c2', 'q1')]));
    expect((g2.notes as IngestNotes).patients).toEqual([]);
    // Builders are empty again after a group.
    expect(g2.batches.filter((b) => b !== null).reduce((n, b) => n + b!.n, 0)).toBe(1);
  });
});
