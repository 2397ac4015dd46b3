// Actor density benchmark (issue 2): activate 1 M distinct trivial actors, measure the heap a
// resident idle actor costs, let them all passivate (snapshot first), and record peak RSS.
// Run with `node --expose-gc` so heap figures are after a full GC. Writes load/reports/actors.json.
import { memoryPorts } from '../adapters/memory/index.js';
import { ActorRuntime, type RuntimeEvent } from '../runtime/runtime.js';
import { fixtureModule, reportPath, runMain, writeReport } from './paths.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const actorsN = Number(args.get('actors') ?? 1_000_000);
const out = args.get('json') ?? reportPath('actors.json');

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

async function main(): Promise<void> {
  const ports = memoryPorts();
  const idleAfterMs = 3000;
  const rt = await ActorRuntime.start(
    { actorModules: [fixtureModule('counter-actor')], shards: 2, hosts: 2, idleAfterMs, passivationSweepMs: 250, snapshotIntervalMs: 60_000 },
    ports,
  );
  const before = await rt.hostMemory();
  const t0 = performance.now();
  const frame = 1000;
  for (let base = 0; base < actorsN; base += frame) {
    const fr: RuntimeEvent[] = [];
    for (let i = base; i < Math.min(actorsN, base + frame); i++) fr.push({ tenant: 'bench', kind: 'trivial', id: `actor-${i}`, time: i, body: 1 });
    await rt.whenWritable();
    rt.submit(fr);
  }
  await rt.settle();
  const activationSecs = (performance.now() - t0) / 1000;
  const resident = (await rt.stats()).reduce((n, s) => n + s.active, 0);
  const during = await rt.hostMemory();
  const heapDelta = during.reduce((n, m, i) => n + m.heapUsed - before[i]!.heapUsed, 0);
  const bytesPerActor = heapDelta / resident;

  const t1 = performance.now();
  for (;;) {
    const st = await rt.stats();
    if (st.every((s) => s.active === 0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Passivation snapshots are committed right after each sweep; wait for the store to have all.
  while (ports.snapshotStore.size() < actorsN) await new Promise((r) => setTimeout(r, 100));
  const passivationSecs = (performance.now() - t1) / 1000;
  const after = await rt.hostMemory();
  await rt.close();
  clearInterval(sampler);
  const report = {
    benchmark: 'actors',
    description: 'activate N distinct trivial actors on 2 hosts, then passivate all (snapshot first) into the in-memory store',
    node: process.version,
    gcBeforeHeapReadings: during.every((m) => m.gcRan),
    actors: actorsN,
    residentAtPeak: resident,
    activationSeconds: Number(activationSecs.toFixed(2)),
    activationsPerSecond: Math.round(actorsN / activationSecs),
    heapBytesPerResidentActor: Math.round(bytesPerActor),
    targetHeapBytesPerActor: 1024,
    passivationSeconds: Number(passivationSecs.toFixed(2)),
    idleAfterMs,
    hostHeapAfterPassivationMB: after.map((m) => Math.round(m.heapUsed / 2 ** 20)),
    snapshotsStored: ports.snapshotStore.size(),
    peakRssMB: Math.round(peakRss / 2 ** 20),
    targetPeakRssMB: 2048,
    meetsTargets: bytesPerActor <= 1024 && peakRss <= 2 * 2 ** 30,
    at: new Date().toISOString(),
  };
  writeReport(out, report);
}

runMain(main);
