// The mechanics of the route table (routes.ts has the table itself): which area a path belongs
// to, who may call it, which route answers, and what a path with no route for its method gets.
// A transport calls `open` with the request head, reads a body only when the route asks for one
// (after the caller was admitted, so a refused caller never makes the server read its upload),
// and writes the answer. Every failure becomes an answer here; nothing a handler throws escapes,
// and nothing it did not mean to throw reaches the caller as more than a logged request id.
import { ADMIN, type TokenBook, tokenFrom } from './auth.js';
import { ApiError, errorAnswer, internalErrors, payloadTooLarge, type InternalErrors } from './errors.js';
import type { HttpAnswer, HttpHead, HttpRequest } from './message.js';

/** What a handler is given: the request, its query parsed, the path's groups, the caller's tenant. */
export interface RouteRequest extends HttpRequest {
  q: URLSearchParams;
  /**
   * The path pattern's groups, still percent-encoded: a handler decodes what it uses, when it uses
   * it (`pathParam`). `open` has already refused a path whose percent-encoding is malformed.
   */
  params: string[];
  /** The caller's tenant in an area guarded by `tenant`; '' in the others. */
  tenant: string;
}

export type Handler = (req: RouteRequest) => Promise<HttpAnswer> | HttpAnswer;

export interface Route {
  method: 'GET' | 'POST' | 'ANY';
  /** The exact path, or a pattern whose groups become `params`. */
  path: string | RegExp;
  /** The route reads a body of at most this many bytes (413 above). */
  body?: number;
  /**
   * Absent: the transport serves the route itself (the ingest hot path streams its body and
   * holds the connection while the runtime is saturated); the table still decides who may call it.
   */
  handle?: Handler;
}

/** Who may call an area's routes, and what a caller without the right token is told. */
export type Guard = { who: 'anyone' } | { who: 'admin' | 'tenant'; unauthorized: string; forbidden: string };

export interface Area {
  /** Areas are tried in order; the first that claims a path answers for it. */
  claims(path: string): boolean;
  guard: Guard;
  routes: Route[];
  /**
   * A claimed path with no route for the request's method (`samePath`: a route that has the path
   * but another method). Throws the ApiError to answer with.
   */
  miss(req: RouteRequest, samePath: Route | null): never;
}

/** What the transport does next with a request. */
export type Opened =
  | { kind: 'answer'; answer: Promise<HttpAnswer> }
  | { kind: 'body'; max: number; answer(body: string): Promise<HttpAnswer> }
  | { kind: 'transport'; route: Route; tenant: string };

export interface Router {
  open(head: HttpHead): Opened;
  /** `open` and answer in one call, the body (if the route reads one) taken from `req.body`. */
  handle(req: HttpRequest): Promise<HttpAnswer>;
  /** The answer for an error a transport met serving `head` (an unexpected one is logged, see errors.ts). */
  fail(err: unknown, head: HttpHead): HttpAnswer;
}

// Lone UTF-16 surrogates have no UTF-8 form: an id holding one could be sent but never read back.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses a request target that cannot mean one string: malformed percent-encoding (`%`, `%ZZ`),
 * escapes that decode to invalid UTF-8 (`%C0%AF`, `%ED%A0%80`), raw bytes that are not UTF-8
 * (transports decode them to U+FFFD, which would merge different ids; a real U+FFFD is sent
 * percent-encoded), and lone surrogates. One scan of a short string per request.
 */
function checkTarget(head: HttpHead): void {
  for (const [what, s] of [['path', head.path], ['query string', head.query]] as const) {
    if (s.includes('\uFFFD') || LONE_SURROGATE.test(s)) {
      throw new ApiError('invalid_parameter', `the request ${what} is not valid UTF-8 (send non-ASCII characters percent-encoded)`);
    }
    if (!s.includes('%')) continue;
    try {
      decodeURIComponent(s);
    } catch {
      throw new ApiError('invalid_parameter', `the request ${what} has malformed percent-encoding (or escapes that are not UTF-8)`);
    }
  }
}

/** A path group, decoded; invalid_parameter when it is not well-formed percent-encoded UTF-8. */
export function pathParam(req: RouteRequest, i: number, name: string): string {
  const raw = req.params[i];
  if (raw === undefined) throw new ApiError('invalid_parameter', `${name} is missing`);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('invalid_parameter', `${name} has malformed percent-encoding (or escapes that are not UTF-8)`);
  }
}

function context(head: HttpHead): string {
  return `${head.method} ${JSON.stringify(head.path)}`;
}

function admit(guard: Guard, tokens: TokenBook, head: HttpHead): string {
  if (guard.who === 'anyone') return '';
  const who = tokens.resolve(tokenFrom(head.headers.authorization ?? '', head.query));
  if (who === null) throw new ApiError('unauthorized', guard.unauthorized);
  if (guard.who === 'admin') {
    if (who !== ADMIN) throw new ApiError('forbidden', guard.forbidden);
    return '';
  }
  if (who === ADMIN) throw new ApiError('forbidden', guard.forbidden);
  return who;
}

function groups(path: string | RegExp, actual: string): string[] | null {
  if (typeof path === 'string') return path === actual ? [] : null;
  const m = path.exec(actual);
  return m ? m.slice(1) : null;
}

/** `log`: where errors no handler expected are written, with the request id the caller is given. */
export function createRouter(areas: readonly Area[], tokens: TokenBook, log: (line: string) => void = (l) => console.error(l)): Router {
  const internal: InternalErrors = internalErrors(log);
  const fail = (err: unknown, head: HttpHead): HttpAnswer => errorAnswer(err, internal, context(head));
  const settle = async (head: HttpHead, run: () => Promise<HttpAnswer> | HttpAnswer): Promise<HttpAnswer> => {
    try {
      return await run();
    } catch (err) {
      return fail(err, head);
    }
  };
  const open = (head: HttpHead): Opened => {
    try {
      const area = areas.find((a) => a.claims(head.path));
      if (!area) throw new ApiError('not_found', `no route ${head.method} ${head.path}`);
      const tenant = admit(area.guard, tokens, head);
      // After the guard: a caller without the right token learns nothing, not even this.
      checkTarget(head);
      const req: RouteRequest = { ...head, q: new URLSearchParams(head.query), params: [], tenant };
      let samePath: Route | null = null;
      for (const route of area.routes) {
        const params = groups(route.path, head.path);
        if (params === null) continue;
        if (route.method !== 'ANY' && route.method !== head.method) {
          samePath ??= route;
          continue;
        }
        req.params = params;
        const handle = route.handle;
        if (!handle) return { kind: 'transport', route, tenant };
        if (route.body === undefined) return { kind: 'answer', answer: settle(head, () => handle(req)) };
        return { kind: 'body', max: route.body, answer: (body) => settle(head, () => handle({ ...req, body })) };
      }
      return { kind: 'answer', answer: settle(head, () => area.miss(req, samePath)) };
    } catch (err) {
      return { kind: 'answer', answer: Promise.resolve(fail(err, head)) };
    }
  };
  return {
    open,
    fail,
    async handle(req) {
      const o = open(req);
      if (o.kind === 'answer') return o.answer;
      if (o.kind === 'body') {
        const body = req.body ?? '';
        return Buffer.byteLength(body, 'utf8') > o.max ? errorAnswer(payloadTooLarge(o.max)) : o.answer(body);
      }
      return errorAnswer(new ApiError('not_implemented', `${req.method} ${req.path} is served by the transport, not the route table`));
    },
  };
}
