// A batch's mode (`live` by default, `import` for history): parsed with the frame, refused when
// unknown, and an import frame's events carry the back-fill mark in their body (and only they).
import { describe, expect, it } from 'vitest';
import { createDecoder } from '../../actors/frame-decoder.js';
import { FrameError, parseFrame } from '../../actors/ingest.js';
import { isBackfill } from '../../actors/backfill.js';

const ev = (id: string) => ({ event_id: id, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: Date.now() - 1000, payload: { patient_id: 'p1', heart_rate: 70 } });

describe('batch mode', () => {
  it('is live unless the object form says import', () => {
    expect(parseFrame(JSON.stringify([ev('a')]), 10).backfill).toBe(false);
    expect(parseFrame(JSON.stringify(ev('a')), 10).backfill).toBe(false);
    expect(parseFrame(JSON.stringify({ events: [ev('a')] }), 10).backfill).toBe(false);
    expect(parseFrame(JSON.stringify({ mode: 'live', events: [ev('a')] }), 10).backfill).toBe(false);
    expect(parseFrame(JSON.stringify({ batch_id: 'b', mode: 'import', events: [ev('a')] }), 10)).toMatchObject({ batchId: 'b', backfill: true });
  });

  it('refuses another mode as invalid_type (400), keeping the batch id for the ack', () => {
    for (const mode of ['history', 1, true, {}]) {
      let err: unknown;
      try {
        parseFrame(JSON.stringify({ batch_id: 'b7', mode, events: [] }), 10);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FrameError);
      expect(err).toMatchObject({ code: 'invalid_type', status: 400, batchId: 'b7', message: expect.stringContaining('mode must be "live" or "import"') });
    }
  });

  it('marks the bodies of an import frame, and of no other frame', async () => {
    const decoder = await createDecoder({ maxFrameEvents: 100 });
    const bodies: unknown[] = [];
    const sink = { push: (_k: string, _t: string, _id: string, _time: number, body: unknown) => void bodies.push(body) };
    decoder.decode(JSON.stringify({ mode: 'import', events: [ev('i1'), ev('i2')] }), 'demo', 'http', Date.now(), sink);
    decoder.decode(JSON.stringify([ev('l1')]), 'demo', 'http', Date.now(), sink);
    decoder.decode(JSON.stringify({ events: [ev('l2')] }), 'demo', 'ws', Date.now(), sink);
    expect(bodies.map(isBackfill)).toEqual([true, true, false, false]);
    // The mark survives the packed text the log and the hosts get.
    expect(JSON.parse(JSON.stringify(bodies)).map(isBackfill)).toEqual([true, true, false, false]);
  });
});
