// The HTTP API of SPEC.md §3 as one route table, transport-neutral: a transport (adapters/uws/
// today) reads a request, calls `open`/`handle`, and writes the answer. Handlers throw ApiError
// by code; errors.ts alone decides each code's status.
import { AlertLevel, type AlertLevelName } from '../../runtime/ports.js';
import { alertActionRoutes, type AlertActions } from './alert-actions.js';
import type { AlertHub } from './alert-hub.js';
import { parseRange, type AnalyticsReads } from './analytics-api.js';
import { importAuditRow, type AuditRow } from './audit.js';
import { parseDlqQuery, parseReplayBody, type DlqApi } from './dlq.js';
import {
  ADMIN, clearedSessionCookie, cookieFrom, OPS_COOKIE, SessionBook, sessionCookie, tokenFrom, type TokenBook,
} from './auth.js';
import { ApiError } from './errors.js';
import { ok, type HttpHead } from './message.js';
import type { ReadApi } from './reads.js';
import { createRouter, pathParam, type Area, type Route, type RouteRequest, type Router } from './router.js';

export interface HttpDeps {
  tokens: TokenBook;
  alerts: AlertHub;
  reads: ReadApi;
  metricsText: () => Promise<{ contentType: string; text: string }>;
  ready: () => { ready: boolean; reasons: string[] };
  /**
   * The ops page: GET /ops is its HTML (no data in it, served to anyone so it can show its
   * sign-in form), GET /ops/data what it polls (admin: session cookie, or the admin token for
   * scripts), /ops/session signs in (POST, the admin token), out (DELETE) or says who (GET).
   */
  ops?: { page(): string; data(): Promise<unknown> };
  /** The ops page's sign-in sessions (default: 8 h each, at most 64, in memory). */
  opsSessions?: SessionBook;
  /** timeline / biometrics / search, from the analytics store (absent: 501). */
  analytics?: AnalyticsReads;
  /** POST /v1/alerts/{id}/acknowledge and /shelve, as events for the alert's actor (absent: 501). */
  alertActions?: AlertActions;
  /** Dead letters: GET /v1/dlq and POST /v1/dlq:replay, from the analytics store (absent: 501). */
  dlq?: DlqApi;
  /** One audit row per HTTP batch / import (absent: not recorded). */
  audit?: (row: AuditRow) => void;
  /** Where errors no route expected are logged, each with the request id its caller was given (default: stderr). */
  log?: (line: string) => void;
}

export interface HttpApi extends Router {
  /** GET /v1/alerts/stream before its upgrade: the caller's tenant and level, or throws ApiError. */
  alertFeed(head: HttpHead): { tenant: string; minLevel: AlertLevelName };
}

/** The one route the transport serves itself (see Route.handle). */
export const BATCH_PATH = '/v1/events:batch';

const LEVELS = Object.keys(AlertLevel) as AlertLevelName[];
const ADMIN_BODY_BYTES = 4096;
const IMPORT_SUMMARY_BYTES = 64 * 1024;
const DLQ_REPLAY_BODY_BYTES = 4096;

function minLevel(q: URLSearchParams): AlertLevelName {
  const min = q.get('min_level') ?? 'low';
  if (!LEVELS.includes(min as AlertLevelName)) throw new ApiError('invalid_parameter', `min_level must be one of ${LEVELS.join(', ')}`);
  return min as AlertLevelName;
}

/** `limit` of every GET under /v1/: read (and refused when bad) before the route is even known. */
function limitOf(q: URLSearchParams): number {
  const raw = q.get('limit');
  if (raw === null || raw === '') return 50;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ApiError('invalid_parameter', 'limit must be an integer from 1 to 1000');
  return n;
}

const noRoute = (req: RouteRequest): never => {
  throw new ApiError('not_found', `no route ${req.method} ${req.path}`);
};

/** The first path group, decoded (400 invalid_parameter when it cannot be). */
const id = (req: RouteRequest): string => pathParam(req, 0, 'the id');

/** GET under /v1/: the handler gets the parsed `limit`. */
const tenantGet = (path: string | RegExp, h: (req: RouteRequest, limit: number) => Promise<unknown> | unknown): Route => ({
  method: 'GET',
  path,
  handle: async (req) => {
    const limit = limitOf(req.q);
    return ok(await h(req, limit));
  },
});

function openArea(deps: HttpDeps): Area {
  const upgradeOnly = (req: RouteRequest): never => {
    throw new ApiError('upgrade_required', `${req.path} is a WebSocket endpoint`);
  };
  const routes: Route[] = [
    { method: 'ANY', path: '/healthz', handle: () => ok({ status: 'ok', pid: process.pid }) },
    {
      method: 'ANY', path: '/readyz', handle: () => {
        const r = deps.ready();
        return { status: r.ready ? 200 : 503, body: { ready: r.ready, reasons: r.reasons } };
      },
    },
    {
      method: 'ANY', path: '/metrics', handle: async () => {
        const m = await deps.metricsText();
        return ok(m.text, m.contentType);
      },
    },
    { method: 'ANY', path: '/v1/stream', handle: upgradeOnly },
    { method: 'ANY', path: '/v1/alerts/stream', handle: upgradeOnly },
  ];
  const paths = new Set(routes.map((r) => r.path));
  return { claims: (p) => paths.has(p), guard: { who: 'anyone' }, routes, miss: noRoute };
}

function opsArea(deps: HttpDeps): Area {
  const ops = (): NonNullable<HttpDeps['ops']> => {
    if (!deps.ops) throw new ApiError('not_found', 'the ops page is not enabled on this node');
    return deps.ops;
  };
  const sessions = deps.opsSessions ?? new SessionBook();
  const NO_STORE = { 'cache-control': 'no-store' };
  // Behind a TLS proxy the cookie is Secure; on plain HTTP a Secure cookie would be dropped.
  const secure = (req: RouteRequest): boolean => (req.headers['x-forwarded-proto'] ?? '').toLowerCase() === 'https';
  /** A new session: the answer's headers (its cookie) and when it expires. */
  const signIn = (req: RouteRequest, extra: Record<string, string> = {}): { headers: Record<string, string>; expiresAt: number } => {
    const s = sessions.create();
    return { headers: { ...NO_STORE, ...extra, 'set-cookie': sessionCookie(s.id, sessions.options.ttlMs, secure(req)) }, expiresAt: s.expiresAt };
  };
  const session = (req: RouteRequest): string | null => cookieFrom(req.headers.cookie, OPS_COOKIE);
  /** The page's session cookie, or (scripts) the admin token by Authorization: Bearer or ?token=. */
  const admitAdmin = (req: RouteRequest): void => {
    if (sessions.expiresAt(session(req)) !== null) return;
    const who = deps.tokens.resolve(tokenFrom(req.headers.authorization ?? '', req.query));
    if (who === null) throw new ApiError('unauthorized', 'sign in at /ops, or send the admin token (Authorization: Bearer, or ?token= from scripts)');
    if (who !== ADMIN) throw new ApiError('forbidden', 'the ops page needs the admin token');
  };
  return {
    claims: (p) => p === '/ops' || p.startsWith('/ops/'),
    // Each route checks its caller itself: the page shell is open, the rest needs a session or the admin token.
    guard: { who: 'anyone' },
    routes: [
      {
        method: 'GET', path: '/ops', handle: (req) => {
          const page = ops().page();
          // An old bookmark or link with ?token=: sign in with it (when it is the admin token) and
          // send the browser to /ops, so the token leaves the address bar and the history.
          if (req.q.has('token')) {
            const admin = deps.tokens.resolve(req.q.get('token')) === ADMIN;
            return { status: 303, body: '', contentType: 'text/plain', headers: admin ? signIn(req, { location: '/ops' }).headers : { ...NO_STORE, location: '/ops' } };
          }
          return { status: 200, body: page, contentType: 'text/html; charset=utf-8', headers: NO_STORE };
        },
      },
      {
        method: 'GET', path: '/ops/data', handle: async (req) => {
          admitAdmin(req);
          return { status: 200, body: await ops().data(), headers: NO_STORE };
        },
      },
      {
        // Sign in: the admin token, once, for a cookie (the page's form posts it as JSON).
        method: 'POST', path: '/ops/session', body: OPS_SESSION_BODY_BYTES, handle: (req) => {
          ops();
          const who = deps.tokens.resolve(signInToken(req));
          if (who === null) throw new ApiError('unauthorized', 'that is not the admin token');
          if (who !== ADMIN) throw new ApiError('forbidden', 'the ops page needs the admin token, not a tenant token');
          const s = signIn(req);
          return { status: 200, body: { signed_in: true, expires_at: new Date(s.expiresAt).toISOString() }, headers: s.headers };
        },
      },
      {
        method: 'ANY', path: '/ops/session', handle: (req) => {
          ops();
          if (req.method === 'GET') {
            const at = sessions.expiresAt(session(req));
            return { status: 200, body: { signed_in: at !== null, expires_at: at === null ? null : new Date(at).toISOString() }, headers: NO_STORE };
          }
          if (req.method === 'DELETE') {
            sessions.revoke(session(req));
            return { status: 200, body: { signed_in: false, expires_at: null }, headers: { ...NO_STORE, 'set-cookie': clearedSessionCookie(secure(req)) } };
          }
          throw new ApiError('method_not_allowed', 'GET (who is signed in), POST (sign in) or DELETE (sign out)');
        },
      },
    ],
    miss: (req, samePath) => {
      if (!samePath) throw new ApiError('not_found', `no route ${req.method} ${req.path}`);
      throw new ApiError('method_not_allowed', 'GET only');
    },
  };
}

const OPS_SESSION_BODY_BYTES = 4096;

/** The admin token a sign-in posts: `{"token": "..."}` or a form's `token=...`. */
function signInToken(req: RouteRequest): string | null {
  const body = req.body ?? '';
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return new URLSearchParams(body).get('token');
  let token: unknown;
  try {
    token = (JSON.parse(body) as { token?: unknown } | null)?.token;
  } catch {
    throw new ApiError('invalid_json', 'body must be {"token": "<admin token>"}');
  }
  if (typeof token !== 'string' || token === '') throw new ApiError('invalid_field', 'body must be {"token": "<admin token>"}');
  return token;
}

function adminArea(deps: HttpDeps): Area {
  const reads = deps.reads;
  return {
    claims: (p) => p.startsWith('/admin/'),
    guard: { who: 'admin', unauthorized: 'the admin token is required', forbidden: 'this endpoint needs the admin token' },
    routes: [
      { method: 'GET', path: '/admin/shards', handle: async () => ok(await reads.shards()) },
      {
        method: 'POST', path: '/admin/shards', body: ADMIN_BODY_BYTES, handle: async (req) => {
          let count: unknown;
          try {
            count = (JSON.parse(req.body!) as { count?: unknown }).count;
          } catch {
            throw new ApiError('invalid_json', 'body must be {"count": N}');
          }
          if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
            throw new ApiError('invalid_field', 'count must be a positive integer');
          }
          return ok(await reads.rescale(count));
        },
      },
      {
        method: 'GET', path: '/admin/cluster', handle: async () => {
          const c = reads.cluster;
          if (!c) throw new ApiError('not_found', 'this node runs alone (set VIGIL_NODE_ID to run several)');
          return ok(await c());
        },
      },
      {
        method: 'GET', path: /^\/admin\/actors\/([^/]+)\/([^/]+)$/, handle: async (req) => {
          const tenant = req.q.get('tenant');
          if (!tenant) throw new ApiError('invalid_parameter', 'tenant is required');
          return ok(await reads.actor(pathParam(req, 0, 'the kind'), tenant, pathParam(req, 1, 'the id')));
        },
      },
    ],
    // A known path with another method is no route either (not 405), as it always was here.
    miss: noRoute,
  };
}

function tenantArea(deps: HttpDeps): Area {
  const { reads, alerts } = deps;
  // Served from the analytics store; without one they exist but are not implemented.
  const analytics = (req: RouteRequest): AnalyticsReads => {
    if (deps.analytics) return deps.analytics;
    throw new ApiError('not_implemented',
      `${req.path.replace(/\/v1\/patients\/[^/]+/, '/v1/patients/{id}')} is served from the analytics store, which is off on this node (VIGIL_ANALYTICS=off); turn it on to use it`);
  };
  const dlq = (req: RouteRequest): DlqApi => {
    if (deps.dlq) return deps.dlq;
    throw new ApiError('not_implemented', `${req.path} is served from the analytics store, which is off on this node (VIGIL_ANALYTICS=off); turn it on to use it`);
  };
  return {
    claims: (p) => p.startsWith('/v1/'),
    guard: { who: 'tenant', unauthorized: 'a valid tenant token is required (Authorization: Bearer or ?token=)', forbidden: 'the admin token does not read or write tenant data' },
    routes: [
      // The ingest hot path: the transport reads, validates and acks it (adapters/uws/ingest-routes.ts).
      { method: 'ANY', path: BATCH_PATH },
      {
        method: 'POST', path: '/v1/imports', body: IMPORT_SUMMARY_BYTES, handle: (req) => {
          const row = importAuditRow(req.tenant, req.body!, Date.now());
          deps.audit?.(row);
          return ok({ recorded: deps.audit !== undefined, audit: row });
        },
      },
      tenantGet(/^\/v1\/patients\/([^/]+)\/risk-summary$/, (req) => reads.patientRiskSummary(req.tenant, id(req))),
      tenantGet(/^\/v1\/procedures\/([^/]+)\/risk-summary$/, (req) => reads.procedureRiskSummary(req.tenant, id(req))),
      tenantGet(/^\/v1\/patients\/([^/]+)\/trends$/, (req) => reads.patientTrends(req.tenant, id(req))),
      tenantGet('/v1/patients', (req, limit) => reads.patients(req.tenant, limit, req.q.get('cursor'))),
      tenantGet('/v1/alerts/recent', async (req, limit) => ({ alerts: await alerts.recentFor(req.tenant, minLevel(req.q), limit) })),
      tenantGet('/v1/alerts/top', async (req, limit) => ({ alerts: await alerts.topFor(req.tenant, limit) })),
      ...alertActionRoutes(alerts, deps.alertActions),
      tenantGet(/^\/v1\/patients\/([^/]+)\/timeline$/, (req, limit) => {
        const a = analytics(req);
        const r = parseRange(req.q.get('from'), req.q.get('to'));
        return a.timeline(req.tenant, id(req), r.from, r.to, limit);
      }),
      tenantGet(/^\/v1\/patients\/([^/]+)\/biometrics$/, (req, limit) => analytics(req).biometrics(req.tenant, id(req), req.q.get('type'), limit)),
      tenantGet('/v1/search', (req, limit) => analytics(req).search(req.tenant, req.q.get('q') ?? '', limit)),
      tenantGet('/v1/dlq', (req, limit) => dlq(req).list(req.tenant, parseDlqQuery(req.q), limit)),
      {
        method: 'POST', path: '/v1/dlq:replay', body: DLQ_REPLAY_BODY_BYTES,
        handle: async (req) => ok(await dlq(req).replay(req.tenant, parseReplayBody(req.body!))),
      },
    ],
    miss: (req, samePath) => {
      if (samePath?.method === 'POST') throw new ApiError('method_not_allowed', 'POST only');
      if (req.method !== 'GET') throw new ApiError('method_not_allowed', `${req.method} is not allowed on ${req.path}`);
      limitOf(req.q);
      throw new ApiError('not_found', `no route GET ${req.path}`);
    },
  };
}

/** Every path no other area claims. */
const nowhere: Area = { claims: () => true, guard: { who: 'anyone' }, routes: [], miss: noRoute };

export function createHttpApi(deps: HttpDeps): HttpApi {
  const router = createRouter([openArea(deps), opsArea(deps), adminArea(deps), tenantArea(deps), nowhere], deps.tokens, deps.log);
  return {
    ...router,
    alertFeed(head) {
      const who = deps.tokens.resolve(tokenFrom(head.headers.authorization ?? '', head.query));
      if (typeof who !== 'string') throw new ApiError('unauthorized', 'a valid tenant token is required');
      return { tenant: who, minLevel: minLevel(new URLSearchParams(head.query)) };
    },
  };
}
