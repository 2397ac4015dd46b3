// The ingest paths of SPEC.md §2–§3 on uWS: the WebSocket stream `/v1/stream` (ordered acks,
// credits, held frames) and `POST /v1/events:batch`. Kept together and apart from the read API:
// this is the hot path, and its ack/credit logic is reworked on its own (issue 12). The route
// table (adapters/http/routes.ts) only decides who may call the batch endpoint; everything after
// that is here.
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { Rejection } from '../../actors/contracts/registry.js';
import type { Ack, IngestService } from '../../actors/ingest.js';
import { FrameError, parseFrame } from '../../actors/ingest.js';
import type { AuditRow } from '../http/audit.js';
import { tokenFrom, type TokenBook } from '../http/auth.js';
import { ApiError, errorBody, type ApiErrorCode } from '../http/errors.js';
import type { HttpAnswer, HttpHead } from '../http/message.js';
import { json, readBody } from './http-io.js';

export interface IngestDeps {
  maxFrameBytes: number;
  maxBatchEvents: number;
  credit: number;
  idleTimeoutSec: number;
  ingest: IngestService;
  tokens: TokenBook;
  onAckLatency?: (ms: number) => void;
  /** One audit row per HTTP batch (absent: not recorded). */
  audit?: (row: AuditRow) => void;
}

interface StreamUser {
  tenant: string;
  seq: number;
  /** Frames in order: each waits for its ack text, then acks leave strictly in order. */
  order: { ack: string | null }[];
  /** Frames received while the runtime had no room or beyond the credit; processed in order. */
  held: { text: string; seq: number; slot: { ack: string | null }; at: number }[];
  closed: boolean;
  waiting: boolean;
}

function frameErrorAck(seq: number, batchId: string | null, code: string, message: string, credit: number): Ack {
  // A frame that could not be read at all: one rejection with index null stands for the frame.
  return { type: 'ack', seq, batch_id: batchId, accepted: 0, duplicates: 0, rejected: [{ index: null as unknown as number, event_id: null, code, message }], credit };
}

/** The tenant of the request's token; null for none, an unknown one, or the admin token. */
export function authTenant(req: HttpRequest, tokens: TokenBook): string | null {
  const who = tokens.resolve(tokenFrom(req.getHeader('authorization'), req.getQuery() ?? ''));
  return typeof who === 'string' ? who : null;
}

// ---------------------------------------------------------------- WebSocket ingest
export function mountIngestStream(app: TemplatedApp, deps: IngestDeps): void {
  const credit = deps.credit;
  const ingest = deps.ingest;

  const finish = (ws: WebSocket<StreamUser>): void => {
    const u = ws.getUserData();
    if (u.closed) return;
    let n = 0;
    while (n < u.order.length && u.order[n]!.ack !== null) n++;
    if (n === 0) return;
    const done = u.order.splice(0, n);
    ws.cork(() => {
      for (const f of done) ws.send(f.ack!, false, false);
    });
    pump(ws);
  };

  const handle = (ws: WebSocket<StreamUser>, text: string, seq: number, slot: { ack: string | null }, at: number): boolean => {
    const u = ws.getUserData();
    let batchId: string | null = null;
    let v;
    try {
      const f = parseFrame(text, deps.maxBatchEvents);
      batchId = f.batchId;
      ingest.frameMetrics(f.items.length, text.length);
      v = ingest.prepare(f.items, u.tenant, 'ws');
    } catch (err) {
      const fe = err instanceof FrameError ? err : new FrameError('internal', String(err), 500);
      ingest.frameRejected(fe.code, u.tenant, 'ws', text, fe.message);
      slot.ack = JSON.stringify(frameErrorAck(seq, batchId ?? fe.batchId, fe.code, fe.message, credit));
      return true;
    }
    const bid = batchId;
    return ingest.trySubmit(v, (err, c) => {
      deps.onAckLatency?.(performance.now() - at);
      const ack: Ack = err
        ? frameErrorAck(seq, bid, 'unavailable', `events not taken: ${err.message}`, 0)
        : { type: 'ack', seq, batch_id: bid, accepted: c.accepted, duplicates: c.duplicates, rejected: c.rejected, credit };
      slot.ack = JSON.stringify(ack);
      if (!u.closed) finish(ws);
    });
  };

  /** Processes held frames in order while the runtime takes them and the credit allows. */
  const pump = (ws: WebSocket<StreamUser>): void => {
    const u = ws.getUserData();
    if (u.closed || u.waiting) return;
    while (u.held.length > 0) {
      const unacked = u.order.length - u.held.length;
      if (unacked >= credit) return;
      const h = u.held[0]!;
      if (!handle(ws, h.text, h.seq, h.slot, h.at)) {
        u.waiting = true;
        void ingest.whenWritable().then(() => {
          u.waiting = false;
          pump(ws);
        });
        return;
      }
      u.held.shift();
    }
    finish(ws);
  };

  app.ws<StreamUser>('/v1/stream', {
    // uWS drops a message over maxPayloadLength with no close frame (the client sees 1006), so
    // it is set above the limit and the limit is enforced in `message`, which closes with the
    // 1009 of SPEC §2. Messages over twice the limit are still dropped by uWS itself (1006).
    maxPayloadLength: deps.maxFrameBytes * 2,
    idleTimeout: deps.idleTimeoutSec,
    maxBackpressure: 4 * 1024 * 1024,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const tenant = authTenant(req, deps.tokens);
      if (tenant === null) return json(res, 401, errorBody('unauthorized', 'a valid tenant token is required (Authorization: Bearer or ?token=)'));
      res.upgrade<StreamUser>(
        { tenant, seq: 0, order: [], held: [], closed: false, waiting: false },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, ab) => {
      const u = ws.getUserData();
      if (ab.byteLength > deps.maxFrameBytes) {
        ws.end(1009, `frame is over ${deps.maxFrameBytes} bytes`);
        return;
      }
      // The ArrayBuffer is only valid during this callback.
      const text = Buffer.from(ab).toString('utf8');
      const seq = ++u.seq;
      const slot = { ack: null as string | null };
      u.order.push(slot);
      const at = performance.now();
      if (u.held.length > 0 || u.waiting || u.order.length > credit) {
        // Over its credit (or behind a saturated runtime): held, not processed. uWS 20.30 cannot
        // pause reading a WebSocket, so the hold is bounded instead: a client that ignores its
        // credit by a whole window more is closed (1008), never buffered without limit.
        if (u.held.length >= credit) {
          ws.end(1008, 'credit exceeded');
          return;
        }
        u.held.push({ text, seq, slot, at });
        pump(ws);
        return;
      }
      if (!handle(ws, text, seq, slot, at)) {
        u.held.push({ text, seq, slot, at });
        pump(ws);
        return;
      }
      if (slot.ack !== null) finish(ws);
    },
    drain: (ws) => pump(ws),
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  });
}

// ---------------------------------------------------------------- HTTP batch
export type BatchRoute = (
  head: HttpHead, tenant: string, res: HttpResponse, reply: (a: HttpAnswer) => void, fail: (e: unknown) => void, isAborted: () => boolean,
) => void;

/** POST /v1/events:batch once the route table admitted the caller as `tenant`. May throw ApiError. */
export function batchRoute(deps: IngestDeps): BatchRoute {
  const ingest = deps.ingest;
  return (head, tenant, res, reply, fail, isAborted) => {
    // Batch feeds (vigil import) mark themselves, so their rejections and audit rows say so.
    const source = head.headers['x-vigil-source'] === 'import' ? 'import' : 'http';
    const ctype = head.headers['content-type'] ?? '';
    if (head.method !== 'POST') throw new ApiError('method_not_allowed', 'POST only');
    if (!ctype.toLowerCase().startsWith('application/json')) throw new ApiError('unsupported_media_type', 'content-type must be application/json');
    readBody(res, deps.maxFrameBytes, isAborted, (err, text) => {
      if (err) return fail(err);
      let frame;
      try {
        frame = parseFrame(text!, deps.maxBatchEvents);
      } catch (e) {
        const fe = e as FrameError;
        ingest.frameRejected(fe.code ?? 'invalid_json', tenant, source, text, fe.message);
        return fail(new ApiError((fe.code ?? 'invalid_json') as ApiErrorCode, fe.message));
      }
      const at = performance.now();
      const startedMs = Date.now();
      ingest.frameMetrics(frame.items.length, text!.length);
      const v = ingest.prepare(frame.items, tenant, source);
      const submit = (): void => {
        const ok = ingest.trySubmit(v, (e2, c) => {
          deps.onAckLatency?.(performance.now() - at);
          const latency = performance.now() - at;
          deps.audit?.({
            batch_id: frame.batchId ?? `http-${startedMs}-${Math.random().toString(36).slice(2, 8)}`, tenant_id: tenant, source,
            input_rows: frame.items.length, output_rows: e2 ? 0 : c.accepted, dlq_rows: e2 ? 0 : c.rejected.length,
            duplicates: e2 ? 0 : c.duplicates, latency_ms: latency, status: e2 ? 'unavailable' : c.rejected.length > 0 ? 'partial' : 'ok', started_at_ms: startedMs,
          });
          if (e2) return fail(new ApiError('unavailable', `events not taken: ${e2.message}`));
          const ack: Omit<Ack, 'seq' | 'credit'> & { rejected: Rejection[] } = {
            type: 'ack', batch_id: frame.batchId, accepted: c.accepted, duplicates: c.duplicates, rejected: c.rejected,
          };
          reply({ status: 200, body: ack });
        });
        // Saturated: wait for room (the connection is held, as a slow server would hold it).
        if (!ok) void ingest.whenWritable().then(() => (isAborted() ? undefined : submit()));
      };
      submit();
    });
  };
}
