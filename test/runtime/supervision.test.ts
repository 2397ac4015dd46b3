import { afterEach, describe, expect, it } from 'vitest';
import type { ActorFailure } from '../../runtime/protocol.js';
import type { ActorRuntime, RuntimeEvent } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';
import { memoryPorts } from '../../adapters/memory/index.js';

describe('supervision', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('a throwing handler fails only its actor; the host and its other actors go on', async () => {
    const failures: ActorFailure[] = [];
    rt = await startRuntime({ hosts: 1, shards: 1 }, memoryPorts(), {
      onActorFailed: (f) => failures.push(f),
    });
    await rt.submitAsync([
      { tenant: 't', kind: 'counter', id: 'bad', time: 1, body: { v: 1 } },
      { tenant: 't', kind: 'counter', id: 'good', time: 1, body: { v: 1 } },
    ]);
    await rt.snapshotNow();
    const res = await rt.submitAsync([
      { tenant: 't', kind: 'counter', id: 'bad', time: 2, body: { boom: true } },
      { tenant: 't', kind: 'counter', id: 'good', time: 2, body: { v: 2 } },
      { tenant: 't', kind: 'counter', id: 'bad', time: 3, body: { v: 5 } },
    ]);
    // The event after the failure is refused back to its producer, by index, with a code.
    expect(res.rejected).toEqual([
      { index: 0, code: 'actor_failed', message: expect.stringMatching(/boom requested/) },
      { index: 2, code: 'actor_failed', message: expect.stringMatching(/has failed.*boom requested/) },
    ]);
    await waitFor(() => failures.length === 1, 5000, 'failure report');
    expect(failures[0]).toMatchObject({ tenant: 't', kind: 'counter', id: 'bad', error: { code: 'actor_failed' } });
    expect(failures[0]!.error.message).toMatch(/boom requested/);
    const bad = await rt.inspect('counter', 't', 'bad');
    expect(bad?.status).toBe('failed');
    expect((await rt.inspect('counter', 't', 'good'))?.state).toMatchObject({ count: 2, sum: 3 });

    // Reset = restart from the last good snapshot.
    expect(await rt.resetActor('counter', 't', 'bad')).toBe(true);
    await rt.submitAsync([{ tenant: 't', kind: 'counter', id: 'bad', time: 4, body: { v: 7 } }]);
    expect((await rt.inspect('counter', 't', 'bad'))?.state).toMatchObject({ count: 2, sum: 8 });
  });

  for (const how of ['exit', 'throw'] as const) {
    it(`a worker that dies (${how}) mid-stream is replaced; every acked event is in state exactly once`, async () => {
      const restarts: number[] = [];
      rt = await startRuntime({ hosts: 2, shards: 4, snapshotIntervalMs: 30 }, memoryPorts(), {
        onHostRestarted: (i) => restarts.push(i.hostId),
      });
      const actors = 200;
      const acked = new Map<string, number>();
      const sent = new Map<string, number>();
      let seq = 0;
      const frame = (): RuntimeEvent[] => {
        const f: RuntimeEvent[] = [];
        for (let i = 0; i < 50; i++) {
          const id = `p${(seq * 7 + i) % actors}`;
          f.push({ tenant: 't', kind: 'counter', id, time: seq, body: { v: 1, track: true } });
          sent.set(id, (sent.get(id) ?? 0) + 1);
        }
        seq++;
        return f;
      };
      const pending: Promise<void>[] = [];
      for (let k = 0; k < 400; k++) {
        const f = frame();
        if (k === 200) await rt.crashHost(0, how);
        pending.push(
          rt.submitAsync(f).then(() => {
            for (const e of f) acked.set(e.id, (acked.get(e.id) ?? 0) + 1);
          }),
        );
        if (k % 20 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(pending);
      await waitFor(() => restarts.length >= 1, 10_000, 'host restart');
      expect(rt.generation[0]).toBeGreaterThan(1);
      let total = 0;
      for (let i = 0; i < actors; i++) {
        const id = `p${i}`;
        const s = (await rt.inspect('counter', 't', id))?.state as { count: number } | undefined;
        // Every acked event is reflected, none twice (sent == acked here since all were acked).
        expect(s?.count ?? 0, id).toBe(acked.get(id) ?? 0);
        expect(acked.get(id) ?? 0).toBe(sent.get(id) ?? 0);
        total += s?.count ?? 0;
      }
      expect(total).toBe(400 * 50);
    });
  }
});
