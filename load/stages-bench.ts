// Where the node's CPU goes per event, stage by stage, in one process and without the WebSocket
// client (which shares the two cores in `vigil bench`): how much of the null pipeline's budget
// each stage of the real pipeline needs. Writes load/reports/stages.json.
//
//   parse     JSON.parse of 100-event frames (what the null pipeline does per frame)
//   validate  parse + contracts + routing (IngestService.prepare), no runtime
//   runtime   parse + validate + submit to the embedded runtime with the clinical actors
//             (2 shard hosts, memory ports), acked after apply: the node minus the sockets
//   trivial   the same frames' routing into trivial counter actors (runtime overhead alone)
//   frames    what a node does per frame now: bytes to ingest workers (parse, validate, route),
//             routed batches into the runtime, clinical actors, and analytics on (the analytics
//             worker writing events_raw into chDB); CPU per event of the main thread and of all
//             other threads, separately (the main thread's budget is ~1 µs/event)
import { availableParallelism, cpus } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clinicalActorsModule, clinicalFrameDecoderModule } from '../actors/index.js';
import { AnalyticsWorkerClient } from '../adapters/clickhouse/analytics-client.js';
import { cpuPerEvent, threadCpu, type ThreadCpu } from './thread-cpu.js';
import { ContractRegistry } from '../actors/contracts/registry.js';
import { IngestService, parseFrame } from '../actors/ingest.js';
import { memoryPorts } from '../adapters/memory/index.js';
import { systemClock } from '../runtime/clock.js';
import { ActorRuntime, type RuntimeEvent } from '../runtime/runtime.js';
import { frameText, type FrameMix } from './frames.js';
import { fixtureModule, reportPath, runMain, writeReport } from './paths.js';

const mix: FrameMix = { tenant: 'demo', patients: 2000, procedures: 500 };
const FRAME = 100;
const SECONDS = Number(process.env.STAGE_SECONDS ?? 4);
/** STAGE_BURST=k: the frames stage sends k frames at once and waits for all their acks (0: 16 in flight, refilled as acked). */
const BURST = Number(process.env.STAGE_BURST ?? 0);

function frames(n: number): string[] {
  const now = Date.now();
  return Array.from({ length: n }, () => frameText(mix, FRAME, now));
}

function timeLoop(fn: () => number): { eventsPerSecond: number; usPerEvent: number } {
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let events = 0;
  while (performance.now() < end) events += fn();
  const s = (performance.now() - t0) / 1000;
  return { eventsPerSecond: Math.round(events / s), usPerEvent: Number(((s * 1e6) / events).toFixed(2)) };
}

async function runtimeStage(actorModules: string[], toEvents: (text: string) => RuntimeEvent[]): Promise<{ eventsPerSecond: number; wallUsPerEvent: number; processCpuUsPerEvent: number }> {
  const rt = await ActorRuntime.start({ actorModules, shards: 2, hosts: 2 }, memoryPorts());
  const pool = frames(2000);
  let i = 0;
  let done = 0;
  const inFlight = 16;
  const end = performance.now() + SECONDS * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let running = 0;
    const next = (): void => {
      while (running < inFlight && performance.now() < end) {
        const evs = toEvents(pool[i++ % pool.length]!);
        running++;
        const ok = rt.submit(evs, (err) => {
          if (err) throw err;
          running--;
          done += evs.length;
          next();
        });
        if (!ok) {
          running--;
          void rt.whenWritable().then(next);
          return;
        }
      }
      if (running === 0) resolve();
    };
    next();
  });
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await rt.close();
  // process.cpuUsage covers every thread of the process (main + shard hosts).
  return {
    eventsPerSecond: Math.round(done / s),
    // Wall time per event (one event at a time would take this long), not CPU: that is processCpuUsPerEvent.
    wallUsPerEvent: Number((s * 1e6 / done).toFixed(2)),
    processCpuUsPerEvent: Number(((cpu.user + cpu.system) / done).toFixed(2)),
  };
}

async function framesStage(): Promise<{ eventsPerSecond: number; cpuUsPerEvent: { main: number; workers: number } | null }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-stages-'));
  const { client } = await AnalyticsWorkerClient.start(
    { chdbDir: join(dataDir, 'chdb'), database: 'vigil_stages', spoolDir: join(dataDir, 'spool') }, {}, () => undefined,
  );
  const ports = { ...memoryPorts(), rollupSink: client.rollups, alertSink: client.alerts };
  let rt: ActorRuntime | null = null;
  rt = await ActorRuntime.start({ actorModules: [clinicalActorsModule()], shards: 2, hosts: 2 }, ports, {
    onAccepted: (a) => client.accepted(rt!.kinds, a),
  });
  await rt.startFrames({ workers: 2, decoderModule: clinicalFrameDecoderModule(), decoderConfig: { maxFrameEvents: 1000 }, maxFrameEvents: 1000 });
  // Frames are made before the clock starts (the main thread's CPU is what is measured), each
  // encoded to bytes as a socket would hand them over; ids are unique while the pool lasts.
  const enc = new TextEncoder();
  const texts = frames(3000);
  let f = 0;
  let done = 0;
  const inFlight = BURST > 0 ? BURST : 16;
  const warmEnd = performance.now() + 1000;
  const end = warmEnd + SECONDS * 1000;
  let a: ThreadCpu | null = null;
  let counted = 0;
  await new Promise<void>((resolve) => {
    let running = 0;
    const next = (): void => {
      while (running < inFlight && performance.now() < end) {
        running++;
        // Four producer connections, as `vigil bench` runs: a connection's lane picks its ingest worker.
        const lane = f % 4;
        rt!.submitFrame(lane, 'demo', 'ws', enc.encode(texts[f++ % texts.length]!), (err, v) => {
          if (err || !v) throw err ?? new Error('frame lost');
          running--;
          done += FRAME;
          if (a === null && performance.now() >= warmEnd) {
            a = threadCpu();
            counted = done;
          }
          // Bursts: the next frames leave only once all of the last burst's are acked, so every
          // loop turn carries the same number of frames however fast (or shared) the machine is,
          // and CPU per event compares across runs (closed-loop batching grows with the rate).
          if (BURST === 0 || running === 0) next();
        });
      }
      if (running === 0) resolve();
    };
    next();
  });
  const b = threadCpu();
  const events = done - counted;
  await rt.close();
  await client.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { eventsPerSecond: Math.round(events / SECONDS), cpuUsPerEvent: cpuPerEvent(a, b, events) };
}

// STAGES=frames (comma-separated stage names) runs only those, e.g. under --cpu-prof; the report is
// then written to stages-partial.json so the committed full report stays whole.
const only = process.env.STAGES ? new Set(process.env.STAGES.split(',')) : null;

runMain(async () => {
  if (only !== null) {
    const out: Record<string, unknown> = { benchmark: 'stages (partial)', node: process.version, cpus: availableParallelism(), seconds: SECONDS };
    if (only.has('frames')) out.framesWithAnalytics = { burst: BURST, ...(await framesStage()) };
    writeReport(reportPath('stages-partial.json'), { ...out, at: new Date().toISOString() });
    return;
  }
  const pool = frames(2000);
  let k = 0;
  const parse = timeLoop(() => parseFrame(pool[k++ % pool.length]!, 1000).items.length);

  const registry = new ContractRegistry();
  const sink = { submit: () => true, whenWritable: () => Promise.resolve() };
  const ingest = new IngestService(registry, sink as unknown as ConstructorParameters<typeof IngestService>[1], systemClock);
  // Event times must stay recent for the contracts: validate against fresh frames.
  const fresh = frames(2000);
  k = 0;
  const validate = timeLoop(() => ingest.prepare(parseFrame(fresh[k++ % fresh.length]!, 1000).items, 'demo').events.length);

  const clinical = await runtimeStage([clinicalActorsModule()], (t) => ingest.prepare(parseFrame(t, 1000).items, 'demo').events as RuntimeEvent[]);
  const trivial = await runtimeStage([fixtureModule('counter-actor')], (t) => {
    const evs = ingest.prepare(parseFrame(t, 1000).items, 'demo').events as RuntimeEvent[];
    for (const e of evs) e.kind = 'counter';
    return evs;
  });

  const framesWithAnalytics = await framesStage();

  writeReport(reportPath('stages.json'), {
    benchmark: 'stages',
    description: 'per-event cost of each stage of the ingest pipeline, in-process, 100-event frames of the vigil bench mix; runtime stages: 2 shard hosts, memory ports, 16 submissions in flight; processCpuUsPerEvent counts every thread',
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    seconds: SECONDS,
    parse,
    validate,
    runtimeClinical: clinical,
    runtimeTrivialActors: trivial,
    framesWithAnalytics,
    at: new Date().toISOString(),
  });
});
