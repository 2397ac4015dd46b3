// Issue 16: the ops page's failed actors come from the supervisor's failure reports (the
// onActorFailed hook, as adapters/compose/node.ts wires it): a real runtime whose counter actor
// throws on request, its failure read back through /ops/data's `failed_actors`, with the
// mailbox-depth fields of the real host counts.
import { afterEach, describe, expect, it } from 'vitest';
import { createOpsApi, FailedActorLog } from '../../adapters/http/ops.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import { startRuntime, waitFor } from '../support.js';

describe('failed actors on the ops page, from a real runtime', () => {
  let rt: ActorRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    rt = undefined;
  });

  it('lists the actor whose handler threw, with its error code and message', async () => {
    const failed = new FailedActorLog();
    rt = await startRuntime({ hosts: 2, shards: 2 }, undefined, { onActorFailed: (f) => failed.note(f) });
    await rt.submitAsync([
      { tenant: 't', kind: 'counter', id: 'good', time: 1, body: { v: 1 } },
      { tenant: 't', kind: 'counter', id: 'bad', time: 1, body: { boom: true } },
    ]);
    await waitFor(() => failed.total === 1, 5000, 'the failure report');
    const api = createOpsApi({ runtime: rt, recentAlerts: () => [], eventsTotal: () => 2, freshness: () => ({}), failedActors: failed });
    const d = await api.data();
    expect(d.failed_actors.total).toBe(1);
    expect(d.failed_actors.actors).toHaveLength(1);
    const a = d.failed_actors.actors[0]!;
    expect(a).toMatchObject({ tenant: 't', kind: 'counter', id: 'bad', code: 'actor_failed' });
    expect(a.message).toMatch(/boom requested/);
    expect(Number.isInteger(a.seq)).toBe(true);
    expect(Date.parse(a.at)).toBeGreaterThan(Date.now() - 60_000);
    // The host counts carry the mailbox fields; nothing waits once the events are applied.
    expect(d.hosts_error).toBeNull();
    for (const h of d.hosts) expect(h).toMatchObject({ queued_events: 0, held_messages: 0, mailbox_depth: 0 });
  });
});
