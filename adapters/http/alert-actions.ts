// POST /v1/alerts/{alert_id}/acknowledge and /shelve (SPEC §3, issue 14 item 6). The alert's
// state lives in the actor that raised it (actors/alerts.ts), so an action is an event for that
// actor, put in the event log like any other: ordered with the actor's readings, replayed after a
// crash, applied once. Which actor owns an alert id is what the alert index knows (the hub).
import { ALERT_ACTION, AlertActionCode, type AlertActionEvent } from '../../actors/alerts.js';
import type { AlertView } from '../../runtime/alert-view.js';
import { ApiError } from './errors.js';
import type { HttpAnswer } from './message.js';
import { pathParam, type Route, type RouteRequest } from './router.js';

/** What an action's submission came back with. */
export interface AlertActionOutcome {
  /** true: the actor applied it (one node); false: it is in the shared log, its owner applies it (several nodes). */
  applied: boolean;
  /** The actor refused it (`not_found`, `alert_resolved`); null when applied or not yet known. */
  rejection: { code: string; message: string } | null;
}

/** Wired by the composition root over the runtime (adapters/compose/node.ts). */
export interface AlertActions {
  /** Puts the action in the event log for the actor `kind`/`id` of `tenant`. */
  submit(tenant: string, kind: string, id: string, action: AlertActionEvent): Promise<AlertActionOutcome>;
  /** Bounds of `minutes` in a shelve (the setting clinical.alerts). */
  readonly shelveMinutes: { readonly min: number; readonly max: number };
  /** Processing time (epoch ms): when staff asked. */
  now(): number;
}

/** The alert index the routes look an alert id up in (AlertHub over the read model). */
export interface AlertLookup {
  /** The tenant's open alert at its latest transition, `'resolved'`, or null (unknown, or another tenant's). */
  lookup(tenant: string, alertId: string): Promise<AlertView | 'resolved' | null>;
}

export const ALERT_ACTION_BODY_BYTES = 4096;
const BY_MAX = 128;
const NOTE_MAX = 1000;

type Kind = 'acknowledge' | 'shelve';
const FIELDS: Record<Kind, readonly string[]> = { acknowledge: ['by', 'note'], shelve: ['by', 'minutes'] };
const SHAPE: Record<Kind, string> = {
  acknowledge: '{"by": "<who>", "note": "<optional text>"}',
  shelve: '{"by": "<who>", "minutes": N}',
};

interface Parsed {
  by: string;
  note?: string;
  minutes?: number;
}

function parseBody(kind: Kind, body: string, bounds: AlertActions['shelveMinutes']): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new ApiError('invalid_json', `body must be JSON: ${SHAPE[kind]}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError('invalid_json', `body must be a JSON object: ${SHAPE[kind]}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS[kind].includes(k)) throw new ApiError('invalid_field', `unknown field ${JSON.stringify(k)}; a ${kind} takes ${SHAPE[kind]}`);
  }
  const by = o.by;
  if (typeof by !== 'string' || by.trim() === '') throw new ApiError('invalid_field', `by is required: who ${kind === 'shelve' ? 'shelves' : 'acknowledges'} the alert (a non-empty string)`);
  if (by.length > BY_MAX) throw new ApiError('invalid_field', `by must be at most ${BY_MAX} characters`);
  const out: Parsed = { by: by.trim() };
  if (kind === 'acknowledge' && o.note !== undefined && o.note !== null) {
    if (typeof o.note !== 'string') throw new ApiError('invalid_field', 'note must be a string');
    if (o.note.length > NOTE_MAX) throw new ApiError('invalid_field', `note must be at most ${NOTE_MAX} characters`);
    out.note = o.note;
  }
  if (kind === 'shelve') {
    const m = o.minutes;
    if (typeof m !== 'number' || !Number.isFinite(m) || m < bounds.min || m > bounds.max) {
      throw new ApiError('invalid_field', `minutes must be a number from ${bounds.min} to ${bounds.max} (the setting clinical.alerts); got ${JSON.stringify(m ?? null)}`);
    }
    out.minutes = m;
  }
  return out;
}

/** The tenant's open alert with this id, or the answer why there is none (404, or 409 when resolved). */
async function locate(alerts: AlertLookup, tenant: string, alertId: string): Promise<AlertView> {
  // One keyed read of the index: no scan of the tenant's open alerts, and a resolved alert is
  // known as resolved however many transitions came after it.
  const found = await alerts.lookup(tenant, alertId);
  if (found === 'resolved') throw new ApiError('alert_resolved', `alert ${alertId} is already resolved`);
  if (found === null) throw new ApiError('not_found', `no open alert ${alertId}`);
  return found;
}

function handler(kind: Kind, alerts: AlertLookup, actions: AlertActions | undefined) {
  return async (req: RouteRequest): Promise<HttpAnswer> => {
    if (!actions) throw new ApiError('not_implemented', `alert ${kind} is not enabled on this node`);
    const alertId = pathParam(req, 0, 'the alert id');
    const body = parseBody(kind, req.body ?? '', actions.shelveMinutes);
    const alert = await locate(alerts, req.tenant, alertId);
    const at = actions.now();
    const p: AlertActionEvent['p'] = kind === 'acknowledge'
      ? (body.note === undefined ? { action: kind, alert_id: alertId, by: body.by, at } : { action: kind, alert_id: alertId, by: body.by, note: body.note, at })
      : { action: kind, alert_id: alertId, by: body.by, minutes: body.minutes!, at };
    const r = await actions.submit(req.tenant, alert.subject.kind, alert.subject.id, { h: ALERT_ACTION, p });
    if (r.rejection) {
      // Resolved (or gone) between the look-up and the actor: the actor's word is the answer.
      if (r.rejection.code === AlertActionCode.resolved) throw new ApiError('alert_resolved', r.rejection.message);
      if (r.rejection.code === AlertActionCode.notFound) throw new ApiError('not_found', r.rejection.message);
      throw new ApiError('actor_failed', r.rejection.message);
    }
    const answer: Record<string, unknown> = {
      alert_id: alertId, subject: alert.subject, reason: alert.reason, level: alert.level,
      state: kind === 'acknowledge' ? 'acknowledged' : 'shelved', by: body.by, at: new Date(at).toISOString(), applied: r.applied,
    };
    if (body.note !== undefined) answer.note = body.note;
    if (body.minutes !== undefined) answer.until = new Date(at + body.minutes * 60_000).toISOString();
    // 202 when another node's actor applies it: accepted into the log, not yet seen applied.
    return { status: r.applied ? 200 : 202, body: answer };
  };
}

/** The two routes, for the tenant area of routes.ts. */
export function alertActionRoutes(alerts: AlertLookup, actions: AlertActions | undefined): Route[] {
  return [
    { method: 'POST', path: /^\/v1\/alerts\/([^/]+)\/acknowledge$/, body: ALERT_ACTION_BODY_BYTES, handle: handler('acknowledge', alerts, actions) },
    { method: 'POST', path: /^\/v1\/alerts\/([^/]+)\/shelve$/, body: ALERT_ACTION_BODY_BYTES, handle: handler('shelve', alerts, actions) },
  ];
}
