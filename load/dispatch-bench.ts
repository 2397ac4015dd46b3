// Dispatch benchmark (issue 2): events pushed through 2 shard hosts into a trivial actor, no
// network. Measures the runtime's own routing, log append, batching, cross-thread transfer and
// apply, with acks. Writes load/reports/dispatch.json.
import { availableParallelism, cpus } from 'node:os';
import { memoryPorts } from '../adapters/memory/index.js';
import { ActorRuntime, type RuntimeEvent } from '../runtime/runtime.js';
import { fixtureModule, reportPath, runMain, writeReport } from './paths.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const total = Number(args.get('events') ?? 10_000_000);
const frame = Number(args.get('frame') ?? 1000);
const actorsN = Number(args.get('actors') ?? 10_000);
const out = args.get('json') ?? reportPath('dispatch.json');

const fixture = fixtureModule('counter-actor');

async function main(): Promise<void> {
  const ports = memoryPorts();
  const rt = await ActorRuntime.start({ actorModules: [fixture], shards: 2, hosts: 2, snapshotIntervalMs: 1000 }, ports);
  // A fixed pool of frames, reused: the benchmark measures the runtime, not event creation.
  const frames: RuntimeEvent[][] = [];
  for (let f = 0; f < 64; f++) {
    const fr: RuntimeEvent[] = [];
    for (let i = 0; i < frame; i++) {
      const n = (f * frame + i) * 7919;
      fr.push({ tenant: 'bench', kind: 'trivial', id: `a${n % actorsN}`, time: n, body: { v: i } });
    }
    frames.push(fr);
  }
  // Warm up: activates every actor, JITs the paths.
  for (let f = 0; f < 200; f++) await rt.submitAsync(frames[f % frames.length]!);
  await rt.settle();

  let acked = 0;
  let sent = 0;
  const t0 = performance.now();
  let f = 0;
  await new Promise<void>((resolve) => {
    const onAck = (err: unknown, r: { events: number }) => {
      if (err) throw err;
      acked += r.events;
      if (acked >= total) resolve();
    };
    const pump = (): void => {
      while (sent < total) {
        if (!rt.submit(frames[f++ % frames.length]!, onAck)) {
          void rt.whenWritable().then(pump);
          return;
        }
        sent += frame;
        // Yield now and then so acks and flushes interleave as they would with sockets.
        if ((sent / frame) % 64 === 0) {
          setImmediate(pump);
          return;
        }
      }
    };
    pump();
  });
  const secs = (performance.now() - t0) / 1000;
  const rate = acked / secs;
  const stats = await rt.stats();
  await rt.close();
  const report = {
    benchmark: 'dispatch',
    description: 'events through 2 shard hosts (Piscina workers) into a trivial actor; memory log and snapshots; acked after apply',
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    events: acked,
    frameEvents: frame,
    distinctActors: actorsN,
    seconds: Number(secs.toFixed(3)),
    eventsPerSecond: Math.round(rate),
    target: 2_000_000,
    meetsTarget: rate >= 2_000_000,
    hosts: stats.map((s) => ({ hostId: s.hostId, active: s.active })),
    at: new Date().toISOString(),
  };
  writeReport(out, report);
}

runMain(main);
