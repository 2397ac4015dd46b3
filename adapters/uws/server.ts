// SPEC.md §2–§3 on uWebSockets.js: the WebSocket ingest stream with ordered acks and credits,
// the HTTP batch endpoint, the live read API, the alert feed, metrics and probes.
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import type { Ack, IngestService } from '../../actors/ingest.js';
import { FrameError, parseFrame } from '../../actors/ingest.js';
import type { Rejection } from '../../actors/contracts/registry.js';
import type { AlertLevelName } from '../../runtime/ports.js';
import { AlertLevel } from '../../runtime/ports.js';
import type { AlertHub, AlertView } from '../http/alert-hub.js';
import { ADMIN, type TokenBook, tokenFrom } from '../http/auth.js';
import { ApiError as CodedApiError, errorAnswer, errorBody, type ApiErrorCode } from '../http/errors.js';
import type { HttpAnswer } from '../http/message.js';
import type { ReadApi } from '../http/reads.js';
import { loadUws } from './binding.js';
import { parseRange, type AnalyticsReads } from '../http/analytics-api.js';

export type { HttpAnswer, ReadApi };

/**
 * The old form, (status, code, message): the status is ignored, STATUS_OF in http/errors.ts
 * decides it. Kept while adapters/compose/analytics-reads.ts still builds its errors this way.
 */
export class ApiError extends CodedApiError {
  constructor(_status: number, code: ApiErrorCode, message: string) {
    super(code, message);
  }
}

export interface ServerDeps {
  host: string;
  port: number;
  maxFrameBytes: number;
  maxBatchEvents: number;
  credit: number;
  idleTimeoutSec: number;
  ingest: IngestService;
  tokens: TokenBook;
  alerts: AlertHub;
  reads: ReadApi;
  metricsText: () => Promise<{ contentType: string; text: string }>;
  ready: () => { ready: boolean; reasons: string[] };
  onAckLatency?: (ms: number) => void;
  /** The ops page (admin token): GET /ops is its HTML, GET /ops/data what it polls. */
  ops?: { page(): string; data(): Promise<unknown> };
  /** timeline / biometrics / search, from the analytics store (absent: 501). */
  analytics?: AnalyticsReads;
  /** One audit row per HTTP batch / import (absent: not recorded). */
  audit?: (row: AuditRow) => void;
}

export interface AuditRow {
  batch_id: string;
  tenant_id: string;
  source: string;
  input_rows: number;
  output_rows: number;
  dlq_rows: number;
  duplicates: number;
  latency_ms: number;
  status: string;
  started_at_ms: number;
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

interface AlertUser {
  tenant: string;
  minLevel: AlertLevelName;
  unsubscribe: (() => void) | null;
}

const LEVELS = Object.keys(AlertLevel) as AlertLevelName[];

function json(res: HttpResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.cork(() => {
    res.writeStatus(STATUS[status] ?? `${status}`);
    res.writeHeader('content-type', contentType);
    res.end(text);
  });
}

const STATUS: Record<number, string> = {
  200: '200 OK', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 409: '409 Conflict', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type',
  426: '426 Upgrade Required', 429: '429 Too Many Requests', 500: '500 Internal Server Error', 501: '501 Not Implemented',
  503: '503 Service Unavailable',
};

function frameErrorAck(seq: number, batchId: string | null, code: string, message: string, credit: number): Ack {
  // A frame that could not be read at all: one rejection with index null stands for the frame.
  return { type: 'ack', seq, batch_id: batchId, accepted: 0, duplicates: 0, rejected: [{ index: null as unknown as number, event_id: null, code, message }], credit };
}

export interface RunningServer {
  port: number;
  close(): void;
}

export function startServer(deps: ServerDeps): Promise<RunningServer> {
  const uws = loadUws();
  const app: TemplatedApp = uws.App();
  const credit = deps.credit;
  const ingest = deps.ingest;

  // ---------------------------------------------------------------- WebSocket ingest
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

  // ---------------------------------------------------------------- alert feed
  app.ws<AlertUser>('/v1/alerts/stream', {
    idleTimeout: deps.idleTimeoutSec,
    maxBackpressure: 1024 * 1024,
    closeOnBackpressureLimit: 1 as unknown as number,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const tenant = authTenant(req, deps.tokens);
      if (tenant === null) return json(res, 401, errorBody('unauthorized', 'a valid tenant token is required'));
      const min = new URLSearchParams(req.getQuery() ?? '').get('min_level') ?? 'low';
      if (!LEVELS.includes(min as AlertLevelName)) return json(res, 400, errorBody('invalid_parameter', `min_level must be one of ${LEVELS.join(', ')}`));
      res.upgrade<AlertUser>({ tenant, minLevel: min as AlertLevelName, unsubscribe: null },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      const u = ws.getUserData();
      u.unsubscribe = deps.alerts.subscribe(u.tenant, u.minLevel, (a: AlertView) => void ws.send(JSON.stringify(a), false, false));
    },
    close: (ws) => ws.getUserData().unsubscribe?.(),
  });

  // ---------------------------------------------------------------- HTTP
  app.any('/*', (res, req) => {
    const method = req.getMethod();
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    const auth = req.getHeader('authorization');
    const ctype = req.getHeader('content-type');
    // Batch feeds (vigil import) mark themselves, so their rejections and audit rows say so.
    const source = req.getHeader('x-vigil-source') === 'import' ? 'import' : 'http';
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const reply = (a: HttpAnswer): void => {
      if (!aborted) json(res, a.status, a.body, a.contentType);
    };
    const fail = (err: unknown): void => {
      reply(errorAnswer(err));
    };
    try {
      route(method, url, query, auth, ctype, source, res, reply, fail, () => aborted);
    } catch (err) {
      fail(err);
    }
  });

  const route = (
    method: string, url: string, query: string, auth: string, ctype: string, source: string, res: HttpResponse,
    reply: (a: HttpAnswer) => void, fail: (e: unknown) => void, isAborted: () => boolean,
  ): void => {
    const q = new URLSearchParams(query);
    if (url === '/healthz') return reply({ status: 200, body: { status: 'ok', pid: process.pid } });
    if (url === '/readyz') {
      const r = deps.ready();
      return reply({ status: r.ready ? 200 : 503, body: { ready: r.ready, reasons: r.reasons } });
    }
    if (url === '/metrics') {
      deps.metricsText().then((m) => reply({ status: 200, body: m.text, contentType: m.contentType }), fail);
      return;
    }
    if (url === '/v1/stream' || url === '/v1/alerts/stream') {
      throw new ApiError(426, 'upgrade_required', `${url} is a WebSocket endpoint`);
    }
    const who = deps.tokens.resolve(tokenFrom(auth, query));
    if (url === '/ops' || url === '/ops/data') {
      if (who === null) throw new ApiError(401, 'unauthorized', 'the admin token is required (Authorization: Bearer or ?token=)');
      if (who !== ADMIN) throw new ApiError(403, 'forbidden', 'the ops page needs the admin token');
      if (method !== 'get') throw new ApiError(405, 'method_not_allowed', 'GET only');
      const ops = deps.ops;
      if (!ops) throw new ApiError(404, 'not_found', 'the ops page is not enabled on this node');
      if (url === '/ops') return reply({ status: 200, body: ops.page(), contentType: 'text/html; charset=utf-8' });
      return void ops.data().then((b) => reply({ status: 200, body: b }), fail);
    }
    if (url.startsWith('/admin/')) {
      if (who === null) throw new ApiError(401, 'unauthorized', 'the admin token is required');
      if (who !== ADMIN) throw new ApiError(403, 'forbidden', 'this endpoint needs the admin token');
      if (url === '/admin/shards' && method === 'get') return void deps.reads.shards().then((b) => reply({ status: 200, body: b }), fail);
      if (url === '/admin/shards' && method === 'post') {
        readBody(res, 4096, isAborted, (err, text) => {
          if (err) return fail(err);
          let count: unknown;
          try {
            count = (JSON.parse(text!) as { count?: unknown }).count;
          } catch {
            return fail(new ApiError(400, 'invalid_json', 'body must be {"count": N}'));
          }
          if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
            return fail(new ApiError(400, 'invalid_field', 'count must be a positive integer'));
          }
          deps.reads.rescale(count).then((b) => reply({ status: 200, body: b }), fail);
        });
        return;
      }
      if (url === '/admin/cluster' && method === 'get') {
        const c = deps.reads.cluster;
        if (!c) throw new ApiError(404, 'not_found', 'this node runs alone (set VIGIL_NODE_ID to run several)');
        return void c().then((b) => reply({ status: 200, body: b }), fail);
      }
      const m = /^\/admin\/actors\/([^/]+)\/([^/]+)$/.exec(url);
      if (m && method === 'get') {
        const tenant = q.get('tenant');
        if (!tenant) throw new ApiError(400, 'invalid_parameter', 'tenant is required');
        return void deps.reads.actor(decodeURIComponent(m[1]!), tenant, decodeURIComponent(m[2]!)).then((b) => reply({ status: 200, body: b }), fail);
      }
      throw new ApiError(404, 'not_found', `no route ${method.toUpperCase()} ${url}`);
    }
    if (!url.startsWith('/v1/')) throw new ApiError(404, 'not_found', `no route ${method.toUpperCase()} ${url}`);
    if (who === null) throw new ApiError(401, 'unauthorized', 'a valid tenant token is required (Authorization: Bearer or ?token=)');
    if (who === ADMIN) throw new ApiError(403, 'forbidden', 'the admin token does not read or write tenant data');
    const tenant = who;

    if (url === '/v1/events:batch') {
      if (method !== 'post') throw new ApiError(405, 'method_not_allowed', 'POST only');
      if (!ctype.toLowerCase().startsWith('application/json')) throw new ApiError(415, 'unsupported_media_type', 'content-type must be application/json');
      readBody(res, deps.maxFrameBytes, isAborted, (err, text) => {
        if (err) return fail(err);
        let frame;
        try {
          frame = parseFrame(text!, deps.maxBatchEvents);
        } catch (e) {
          const fe = e as FrameError;
          ingest.frameRejected(fe.code ?? 'invalid_json', tenant, source, text, fe.message);
          return fail(new ApiError(fe.status ?? 400, (fe.code ?? 'invalid_json') as ApiErrorCode, fe.message));
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
            if (e2) return fail(new ApiError(503, 'unavailable', `events not taken: ${e2.message}`));
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
      return;
    }
    if (url === '/v1/imports') {
      if (method !== 'post') throw new ApiError(405, 'method_not_allowed', 'POST only');
      readBody(res, 64 * 1024, isAborted, (err, text) => {
        if (err) return fail(err);
        let b: Record<string, unknown>;
        try {
          b = JSON.parse(text!) as Record<string, unknown>;
        } catch {
          return fail(new ApiError(400, 'invalid_json', 'import summary is not valid JSON'));
        }
        const n = (k: string): number => (typeof b[k] === 'number' && Number.isFinite(b[k]) ? (b[k] as number) : 0);
        if (typeof b.import_id !== 'string' || b.import_id.length === 0 || b.import_id.length > 256) {
          return fail(new ApiError(400, 'invalid_field', 'import_id must be a string of 1-256 characters'));
        }
        const row: AuditRow = {
          batch_id: b.import_id, tenant_id: tenant, source: 'import', input_rows: n('input_rows'), output_rows: n('output_rows'),
          dlq_rows: n('dlq_rows'), duplicates: n('duplicates'), latency_ms: n('latency_ms'),
          status: typeof b.status === 'string' ? b.status.slice(0, 32) : 'ok', started_at_ms: Date.now() - n('latency_ms'),
        };
        deps.audit?.(row);
        reply({ status: 200, body: { recorded: deps.audit !== undefined, audit: row } });
      });
      return;
    }
    if (method !== 'get') throw new ApiError(405, 'method_not_allowed', `${method.toUpperCase()} is not allowed on ${url}`);
    const limit = intParam(q, 'limit', 50, 1, 1000);
    let m: RegExpExecArray | null;
    if ((m = /^\/v1\/patients\/([^/]+)\/risk-summary$/.exec(url))) {
      return void deps.reads.patientRiskSummary(tenant, decodeURIComponent(m[1]!)).then((b) => reply({ status: 200, body: b }), fail);
    }
    if ((m = /^\/v1\/procedures\/([^/]+)\/risk-summary$/.exec(url))) {
      return void deps.reads.procedureRiskSummary(tenant, decodeURIComponent(m[1]!)).then((b) => reply({ status: 200, body: b }), fail);
    }
    if ((m = /^\/v1\/patients\/([^/]+)\/trends$/.exec(url))) {
      return void deps.reads.patientTrends(tenant, decodeURIComponent(m[1]!)).then((b) => reply({ status: 200, body: b }), fail);
    }
    if (url === '/v1/patients') {
      return void deps.reads.patients(tenant, limit, q.get('cursor')).then((b) => reply({ status: 200, body: b }), fail);
    }
    if (url === '/v1/alerts/recent') {
      const min = q.get('min_level') ?? 'low';
      if (!LEVELS.includes(min as AlertLevelName)) throw new ApiError(400, 'invalid_parameter', `min_level must be one of ${LEVELS.join(', ')}`);
      return reply({ status: 200, body: { alerts: deps.alerts.recentFor(tenant, min as AlertLevelName, limit) } });
    }
    if (url === '/v1/alerts/top') return reply({ status: 200, body: { alerts: deps.alerts.topFor(tenant, limit) } });
    if (deps.analytics) {
      const a = deps.analytics;
      if ((m = /^\/v1\/patients\/([^/]+)\/timeline$/.exec(url))) {
        const r = parseRange(q.get('from'), q.get('to'));
        return void a.timeline(tenant, decodeURIComponent(m[1]!), r.from, r.to, limit).then((b) => reply({ status: 200, body: b }), fail);
      }
      if ((m = /^\/v1\/patients\/([^/]+)\/biometrics$/.exec(url))) {
        return void a.biometrics(tenant, decodeURIComponent(m[1]!), q.get('type'), limit).then((b) => reply({ status: 200, body: b }), fail);
      }
      if (url === '/v1/search') return void a.search(tenant, q.get('q') ?? '', limit).then((b) => reply({ status: 200, body: b }), fail);
    }
    if (/^\/v1\/patients\/[^/]+\/(timeline|biometrics)$/.test(url) || url === '/v1/search') {
      throw new ApiError(501, 'not_implemented', `${url.replace(/\/v1\/patients\/[^/]+/, '/v1/patients/{id}')} is served from the analytics store, which is not built yet (issue 6)`);
    }
    throw new ApiError(404, 'not_found', `no route GET ${url}`);
  };

  return new Promise((resolve, reject) => {
    // Exclusive: uWS otherwise binds with SO_REUSEPORT, and a second node started on a taken
    // port would silently share its traffic instead of failing to start.
    (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void)(deps.host, deps.port, (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, (sock: us_listen_socket | false) => {
      if (!sock) return reject(new Error(`cannot listen on ${deps.host}:${deps.port}`));
      resolve({ port: uws.us_socket_local_port(sock as never), close: () => uws.us_listen_socket_close(sock) });
    });
  });
}

function authTenant(req: HttpRequest, tokens: TokenBook): string | null {
  const who = tokens.resolve(tokenFrom(req.getHeader('authorization'), req.getQuery() ?? ''));
  return typeof who === 'string' ? who : null;
}

function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, 'invalid_parameter', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function readBody(res: HttpResponse, max: number, isAborted: () => boolean, cb: (err: ApiError | null, text?: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((ab, isLast) => {
    if (over) return;
    size += ab.byteLength;
    if (size > max) {
      over = true;
      cb(new ApiError(413, 'payload_too_large', `body is over ${max} bytes`));
      return;
    }
    // The chunk is only valid during this callback: copy it.
    chunks.push(Buffer.from(Buffer.from(ab)));
    if (isLast && !isAborted()) cb(null, Buffer.concat(chunks).toString('utf8'));
  });
}
