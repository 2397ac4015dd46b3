// Frames through the ingest workers carry their events as packed UTF-8 bytes on shared memory
// (runtime/ingest/slab.ts). What the main thread and the in-memory log keep of them must stay
// readable: a host that dies mid-stream is replayed from the log (every acked event in state
// exactly once, non-ASCII text intact), and an event an actor refuses comes back with its body.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryPorts } from '../../adapters/memory/index.js';
import type { FrameResult } from '../../runtime/frames.js';
import type { FrameVerdict } from '../../runtime/ingest/protocol.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import type { CounterState } from '../fixtures/counter-actor.js';
import { fixtureUrl, startRuntime, waitFor } from '../support.js';

const NOTES = ['plain', 'Größe', 'température ✓', 'ЧСС 🫀', '心拍数'];

function submit(rt: ActorRuntime, lane: number, items: unknown[]): Promise<{ verdict: FrameVerdict; result: FrameResult }> {
  const bytes = new TextEncoder().encode(JSON.stringify(items));
  return new Promise((resolve, reject) => {
    rt.submitFrame(lane, 't', 'ws', bytes, (err, verdict, result) => {
      if (err || !verdict || !result) reject(err ?? new Error('frame lost'));
      else resolve({ verdict, result });
    });
  });
}

describe('frames as shared bytes', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('a host that dies mid-stream is replayed from the log: every acked event in state exactly once, text intact', { timeout: 20_000 }, async () => {
    const restarts: number[] = [];
    rt = await startRuntime({ hosts: 2, shards: 4, snapshotIntervalMs: 30 }, memoryPorts(), { onHostRestarted: (i) => restarts.push(i.hostId) });
    await rt.startFrames({ workers: 2, decoderModule: fixtureUrl('counter-decoder'), decoderConfig: null, maxFrameEvents: 1000 });
    const actors = 60;
    const sent = new Map<string, number[]>();
    const pending: Promise<unknown>[] = [];
    let v = 0;
    for (let k = 0; k < 120; k++) {
      if (k === 60) await rt.crashHost(0, 'exit');
      const items = Array.from({ length: 40 }, (_, i) => {
        const id = `a${(k * 13 + i) % actors}`;
        const item = { id, v: ++v, note: NOTES[v % NOTES.length] };
        (sent.get(id) ?? sent.set(id, []).get(id)!).push(item.v);
        return item;
      });
      pending.push(submit(rt, k % 4, items).then(({ verdict, result }) => {
        expect(verdict.rejected).toBeNull();
        expect(result.refused).toBeNull();
      }));
      if (k % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(pending);
    await waitFor(() => restarts.length >= 1, 10_000, 'host restart');
    const r = rt;
    let missing = 0;
    for (const [id, vs] of sent) missing += vs.length - (((await r.inspect('counter', 't', id))?.state as CounterState | undefined)?.count ?? 0);
    // Before the fix: ~20 % of the acked events (those appended while the host was restoring) never reached it.
    expect(missing).toBe(0);
    for (const [id, vs] of sent) {
      const s = (await rt.inspect('counter', 't', id))?.state as CounterState | undefined;
      // Per actor in order, once each (a connection's frames stay in order; lanes interleave).
      expect([...(s?.seen ?? [])].sort((a, b) => a - b)).toEqual(vs);
      expect(s?.count).toBe(vs.length);
    }
  });

  it('an event an actor refuses comes back with its body, unpacked from the bytes on the main thread', async () => {
    rt = await startRuntime({ hosts: 2, shards: 4 });
    await rt.startFrames({ workers: 2, decoderModule: fixtureUrl('counter-decoder'), decoderConfig: null, maxFrameEvents: 1000 });
    const items = [
      { id: 'x1', v: 1, note: 'Größe ✓' },
      { id: 'x2', v: 2, note: '心拍数', reject: 'too_late' },
      { v: 3 },
      { id: 'x3', v: 4, note: 'ЧСС 🫀', reject: 'nope' },
    ];
    const { verdict, result } = await submit(rt, 0, items);
    expect(verdict.rejected).toEqual([{ index: 2, event_id: null, code: 'invalid_field', message: 'id and v are required' }]);
    expect(result.refused).toEqual([
      { index: 1, code: 'too_late', message: 'refused: too_late', tenant: 't', time: expect.any(Number), body: { v: 2, track: true, note: '心拍数', reject: 'too_late' } },
      { index: 3, code: 'nope', message: 'refused: nope', tenant: 't', time: expect.any(Number), body: { v: 4, track: true, note: 'ЧСС 🫀', reject: 'nope' } },
    ]);
    expect(((await rt.inspect('counter', 't', 'x1'))?.state as CounterState).seen).toEqual([1]);
  });
});
