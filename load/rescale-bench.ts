// Rescale pauses (issue 8): under continuous load, rescale the shard count repeatedly and record
// how long the moving key groups held their events each time (the longest pause any key group
// saw in that move). Writes load/reports/rescale.json.
import { memoryPorts } from '../adapters/memory/index.js';
import { ActorRuntime, type RescaleReport, type RuntimeEvent } from '../runtime/runtime.js';
import { fixtureModule, reportPath, runMain, writeReport } from './paths.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(args.get('rounds') ?? 6);
const actorsN = Number(args.get('actors') ?? 20_000);
const out = args.get('json') ?? reportPath('rescale.json');

async function main(): Promise<void> {
  const rt = await ActorRuntime.start({ actorModules: [fixtureModule('counter-actor')], shards: 2, hosts: 2, snapshotIntervalMs: 1000 }, memoryPorts());
  const sent = new Map<string, number>();
  let stop = false;
  let events = 0;
  const producer = (async () => {
    const pending: Promise<unknown>[] = [];
    let f = 0;
    while (!stop) {
      const frame: RuntimeEvent[] = [];
      for (let i = 0; i < 200; i++) {
        const id = `a${(f * 7919 + i * 104729) % actorsN}`;
        frame.push({ tenant: 'bench', kind: 'counter', id, time: f, body: { v: 1 } });
        sent.set(id, (sent.get(id) ?? 0) + 1);
      }
      f++;
      events += frame.length;
      pending.push(rt.submitAsync(frame));
      if (pending.length >= 16) await pending.shift();
      if (f % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
  })();
  const sequence = [4, 1, 3, 2];
  const reports: RescaleReport[] = [];
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const to of sequence) {
      await new Promise((res) => setTimeout(res, 200));
      reports.push(await rt.rescale(to));
    }
  }
  stop = true;
  await producer;
  const secs = (performance.now() - t0) / 1000;
  let lost = 0;
  let doubled = 0;
  for (const [id, n] of sent) {
    const c = ((await rt.inspect('counter', 'bench', id))?.state as { count: number } | null)?.count ?? 0;
    if (c < n) lost += n - c;
    if (c > n) doubled += c - n;
  }
  await rt.close();
  const pauses = reports.map((r) => r.pauseMs).sort((a, b) => a - b);
  const q = (p: number) => pauses[Math.min(pauses.length - 1, Math.floor(p * (pauses.length - 1)))]!;
  const report = {
    benchmark: 'rescale',
    description: 'counter actors under continuous load (200-event submissions, 16 in flight) on 2 hosts; shard count cycled 2→4→1→3→2',
    node: process.version,
    rescales: reports.length,
    actors: actorsN,
    events,
    eventsPerSecondDuring: Math.round(events / secs),
    pauseMs: { p50: q(0.5), p99: q(0.99), max: pauses[pauses.length - 1] },
    targetP99PauseMs: 250,
    meetsTarget: q(0.99) <= 250,
    movedKeyGroupsPerRescale: reports.map((r) => r.movedKeyGroups),
    movedActorsPerRescale: reports.map((r) => r.movedActors),
    lostEvents: lost,
    doubleCountedEvents: doubled,
    at: new Date().toISOString(),
  };
  writeReport(out, report);
}

runMain(main);
