// `vigil bench`: the node on its defaults (embedded, analytics on) against the null pipeline (the
// same uWS server: receive, JSON.parse, ack, nothing else) and a naive peer (`ws` + a Map of actor
// objects), for 100-event and 1-event frames, in one run. The load runs in a child process so it
// does not share the servers' event loop; every server sees the same client. Prints a table and
// writes the JSON report.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpuPerEvent, threadCpu, type ThreadCpu } from './thread-cpu.js';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseNodeConfig } from '../adapters/compose/config.js';
import { startNode } from '../adapters/compose/node.js';
import { startNaivePeer, startNullPipeline } from './peers.js';
import type { ClientOptions, ClientResult } from './bench-client.js';
import { reportPath } from './paths.js';

/**
 * Latency at a fixed rate, open loop: `vigil load` (its own process) offers `rate` events/s and
 * measures each frame from the time it was due, so queueing is not hidden. Its JSON report is
 * read back as is.
 */
function runOpenLoop(port: number, token: string, rate: number, batch: number, seconds: number): Promise<{ rate: number; eventsPerSecond: number; latencyMs: unknown }> {
  const vigil = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
  const out = join(tmpdir(), `vigil-bench-load-${process.pid}-${batch}.json`);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [vigil, 'load', '--url', `ws://127.0.0.1:${port}`, '--token', token, '--rate', String(rate),
      '--duration', String(seconds), '--connections', '4', '--batch', String(batch), '--json', out], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', () => {
      try {
        const r = JSON.parse(readFileSync(out, 'utf8')) as { eventsPerSecond: number; latencyMs: unknown };
        resolve({ rate, eventsPerSecond: r.eventsPerSecond, latencyMs: r.latencyMs });
      } catch (err) {
        reject(new Error(`vigil load wrote no report: ${(err as Error).message}`));
      }
    });
  });
}

/**
 * The node (in this process) runs `o`'s client; CPU is sampled over the measured window only.
 * Main thread = the uWS thread; other threads = ingest workers, shard hosts, analytics worker.
 */
async function runMeasured(o: ClientOptions): Promise<ClientResult & { cpuUsPerEvent: { main: number; workers: number } | null }> {
  let a: ThreadCpu | null = null;
  let b: ThreadCpu | null = null;
  // Sampled just inside the measured window (the client ends right after it).
  const t1 = setTimeout(() => (a = threadCpu()), o.warmupSeconds * 1000 + 200);
  const t2 = setTimeout(() => (b = threadCpu()), (o.warmupSeconds + o.seconds) * 1000 - 200);
  const r = await runChild(o);
  clearTimeout(t1);
  clearTimeout(t2);
  return { ...r, cpuUsPerEvent: cpuPerEvent(a, b, r.eventsPerSecond * (o.seconds - 0.4)) };
}

function runChild(o: ClientOptions): Promise<ClientResult> {
  const script = fileURLToPath(new URL('./bench-client.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench client exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ClientResult);
    });
  });
}

export async function runBench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'string' },
      seconds: { type: 'string', default: '8' },
      connections: { type: 'string', default: '4' },
      window: { type: 'string', default: '4' },
      durable: { type: 'boolean', default: false },
      analytics: { type: 'string', default: 'on' },
      nats: { type: 'string', default: process.env.VIGIL_NATS_URL ?? 'nats://127.0.0.1:4222' },
      redis: { type: 'string', default: process.env.VIGIL_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const window = Number(values.window);
  const token = 'bench-token-0123456789';
  const nul = await startNullPipeline();
  const peer = await startNaivePeer();
  // What users run: the embedded node on its defaults, analytics on (chDB in a fresh data dir).
  const analytics = values.analytics === 'off' ? 'off' : 'on';
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const node = await startNode(parseNodeConfig({}, {}, {
    port: 0, host: '127.0.0.1', demoToken: token, adminToken: 'bench-admin-0123456789', analytics, dataDir,
  }), { log: () => undefined });
  // Durable mode: the same node on real JetStream and Redis (a fresh cluster name per run).
  const durableNode = values.durable
    ? await startNode(parseNodeConfig({}, {}, {
      port: 0, host: '127.0.0.1', demoToken: token, adminToken: 'bench-admin-0123456789',
      natsUrl: values.nats, redisUrl: values.redis, cluster: `bench${Date.now().toString(36)}`, analytics: 'off',
    }), { log: () => undefined })
    : null;
  const mix = { tenant: 'demo', patients: 2000, procedures: 500 };
  const results: Record<string, {
    null: ClientResult; peer: ClientResult; runtime: ClientResult; ratio: number; peerRatio: number;
    durable?: ClientResult; durableRatio?: number;
    openLoop?: { rate: number; eventsPerSecond: number; latencyMs: unknown };
  }> = {};
  try {
    for (const frameEvents of [100, 1]) {
      // Small frames need more frames in flight to fill the pipe.
      const w = frameEvents === 1 ? window * 8 : window;
      const base = { host: '127.0.0.1', token, frameEvents, connections, window: w, seconds, warmupSeconds: 2, mix };
      const a = await runChild({ ...base, port: nul.port });
      const pe = await runChild({ ...base, port: peer.port });
      const b = await runMeasured({ ...base, port: node.port });
      results[`frame${frameEvents}`] = {
        null: a, peer: pe, runtime: b,
        ratio: Number((b.eventsPerSecond / a.eventsPerSecond).toFixed(3)),
        peerRatio: Number((b.eventsPerSecond / pe.eventsPerSecond).toFixed(3)),
      };
      // Then latency at 80 % of what the runtime sustained, measured by `vigil load` (open loop).
      const rate = Math.max(100, Math.round(b.eventsPerSecond * 0.8));
      const ol = await runOpenLoop(node.port, token, rate, frameEvents, Math.min(6, seconds));
      results[`frame${frameEvents}`]!.openLoop = ol;
      console.log(`${String(frameEvents).padStart(3)}-event frames: open loop at ${rate.toLocaleString()} ev/s offered: ${ol.eventsPerSecond.toLocaleString()} ev/s, latency ${JSON.stringify(ol.latencyMs)}`);
      if (durableNode) {
        const c = await runChild({ ...base, port: durableNode.port });
        results[`frame${frameEvents}`]!.durable = c;
        results[`frame${frameEvents}`]!.durableRatio = Number((c.eventsPerSecond / a.eventsPerSecond).toFixed(3));
        console.log(`${String(frameEvents).padStart(3)}-event frames: durable ${c.eventsPerSecond.toLocaleString()} ev/s (p50 ${c.latencyMs.p50} ms, p99 ${c.latencyMs.p99} ms) | ratio ${results[`frame${frameEvents}`]!.durableRatio}`);
      }
      console.log(
        `${String(frameEvents).padStart(3)}-event frames: null ${a.eventsPerSecond.toLocaleString()} ev/s (p50 ${a.latencyMs.p50} ms, p99 ${a.latencyMs.p99} ms) | ` +
          `peer ${pe.eventsPerSecond.toLocaleString()} ev/s | ` +
          `node ${b.eventsPerSecond.toLocaleString()} ev/s (p50 ${b.latencyMs.p50} ms, p99 ${b.latencyMs.p99} ms, accepted ${b.accepted}, rejected ${b.rejected}; ` +
          `CPU µs/event main ${b.cpuUsPerEvent?.main ?? '?'} workers ${b.cpuUsPerEvent?.workers ?? '?'}) | ` +
          `×null ${results[`frame${frameEvents}`]!.ratio} ×peer ${results[`frame${frameEvents}`]!.peerRatio}`,
      );
    }
  } finally {
    await nul.close();
    await peer.close();
    await node.close();
    await durableNode?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const report = {
    benchmark: 'vigil bench',
    description: 'closed-loop WebSocket load from a child process; null = same uWS server, JSON.parse and ack only; peer = ws + a Map of actor objects (count, latest value), one ack per frame; runtime = the node on its defaults (embedded: 2 shard hosts, memory log and snapshots, analytics into chDB unless --analytics off), acked after apply',
    analytics,
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    connections,
    windowFramesPerConnection: { frame100: window, frame1: window * 8 },
    seconds,
    results,
    durable: durableNode ? { nats: values.nats, redis: values.redis } : null,
    targets: { nullRatio: 0.5, peerRatio: 1.0, p99AckMs: 15, durableFrame100Ratio: 0.3 },
    at: new Date().toISOString(),
  };
  const out = values.json ?? reportPath('bench.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${out}`);
  return 0;
}
