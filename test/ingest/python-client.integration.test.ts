// End to end with a WebSocket client that shares no code with the server or with load/ws-client:
// Python's `websockets` (Debian: python3-websockets) sends vitals and telemetry to /v1/stream,
// and the test checks its acks and then the live state over HTTP.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDIT, DEMO_TOKEN, http, startDemoNode, telemetry, vitals, type TestNode, type WsAck } from './node-fixture.js';

const SCRIPT = fileURLToPath(new URL('./stream_client.py', import.meta.url));

/**
 * The first Python that imports `websockets`. /usr/bin/python3 first: a pyenv `python3` on PATH
 * does not see Debian's dist-packages, where python3-websockets installs.
 */
function findPython(): string {
  const tried: string[] = [];
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import websockets; print(websockets.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return py;
    tried.push(`${py}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
  }
  throw new Error(`no Python with the websockets package (apt-get install python3-websockets): ${tried.join('; ')}`);
}

interface PyResult {
  websockets: string;
  acks?: WsAck[];
  refused?: number;
  closed?: number;
}

/** Runs the Python client asynchronously: the node under test serves from this same event loop. */
function runClient(python: string, port: number, token: string, frames: unknown[], path = '/v1/stream'): Promise<PyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [SCRIPT, `ws://127.0.0.1:${port}${path}`, token], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`stream_client.py exited ${code ?? signal}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout) as PyResult);
      } catch (err) {
        reject(new Error(`stream_client.py printed no JSON (${(err as Error).message}): ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(frames));
  });
}

let t: TestNode;
let python: string;
beforeAll(async () => {
  python = findPython();
  t = await startDemoNode();
});
afterAll(async () => {
  await t?.close();
});

describe('a Python websockets producer', () => {
  it('sends vitals, telemetry and a bad event; the ack and the live state agree', async () => {
    const now = Date.now();
    const frame = {
      batch_id: 'py-1',
      events: [
        vitals('py-v1', 'py-pat', { heart_rate: 95, resp_rate: 22, spo2: 94, systolic_bp: 105, temperature_c: 38.4, consciousness: 'A', on_oxygen: false }, { event_time: now - 3000 }),
        telemetry('py-t1', 'py-pat', 'py-proc', { force_newtons: 12, velocity_mm_s: 8, latency_ms: 30 }, { event_time: now - 2500 }),
        vitals('py-bad', 'py-pat', { heart_rate: 'ninety' }, { event_time: now - 2000 }),
        telemetry('py-t2', 'py-pat', 'py-proc', { force_newtons: 18, velocity_mm_s: 9, latency_ms: 45, error_code: 'ARM_STALL' }, { event_time: now - 1500 }),
        vitals('py-v2', 'py-pat', { heart_rate: 112 }, { event_time: now - 1000 }),
      ],
    };
    const out = await runClient(python, t.node.port, DEMO_TOKEN, [frame]);
    expect(out.refused).toBeUndefined();
    expect(out.closed).toBeUndefined();
    expect(out.acks).toHaveLength(1);
    const ack = out.acks![0]!;
    expect(ack).toMatchObject({ type: 'ack', seq: 1, batch_id: 'py-1', accepted: 4, duplicates: 0, credit: CREDIT });
    expect(ack.rejected).toEqual([{ index: 2, event_id: 'py-bad', code: 'invalid_type', message: expect.stringContaining('heart_rate') as string }]);

    const p = await http(t.node, '/v1/patients/py-pat/risk-summary');
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({
      patient_id: 'py-pat',
      events: 2,
      latest_vitals: { heart_rate: 112, resp_rate: 22, spo2: 94, systolic_bp: 105, temperature_c: 38.4, consciousness: 'A', on_oxygen: false },
      updated_at: new Date(now - 1000).toISOString(),
    });
    // NEWS2: resp 22 -> 2, SpO2 94 -> 1, air 0, systolic 105 -> 1, pulse 112 -> 2, alert 0, 38.4 -> 1.
    expect(p.body.news2).toMatchObject({ score: 7, complete: true, level: 'critical' });

    const proc = await http(t.node, '/v1/procedures/py-proc/risk-summary');
    expect(proc.body).toMatchObject({ procedure_id: 'py-proc', patient_id: 'py-pat', events: 2, max_force_newtons: 18, errors: 1, error_codes: { ARM_STALL: 1 } });
  });

  it('pipelines frames and reads their acks in order; a repeat is counted as duplicates', async () => {
    const frames = [1, 2, 3].map((f) => ({ batch_id: `pp-${f}`, events: Array.from({ length: f }, (_, i) => vitals(`pp-${f}-${i}`, `pp-pat-${i}`, { spo2: 95 + i })) }));
    const out = await runClient(python, t.node.port, DEMO_TOKEN, [...frames, frames[2]]);
    expect(out.acks!.map((a) => [a.seq, a.batch_id, a.accepted, a.duplicates])).toEqual([
      [1, 'pp-1', 1, 0],
      [2, 'pp-2', 2, 0],
      [3, 'pp-3', 3, 0],
      [4, 'pp-3', 0, 3],
    ]);
  });

  it('is refused with 401 for a bad token', async () => {
    const out = await runClient(python, t.node.port, 'wrong-token-xxxxxxxx', [{}]);
    expect(out.refused).toBe(401);
    expect(out.acks).toBeUndefined();
  });
});
