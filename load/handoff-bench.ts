// The main thread's share of handing routed batches on, isolated from everything else the node
// does (actors, snapshots, chDB, sockets), so it can be measured on a shared machine: CPU time of
// each thread (Linux /proc/thread-self), not throughput. A "worker" thread posts routed batches
// (the packed columns of real 100-event frames routed by the clinical decoder, ~400 events per
// batch) to the main thread, which posts each on to a "host" and an "analytics" thread, as
// frames.ts, the ledger and the analytics tap do; both unpack it (JSON.parse, as the shard host
// and the analytics worker do). Two encodings of the packed columns, alternated:
//   string  the JSON text as a string (structured-clone copies at each hop)
//   shared  its UTF-8 bytes on shared memory (runtime/ingest/slab.ts): a reference at each hop
// Writes load/reports/handoff.json.
//
//   node dist/load/handoff-bench.js            (HANDOFF_BATCHES, HANDOFF_ROUNDS to change the size)
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ContractRegistry } from '../actors/contracts/registry.js';
import { ClinicalFrameDecoder } from '../actors/frame-decoder.js';
import { packedText } from '../runtime/batch.js';
import { Router, routeGroup } from '../runtime/ingest/worker.js';
import type { FrameGroup } from '../runtime/ingest/protocol.js';
import { frameText, type FrameMix } from './frames.js';
import { reportPath, runMain, writeReport } from './paths.js';

const BATCHES = Number(process.env.HANDOFF_BATCHES ?? 3000);
const ROUNDS = Number(process.env.HANDOFF_ROUNDS ?? 3);
const WINDOW = 8;
const MODES = ['string', 'shared', 'bytes'] as const;
type Mode = (typeof MODES)[number];
const SLAB = Number(process.env.HANDOFF_SLAB ?? 256 * 1024);
const KG = 256;
const mix: FrameMix = { tenant: 'demo', patients: 2000, procedures: 500 };

/** CPU seconds of the calling thread. */
function threadSeconds(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// The three helper threads, as plain JavaScript (eval): no module of the node is needed there.
const THREAD_SECONDS = `
const { readFileSync } = require('node:fs');
function threadSeconds() {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}`;

const SOURCE = `${THREAD_SECONDS}
const { parentPort, workerData } = require('node:worker_threads');
const { texts, n, mode, batches, window } = workerData;
// The slab of runtime/ingest/slab.ts, inlined (this thread loads no module of the node).
let buf = null, view = null, off = 0;
function encode(text) {
  const len = Buffer.byteLength(text, 'utf8');
  if (workerData.slab === 0) { const own = new SharedArrayBuffer(len); Buffer.from(own).write(text, 0, len, 'utf8'); return new Uint8Array(own); }
  if (buf === null || off + len > buf.byteLength) { buf = new SharedArrayBuffer(workerData.slab); view = Buffer.from(buf); off = 0; }
  const at = off;
  view.write(text, at, len, 'utf8');
  off = at + len;
  return new Uint8Array(buf, at, len);
}
let sent = 0;
const t0 = threadSeconds();
function send() {
  const i = sent++;
  const cols = { kg: new Uint32Array(n), kind: new Uint8Array(n), time: new Float64Array(n), frame: new Uint32Array(n), index: new Uint32Array(n) };
  const text = texts[i % texts.length];
  // The worker stringifies the columns either way; 'shared' copies the text into shared memory.
  const transfer = [cols.kg.buffer, cols.kind.buffer, cols.time.buffer, cols.frame.buffer, cols.index.buffer];
  let packed = text;
  if (mode === 'shared') packed = encode(text);
  else if (mode === 'bytes') {
    packed = new Uint8Array(Buffer.byteLength(text, 'utf8'));
    Buffer.from(packed.buffer).write(text, 0, packed.byteLength, 'utf8');
    transfer.push(packed.buffer);
  }
  parentPort.postMessage({ n, packed, ...cols }, transfer);
}
parentPort.on('message', () => {
  if (sent < batches) send();
  else if (sent === batches) { sent++; parentPort.postMessage({ done: threadSeconds() - t0 }); }
});
for (let k = 0; k < window; k++) send();
`;

const SINK = `${THREAD_SECONDS}
const { parentPort } = require('node:worker_threads');
let t0 = -1, events = 0;
parentPort.on('message', (m) => {
  if (m.report) { parentPort.postMessage({ cpu: threadSeconds() - t0, events }); return; }
  if (t0 < 0) t0 = threadSeconds();
  const p = m.batch ? m.batch.packed : m.packed;
  const cols = JSON.parse(typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8'));
  events += cols[0].length;
});
`;

function packedTexts(): { texts: string[]; n: number } {
  const hostOfKg = new Uint16Array(new SharedArrayBuffer(KG * 2));
  for (let k = 0; k < KG; k++) hostOfKg[k] = k % 2;
  const router = new Router(['patient', 'procedure'], KG, hostOfKg, 2);
  const decoder = new ClinicalFrameDecoder(new ContractRegistry(), 1000);
  const epoch = new Int32Array(new SharedArrayBuffer(4));
  const enc = new TextEncoder();
  const texts: string[] = [];
  let n = Infinity;
  for (let g = 0; g < 16; g++) {
    const now = Date.now();
    const frames = Array.from({ length: 8 }, () => frameText(mix, 100, now));
    const group: FrameGroup = { t: 'frames', group: g, now, tenant: frames.map(() => 'demo'), source: frames.map(() => 'ws'), bytes: frames.map((t) => enc.encode(t)) };
    for (const b of routeGroup(decoder, router, epoch, group).batches) {
      if (b === null) continue;
      texts.push(packedText(b.packed));
      n = Math.min(n, b.n);
    }
  }
  // Every batch claims the smallest size (the texts hold a few more events): µs per event stay conservative.
  return { texts, n };
}

interface RoundResult {
  mode: string;
  events: number;
  mainUsPerEvent: number;
  sourceUsPerEvent: number;
  hostUsPerEvent: number;
  analyticsUsPerEvent: number;
}

async function round(mode: Mode, texts: string[], n: number): Promise<RoundResult> {
  const host = new Worker(SINK, { eval: true });
  const analytics = new Worker(SINK, { eval: true });
  await new Promise((r) => setTimeout(r, 200));
  const source = new Worker(SOURCE, { eval: true, workerData: { texts, n, mode, batches: BATCHES, window: WINDOW, slab: SLAB } });
  let t0 = -1;
  let mainCpu = 0;
  let forwarded = 0;
  const sourceCpu = await new Promise<number>((resolve) => {
    source.on('message', (m: { done?: number; n: number; packed: string | Uint8Array; kind: Uint8Array; time: Float64Array; kg: Uint32Array; frame: Uint32Array }) => {
      if (m.done !== undefined) {
        mainCpu = threadSeconds() - t0;
        resolve(m.done);
        return;
      }
      if (t0 < 0) t0 = threadSeconds();
      // What frames.ts + the ledger post to the host, and the analytics tap to its worker.
      host.postMessage({ t: 'events', batch: { n: m.n, seq: new Float64Array(m.n), kg: m.kg, kind: m.kind, time: m.time, tenant: [], id: [], body: [], packed: m.packed }, lastSeq: 0 });
      analytics.postMessage({ n: m.n, kind: m.kind, time: m.time, packed: m.packed, skip: [], frame: m.frame, sources: ['ws'], ingestTime: 0 });
      forwarded++;
      source.postMessage(0);
    });
  });
  const report = (w: Worker): Promise<{ cpu: number; events: number }> =>
    new Promise((resolve) => {
      w.once('message', resolve);
      w.postMessage({ report: true });
    });
  const [h, a] = [await report(host), await report(analytics)];
  await Promise.all([source.terminate(), host.terminate(), analytics.terminate()]);
  const events = forwarded * n;
  const us = (s: number) => Number(((s * 1e6) / events).toFixed(3));
  return { mode, events, mainUsPerEvent: us(mainCpu), sourceUsPerEvent: us(sourceCpu), hostUsPerEvent: us(h.cpu), analyticsUsPerEvent: us(a.cpu) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

runMain(async () => {
  const { texts, n } = packedTexts();
  const rounds: RoundResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of MODES) {
      const res = await round(mode, texts, n);
      console.error(JSON.stringify(res));
      rounds.push(res);
    }
  }
  const summary = (mode: string) => {
    const rs = rounds.filter((r) => r.mode === mode);
    return {
      mainUsPerEvent: median(rs.map((r) => r.mainUsPerEvent)),
      sourceUsPerEvent: median(rs.map((r) => r.sourceUsPerEvent)),
      hostUsPerEvent: median(rs.map((r) => r.hostUsPerEvent)),
      analyticsUsPerEvent: median(rs.map((r) => r.analyticsUsPerEvent)),
    };
  };
  writeReport(reportPath('handoff.json'), {
    benchmark: 'handoff',
    description: 'CPU µs per event of each thread handing routed batches on (worker → main → host + analytics, each unpacked with JSON.parse), packed columns as a string vs as UTF-8 bytes on shared memory; per-thread CPU from /proc/thread-self (robust to other load, unlike throughput); medians of the rounds',
    node: process.version,
    cpus: availableParallelism(),
    eventsPerBatch: n,
    packedBytesPerEvent: Math.round(texts.reduce((s, t) => s + Buffer.byteLength(t), 0) / texts.length / n),
    batchesPerRound: BATCHES,
    string: summary('string'),
    shared: summary('shared'),
    rounds,
    at: new Date().toISOString(),
  });
});
