// The CI load gate (load/ci-gate.ts): its checker fails on one acked event missing from actor
// state, on rejections that do not match what was sent, and on error lines in the node's log; an
// end-to-end run against a real `vigil start` child passes; and the same run with one acked event
// dropped fails, naming the actor.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkGate, runGate, type GateRun } from '../../load/ci-gate.js';
import type { LoadReport, OracleActor } from '../../load/load-report.js';

function stats() {
  return { count: 3, mean: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1 };
}

/** A small report as `vigil load` writes it: two procedures and a patient, some rejections, duplicates. */
function fakeReport(actors: OracleActor[]): LoadReport {
  const accepted = actors.reduce((n, a) => n + a.accepted, 0);
  return {
    report: 'vigil load', version: 1,
    scenario: { name: 'unit', description: '', file: null },
    options: {
      url: 'ws://127.0.0.1:1', tenant: 'demo', rate: 100, duration: 1, connections: 1, batch: 10, patients: 1, procedures: 2,
      mix: { telemetry: 1, vitals: 0, biometric: 0 }, late: 0.1, duplicate: 0.1, invalid: 0.1, seed: 1, lateByMs: 600_000, drainSeconds: 5,
    },
    run: { id: 'r1', startedAt: '', finishedAt: '', node: process.version, elapsedSeconds: 1, drainTimedOut: false },
    frames: { planned: 2, sent: 2, acked: 2, delayed: 0, unsent: 0, unacked: 0, rejected: 0 },
    events: { sent: accepted + 4, acked: accepted + 4, accepted, duplicates: 1, rejected: 3 },
    eventsPerSecond: accepted + 4, sentPerSecond: accepted + 4,
    latencyMs: stats(), serviceLatencyMs: stats(), sendLagMs: stats(),
    rejected: { byCode: { invalid_value: 1, missing_field: 1, too_late: 1 }, frameByCode: {} },
    expected: { sentByClass: { ok: accepted, duplicate: 1, late: 1, invalid: 2 }, rejectedByCode: { invalid_value: 1, missing_field: 1, too_late: 1 }, duplicates: 1, fallbacks: 0 },
    mismatches: { count: 0, samples: [] },
    connections: { opened: 1, closes: [], errors: [] },
    timeline: [],
    oracle: { eventIdPrefix: 'r1-', eventIdsComplete: true, actors },
    faults: [],
  };
}

const ACTORS: OracleActor[] = [
  { kind: 'procedure', id: 'proc-0', accepted: 3, eventIds: [0, 2, 4] },
  { kind: 'procedure', id: 'proc-1', accepted: 2, eventIds: [1, 3] },
  { kind: 'patient', id: 'pat-0', accepted: 1, eventIds: [5] },
];
const MATCHING = { 'procedure/proc-0': 3, 'procedure/proc-1': 2, 'patient/pat-0': 1 };
const CLEAN_LOG = 'vigil listening on http://127.0.0.1:1 (WebSocket ws://127.0.0.1:1/v1/stream)\nSIGTERM: draining (actors passivate with a final snapshot)...\n';

describe('checkGate (pure)', () => {
  it('passes when every actor holds exactly its acked-accepted events and rejections match', () => {
    const r = checkGate(fakeReport(ACTORS), MATCHING, CLEAN_LOG);
    expect(r.failures).toEqual([]);
    expect(r).toMatchObject({ ok: true, actors: 3, events: 6 });
  });

  it('fails when one acked event is missing from actor state, naming the actor', () => {
    const r = checkGate(fakeReport(ACTORS), { ...MATCHING, 'procedure/proc-1': 1 }, CLEAN_LOG);
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual(['procedure/proc-1: actor state has 1 events, the load acked 2 as accepted: 1 acked event(s) missing from actor state']);
  });

  it('fails when an actor holds more than was acked, or its state was not read', () => {
    expect(checkGate(fakeReport(ACTORS), { ...MATCHING, 'patient/pat-0': 2 }, CLEAN_LOG).failures[0]).toMatch(/^patient\/pat-0: .* 1 event\(s\) applied that were not acked/);
    const unread: Record<string, number> = { ...MATCHING };
    delete unread['procedure/proc-0'];
    expect(checkGate(fakeReport(ACTORS), unread, CLEAN_LOG).failures[0]).toMatch(/^procedure\/proc-0: its state was not read/);
  });

  it('fails when rejections by code differ from the invalid and late events sent', () => {
    const rep = fakeReport(ACTORS);
    rep.rejected.byCode = { invalid_value: 1, missing_field: 1 }; // the late event was not refused
    const r = checkGate(rep, MATCHING, CLEAN_LOG);
    expect(r.ok).toBe(false);
    expect(r.failures.join('\n')).toContain('too_late: 0 rejected, 1 expected');
  });

  it('fails on duplicates that were not recognised, unexpected ack outcomes and unacked frames', () => {
    const rep = fakeReport(ACTORS);
    rep.events.duplicates = 0;
    rep.mismatches = { count: 1, samples: ['event r1-9 (ok): expected accepted, got too_late'] };
    rep.frames.unacked = 1;
    const f = checkGate(rep, MATCHING, CLEAN_LOG).failures.join('\n');
    expect(f).toContain('duplicates: 0 acked as duplicates, 1 sent');
    expect(f).toContain('expected accepted, got too_late');
    expect(f).toContain('1 frames were never acked');
  });

  it('fails on error lines in the node log', () => {
    for (const line of ['actor failed: procedure demo/proc-1: boom', 'TypeError: x is undefined', 'vigil: Error: listen EADDRINUSE', 'Unhandled rejection']) {
      const r = checkGate(fakeReport(ACTORS), MATCHING, `${CLEAN_LOG}${line}\n`);
      expect(r.ok, line).toBe(false);
      expect(r.failures[0]).toContain(line);
    }
  });

  it('fails when the oracle is inconsistent with the acks', () => {
    const rep = fakeReport(ACTORS);
    rep.events.accepted = 7;
    expect(checkGate(rep, MATCHING, CLEAN_LOG).failures).toEqual(['the oracle holds 6 accepted events but the acks accepted 7']);
  });
});

// The end-to-end runs spawn `bin/vigil.js start`, which runs the compiled CLI.
const built = existsSync(new URL('../../dist/adapters/compose/cli.js', import.meta.url));

describe.skipIf(!built)('the gate against a real node (vigil start as a child process)', () => {
  let passed: GateRun;

  it('passes: every acked event is in actor state, rejections match, the log is clean', async () => {
    passed = await runGate({ duration: 4 });
    expect(passed.failures).toEqual([]);
    expect(passed.ok).toBe(true);
    const r = passed.report;
    expect(r.events.accepted).toBeGreaterThan(1000);
    // The scenario really exercised late, duplicate and every kind of invalid event.
    expect(r.expected.sentByClass.late).toBeGreaterThan(0);
    expect(r.events.duplicates).toBeGreaterThan(0);
    expect(Object.keys(r.rejected.byCode).sort()).toEqual(
      ['invalid_enum', 'invalid_event_time', 'invalid_value', 'missing_field', 'out_of_range', 'too_late', 'unknown_event_type'],
    );
    expect(passed.counts.size).toBe(r.oracle.actors.length);
    expect(passed.seconds).toBeLessThan(60);
  }, 90_000);

  it('the counts read from that node, minus one event of one actor, fail the checker naming the actor', () => {
    expect(passed, 'the previous test must have run').toBeDefined();
    const victim = passed.report.oracle.actors.find((a) => a.accepted > 0)!;
    const key = `${victim.kind}/${victim.id}`;
    const counts = new Map(passed.counts);
    counts.set(key, counts.get(key)! - 1);
    const r = checkGate(passed.report, counts, passed.nodeLog);
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual([`${key}: actor state has ${victim.accepted - 1} events, the load acked ${victim.accepted} as accepted: 1 acked event(s) missing from actor state`]);
  });

  it('fails when one acked event is actually dropped on the way to the node (--inject-drop)', async () => {
    const r = await runGate({ duration: 3, injectDrop: true });
    expect(r.ok).toBe(false);
    expect(r.report.faults).toHaveLength(1);
    const fault = r.report.faults[0]!;
    // The dropped event is in the oracle, so its actor is one short; nothing else is wrong.
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatch(new RegExp(`^${fault.actor}: actor state has (\\d+) events, the load acked \\d+ as accepted: 1 acked event\\(s\\) missing from actor state$`));
    const id = Number(fault.eventId.slice(r.report.oracle.eventIdPrefix.length));
    const [kind, actorId] = fault.actor.split('/');
    expect(r.report.oracle.actors.find((a) => a.kind === kind && a.id === actorId)!.eventIds).toContain(id);
  }, 90_000);
});
