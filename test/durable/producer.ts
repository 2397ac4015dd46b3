// A producer that behaves as a careful device gateway: it numbers its events, keeps every frame
// until the node acks it, resends frames the node could not take (frame-level `unavailable`, or
// a dropped connection), and keeps the oracle: exactly which events exist.
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WsClient } from '../../load/ws-client.js';

export const TOKEN = 'durable-demo-token-1';
export const ADMIN = 'durable-admin-token-1';

export interface Frame {
  no: number;
  text: string;
  /** Events per procedure in this frame. */
  perProcedure: Map<string, number>;
}

export function makeFrames(count: number, perFrame: number, procedures: number, prefix: string): Frame[] {
  const frames: Frame[] = [];
  let n = 0;
  for (let f = 0; f < count; f++) {
    const events: string[] = [];
    const per = new Map<string, number>();
    for (let i = 0; i < perFrame; i++, n++) {
      const proc = `proc-${n % procedures}`;
      per.set(proc, (per.get(proc) ?? 0) + 1);
      events.push(JSON.stringify({
        event_id: `${prefix}-${n}`, tenant_id: 'demo', event_type: 'surgical.telemetry', schema_version: 1,
        event_time: Date.now(),
        payload: { patient_id: `pat-${n % procedures}`, procedure_id: proc, robot_arm: 'arm_1', step: 'dissection', force_newtons: 5 + (n % 20), velocity_mm_s: 10, latency_ms: 30 },
      }));
    }
    frames.push({ no: f, text: `[${events.join(',')}]`, perProcedure: per });
  }
  return frames;
}

/** The oracle: events per procedure over all frames (each frame is eventually acked exactly once). */
export function expectedCounts(frames: readonly Frame[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of frames) for (const [p, c] of f.perProcedure) m.set(p, (m.get(p) ?? 0) + c);
  return m;
}

export interface SendResult {
  acked: Set<number>;
  accepted: number;
  duplicates: number;
  /** Frame acks that said "not taken" (resent later), and connections lost. */
  notTaken: number;
  reconnects: number;
}

/**
 * Sends `frames` (window in flight) until each is acked, reconnecting after a drop. `onAck` sees
 * each ack (to trigger faults mid-stream). Stops after `deadlineMs`.
 */
export async function sendAll(
  port: number | readonly number[],
  frames: readonly Frame[],
  opts: { window?: number; deadlineMs?: number; onAck?: (ackedCount: number) => void | Promise<void> } = {},
): Promise<SendResult> {
  const window = opts.window ?? 4;
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  const acked = new Set<number>();
  let accepted = 0;
  let duplicates = 0;
  let notTaken = 0;
  let reconnects = -1;
  // Several nodes: a producer that loses its node reconnects to the next one.
  const ports = typeof port === 'number' ? [port] : port;
  while (acked.size < frames.length) {
    reconnects++;
    if (Date.now() > deadline) throw new Error(`producer: ${frames.length - acked.size} frames never acked`);
    let ws: WsClient;
    try {
      ws = await WsClient.open({ host: '127.0.0.1', port: ports[reconnects % ports.length]!, path: '/v1/stream', headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: 1000 });
    } catch {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const todo = frames.filter((f) => !acked.has(f.no));
    await new Promise<void>((resolve) => {
      const inFlight: Frame[] = [];
      let next = 0;
      const pump = () => {
        while (inFlight.length < window && next < todo.length) {
          const f = todo[next++]!;
          inFlight.push(f);
          ws.send(f.text);
        }
        if (inFlight.length === 0) {
          ws.close();
          resolve();
        }
      };
      ws.onMessage = (text) => {
        const ack = JSON.parse(text) as { accepted: number; duplicates: number; rejected: { index: number | null; code: string }[] };
        const f = inFlight.shift()!;
        if (ack.rejected.some((r) => r.index === null)) {
          // Not taken (e.g. the log is unavailable): keep it for the next round.
          notTaken++;
        } else {
          if (ack.rejected.length > 0) throw new Error(`producer: unexpected rejections ${JSON.stringify(ack.rejected)}`);
          acked.add(f.no);
          accepted += ack.accepted;
          duplicates += ack.duplicates;
          void opts.onAck?.(acked.size);
        }
        pump();
      };
      ws.onClose = () => resolve();
      pump();
    });
    if (acked.size < frames.length) await new Promise((r) => setTimeout(r, 100));
  }
  return { acked, accepted, duplicates, notTaken, reconnects };
}

const vigil = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));

export interface NodeProcess {
  proc: ChildProcess;
  log: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `vigil start` as its own process (so it can be killed with -9) and waits for /readyz. */
export async function spawnNode(env: Record<string, string>, port: number): Promise<NodeProcess> {
  const proc = spawn(process.execPath, [vigil, 'start'], {
    // Each cluster gets its own data folder (the embedded analytics store lives there), kept
    // across restarts of the same cluster's node.
    env: {
      ...process.env, VIGIL_PORT: String(port), VIGIL_DEMO_TOKEN: TOKEN, VIGIL_ADMIN_TOKEN: ADMIN,
      VIGIL_DATA_DIR: join(tmpdir(), `vigil-test-${env.VIGIL_CLUSTER ?? 'default'}`), ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const end = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`vigil start exited ${proc.exitCode}:\n${out}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      // The node answering must be this process (not another one on the port).
      const h = r.ok ? ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { pid: number }) : null;
      if (h && h.pid !== proc.pid) throw new Error(`port ${port} is answered by pid ${h.pid}, not the node just started (${proc.pid})`);
      if (r.ok) break;
    } catch (err) {
      if ((err as Error).message.startsWith('port ')) throw err;
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`vigil start not ready in 30 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    log: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      // A node that does not finish its graceful stop in time is killed (and the test that
      // waits on it does not hang).
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function procedureEvents(port: number, id: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/procedures/${id}/risk-summary`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (r.status === 404) return 0;
  if (!r.ok) throw new Error(`risk-summary ${id}: HTTP ${r.status} ${await r.text()}`);
  return ((await r.json()) as { events: number }).events;
}
