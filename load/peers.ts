// The two servers `vigil bench` measures a node against, in the same run and with the same client:
// - the null pipeline: the same uWS server, JSON.parse and an ack per frame, nothing else (the ceiling);
// - the naive peer: what a user would write themselves, a `ws` server with a Map of plain actor
//   objects keeping a count and the latest value per actor, one ack per frame.
import { WebSocketServer, type WebSocket } from 'ws';
import { loadUws } from '../adapters/uws/binding.js';

export interface Peer {
  port: number;
  close(): Promise<void>;
}

function ackText(seq: number, n: number): string {
  return `{"type":"ack","seq":${seq},"batch_id":null,"accepted":${n},"duplicates":0,"rejected":[],"credit":64}`;
}

export function startNullPipeline(): Promise<Peer> {
  const uws = loadUws();
  const app = uws.App();
  app.ws<{ seq: number }>('/v1/stream', {
    maxPayloadLength: 1024 * 1024,
    idleTimeout: 120,
    upgrade: (res, req, ctx) => res.upgrade({ seq: 0 }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx),
    message: (ws, ab) => {
      const body = JSON.parse(Buffer.from(ab).toString('utf8')) as unknown;
      const n = Array.isArray(body) ? body.length : 1;
      const u = ws.getUserData();
      ws.send(ackText(++u.seq, n));
    },
  });
  return new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (sock) => {
      if (!sock) return reject(new Error('null pipeline: cannot listen'));
      resolve({
        port: uws.us_socket_local_port(sock as never),
        close: async () => uws.us_listen_socket_close(sock),
      });
    }),
  );
}

interface NaiveActor {
  count: number;
  latest: unknown;
  lastTime: unknown;
}

interface Envelope {
  tenant_id?: unknown;
  event_type?: unknown;
  event_time?: unknown;
  payload?: { patient_id?: unknown; procedure_id?: unknown };
}

export function startNaivePeer(): Promise<Peer> {
  const actors = new Map<string, NaiveActor>();
  const apply = (e: Envelope): void => {
    const p = e.payload ?? {};
    const key = `${String(e.tenant_id)}|${e.event_type === 'surgical.telemetry' ? `procedure|${String(p.procedure_id)}` : `patient|${String(p.patient_id)}`}`;
    let a = actors.get(key);
    if (!a) actors.set(key, (a = { count: 0, latest: null, lastTime: null }));
    a.count++;
    a.latest = p;
    a.lastTime = e.event_time;
  };
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/stream', maxPayload: 1024 * 1024 });
  wss.on('connection', (ws: WebSocket) => {
    let seq = 0;
    ws.on('message', (data) => {
      const body = JSON.parse(data.toString()) as Envelope | Envelope[];
      let n = 1;
      if (Array.isArray(body)) {
        n = body.length;
        for (const e of body) apply(e);
      } else apply(body);
      ws.send(ackText(++seq, n));
    });
  });
  return new Promise((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      const addr = wss.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : 0,
        close: () => new Promise<void>((r) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => r());
        }),
      });
    });
  });
}
