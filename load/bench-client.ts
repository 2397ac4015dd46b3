// One load process: N WebSocket connections, each keeping `window` frames in flight (closed
// loop), for `seconds`. Prints a JSON result line. Run as a child process by the benchmark so
// the client does not share the server's event loop.
import { frameText, type FrameMix } from './frames.js';
import { WsClient } from './ws-client.js';

export interface ClientOptions {
  host: string;
  port: number;
  token: string;
  frameEvents: number;
  connections: number;
  window: number;
  seconds: number;
  warmupSeconds: number;
  mix: FrameMix;
}

export interface ClientResult {
  frames: number;
  events: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  seconds: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  closes: number[];
}

export async function runClient(o: ClientOptions): Promise<ClientResult> {
  const lat: number[] = [];
  let frames = 0, events = 0, accepted = 0, rejected = 0, duplicates = 0;
  const closes: number[] = [];
  const start = performance.now();
  const measureFrom = start + o.warmupSeconds * 1000;
  const end = measureFrom + o.seconds * 1000;
  let measuring = false;
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      const ws = await WsClient.open({ host: o.host, port: o.port, path: '/v1/stream', headers: { authorization: `Bearer ${o.token}` } });
      const sentAt: number[] = [];
      let inFlight = 0;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const sendOne = () => {
        sentAt.push(performance.now());
        inFlight++;
        ws.send(frameText(o.mix, o.frameEvents, Date.now()));
      };
      ws.onMessage = (text) => {
        const now = performance.now();
        const t0 = sentAt.shift()!;
        inFlight--;
        if (now >= measureFrom && now < end) {
          measuring = true;
          lat.push(now - t0);
          frames++;
          events += o.frameEvents;
          const a = JSON.parse(text) as { accepted: number; duplicates: number; rejected: unknown[] };
          accepted += a.accepted;
          duplicates += a.duplicates;
          rejected += a.rejected.length;
        }
        if (now < end) sendOne();
        else if (inFlight === 0) {
          ws.close();
          done();
        }
      };
      ws.onClose = (code) => {
        closes.push(code);
        done();
      };
      for (let i = 0; i < o.window; i++) sendOne();
      await finished;
    }),
  );
  void measuring;
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * (lat.length - 1)))]!.toFixed(3)) : NaN);
  return {
    frames, events, accepted, rejected, duplicates, seconds: o.seconds,
    eventsPerSecond: Math.round(events / o.seconds),
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) },
    closes: closes.filter((c) => c !== 1000 && c !== 1005),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const o = JSON.parse(process.argv[2]!) as ClientOptions;
  runClient(o).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
