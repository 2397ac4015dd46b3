// The ingest paths of SPEC.md §2–§3 on uWS: the WebSocket stream `/v1/stream` (ordered acks,
// credits, held frames) and `POST /v1/events:batch`. The uWS thread does per-frame work only:
// it copies a frame's bytes and hands them to the frame pipeline (parsed, validated and routed
// in ingest workers), and it sends acks, each connection's acks of one loop turn in one cork.
// The route table (adapters/http/routes.ts) only decides who may call the batch endpoint.
import { isUtf8 } from 'node:buffer';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { Rejection } from '../../actors/contracts/registry.js';
import type { FrameOutcome, IngestService } from '../../actors/ingest.js';
import type { AuditRow } from '../http/audit.js';
import { tokenFrom, type TokenBook } from '../http/auth.js';
import { ApiError, errorBody, isApiErrorCode } from '../http/errors.js';
import type { HttpAnswer, HttpHead } from '../http/message.js';
import { json, readBytes } from './http-io.js';

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

interface Slot {
  ack: string | null;
  /** Non-zero: the frame fails the connection with this close code (reason: `ack`), once every earlier ack is out. */
  close: number;
}

/**
 * RFC 6455 §7.4.1: data inconsistent with the message type, e.g. a message that is not UTF-8.
 * uWS 20.30 itself fails a connection whose *text* message is not UTF-8, before any callback,
 * by closing the TCP connection with no close frame (the client reports 1006); this adapter
 * cannot change that (the check is in the native binding, with no option). A *binary* message
 * reaches us as is: its copy is checked here (Buffer.isUtf8: one SIMD scan, ~0.1 µs for a small
 * frame, ~20 GB/s on large ones) and a frame that is not UTF-8 closes the connection with 1007
 * once the frames before it are acked. A frame the ingest worker refuses `invalid_utf8` (the
 * same rule, applied where the bytes are decoded) closes the same way.
 */
const CLOSE_INVALID_PAYLOAD = 1007;
/** The frame-level refusal that fails the connection instead of being acked. */
const INVALID_UTF8 = 'invalid_utf8';

interface Held {
  bytes: Uint8Array;
  seq: number;
  slot: Slot;
  at: number;
}

interface StreamUser {
  tenant: string;
  /** Ingest lane: every frame of this connection goes through the same worker, in order. */
  lane: number;
  seq: number;
  /** Frames in order: each waits for its ack text, then acks leave strictly in order. */
  order: Slot[];
  orderHead: number;
  /** Frames received while the runtime had no room or beyond the credit; processed in order. */
  held: Held[];
  closed: boolean;
  /** A frame that fails the connection is queued: later frames are dropped unread. */
  failing: boolean;
  waiting: boolean;
  /** Queued for this turn's ack flush. */
  flushQueued: boolean;
}

/** The ack text of SPEC §2, written directly (one per frame, on the uWS thread). */
function ackText(seq: number, o: FrameOutcome, credit: number): string {
  const a = o.ack;
  const rejected = a.rejected.length === 0 ? '[]' : JSON.stringify(a.rejected);
  return `{"type":"ack","seq":${seq},"batch_id":${a.batch_id === null ? 'null' : JSON.stringify(a.batch_id)},"accepted":${a.accepted},"duplicates":${a.duplicates},"rejected":${rejected},"credit":${o.unavailable ? 0 : credit}}`;
}

/** The tenant of the request's token; null for none, an unknown one, or the admin token. */
export function authTenant(req: HttpRequest, tokens: TokenBook): string | null {
  const who = tokens.resolve(tokenFrom(req.getHeader('authorization'), req.getQuery() ?? ''));
  return typeof who === 'string' ? who : null;
}

/** Lanes for HTTP batches: spread over the workers (requests have no order between them). */
let nextLane = 0;

// ---------------------------------------------------------------- WebSocket ingest
export function mountIngestStream(app: TemplatedApp, deps: IngestDeps): void {
  const credit = deps.credit;
  const ingest = deps.ingest;
  /** Connections with acks ready this turn; sent together once the turn's callbacks are done. */
  let ready: WebSocket<StreamUser>[] = [];
  let flushScheduled = false;

  const flushAcks = (): void => {
    flushScheduled = false;
    const conns = ready;
    ready = [];
    for (const ws of conns) {
      const u = ws.getUserData();
      u.flushQueued = false;
      if (u.closed) continue;
      let n = u.orderHead;
      let close = 0;
      while (n < u.order.length && u.order[n]!.ack !== null) {
        close = u.order[n]!.close;
        if (close !== 0) break;
        n++;
      }
      if (n === u.orderHead && close === 0) continue;
      const from = u.orderHead;
      ws.cork(() => {
        for (let i = from; i < n; i++) ws.send(u.order[i]!.ack!, false, false);
      });
      if (close !== 0) {
        // Every earlier frame has its ack; this one and any after it get none.
        u.closed = true;
        ws.end(close, u.order[n]!.ack!);
        continue;
      }
      u.orderHead = n;
      if (n > 64 && n * 2 > u.order.length) {
        u.order = u.order.slice(n);
        u.orderHead = 0;
      }
      pump(ws);
    }
  };

  const queueFlush = (ws: WebSocket<StreamUser>): void => {
    const u = ws.getUserData();
    if (u.flushQueued || u.closed) return;
    u.flushQueued = true;
    ready.push(ws);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAcks);
    }
  };

  const handle = (ws: WebSocket<StreamUser>, h: Held): void => {
    const u = ws.getUserData();
    ingest.submitFrame(u.lane, u.tenant, 'ws', h.bytes, (o) => {
      deps.onAckLatency?.(performance.now() - h.at);
      if (o.status !== 0 && o.ack.rejected.length === 1 && o.ack.rejected[0]!.code === INVALID_UTF8) {
        u.failing = true;
        h.slot.close = CLOSE_INVALID_PAYLOAD;
        h.slot.ack = `frame ${h.seq} is not valid UTF-8`; // the close reason
      } else h.slot.ack = ackText(h.seq, o, credit);
      queueFlush(ws);
    });
  };

  /** The frame just received fails the connection: closed with `code` once every earlier frame is acked. */
  const fail = (ws: WebSocket<StreamUser>, code: number, reason: string): void => {
    const u = ws.getUserData();
    u.failing = true;
    u.order.push({ ack: reason, close: code });
    queueFlush(ws);
  };

  const unacked = (u: StreamUser): number => u.order.length - u.orderHead - u.held.length;

  /** Processes held frames in order while the runtime takes them and the credit allows. */
  const pump = (ws: WebSocket<StreamUser>): void => {
    const u = ws.getUserData();
    if (u.closed || u.waiting) return;
    while (u.held.length > 0) {
      if (unacked(u) >= credit) return;
      if (!ingest.writable()) {
        u.waiting = true;
        void ingest.whenWritable().then(() => {
          u.waiting = false;
          pump(ws);
        });
        return;
      }
      handle(ws, u.held.shift()!);
    }
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
        { tenant, lane: nextLane++, seq: 0, order: [], orderHead: 0, held: [], closed: false, failing: false, waiting: false, flushQueued: false },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, ab, isBinary) => {
      const u = ws.getUserData();
      if (u.failing) return;
      if (ab.byteLength > deps.maxFrameBytes) {
        // Closed in order like 1007: the frames before it keep their acks.
        fail(ws, 1009, `frame is over ${deps.maxFrameBytes} bytes`);
        return;
      }
      // The ArrayBuffer is only valid during this callback: a copy of our own, transferred on.
      const h: Held = { bytes: new Uint8Array(ab.slice(0)), seq: ++u.seq, slot: { ack: null, close: 0 }, at: performance.now() };
      if (isBinary && !isUtf8(h.bytes)) {
        fail(ws, CLOSE_INVALID_PAYLOAD, `frame ${h.seq} is not valid UTF-8`);
        return;
      }
      u.order.push(h.slot);
      if (u.held.length > 0 || u.waiting || unacked(u) > credit || !ingest.writable()) {
        // Over its credit (or behind a saturated runtime): held, not processed. uWS 20.30 cannot
        // pause reading a WebSocket, so the hold is bounded instead: a client that ignores its
        // credit by a whole window more is closed (1008), never buffered without limit.
        if (u.held.length >= credit) {
          ws.end(1008, 'credit exceeded');
          return;
        }
        u.held.push(h);
        pump(ws);
        return;
      }
      handle(ws, h);
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
    readBytes(res, deps.maxFrameBytes, isAborted, (err, bytes) => {
      if (err) return fail(err);
      const at = performance.now();
      const startedMs = Date.now();
      const lane = nextLane++;
      const submit = (): void => {
        // Saturated: wait for room (the connection is held, as a slow server would hold it).
        if (!ingest.writable()) {
          void ingest.whenWritable().then(() => (isAborted() ? undefined : submit()));
          return;
        }
        ingest.submitFrame(lane, tenant, source, bytes!, (o) => {
          if (o.status !== 0 && !o.unavailable) {
            // The frame could not be read at all: its one rejection names why. A code the one
            // table lacks keeps the status the verdict gave it rather than answering without one.
            const r = o.ack.rejected[0]!;
            return isApiErrorCode(r.code) ? fail(new ApiError(r.code, r.message)) : reply({ status: o.status, body: errorBody(r.code, r.message) });
          }
          const latency = performance.now() - at;
          deps.onAckLatency?.(latency);
          const a = o.ack;
          deps.audit?.({
            batch_id: a.batch_id ?? `http-${startedMs}-${Math.random().toString(36).slice(2, 8)}`, tenant_id: tenant, source,
            input_rows: o.items, output_rows: o.unavailable ? 0 : a.accepted, dlq_rows: o.unavailable ? 0 : a.rejected.length,
            duplicates: o.unavailable ? 0 : a.duplicates, latency_ms: latency,
            status: o.unavailable ? 'unavailable' : a.rejected.length > 0 ? 'partial' : 'ok', started_at_ms: startedMs,
          });
          if (o.unavailable) return fail(new ApiError('unavailable', a.rejected[0]!.message));
          const ack: { type: 'ack'; batch_id: string | null; accepted: number; duplicates: number; rejected: Rejection[] } = {
            type: 'ack', batch_id: a.batch_id, accepted: a.accepted, duplicates: a.duplicates, rejected: a.rejected,
          };
          reply({ status: 200, body: ack });
        });
      };
      submit();
    });
  };
}
