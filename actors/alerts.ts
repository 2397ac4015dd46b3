import type { ActorContext } from '../runtime/actor.js';
import { AlertLevel, type AlertLevelName, type AlertState } from '../runtime/ports.js';
import { dict, toDict } from './dict.js';
import { hashHex } from './hash.js';

/** What staff did to an open alert; absent: it is plainly open. */
export type AlertAck = 'acknowledged' | 'shelved';

/** One open alert. `st`, `by`, `note`, `until` are absent in snapshots from before acknowledgement. */
export interface OpenAlert {
  id: string;
  level: AlertLevelName;
  since: number;
  value: number;
  /** For `signal_lost`, the event time of the last reading before the silence. */
  last?: number;
  st?: AlertAck;
  by?: string;
  note?: string;
  /** Shelved: when it comes back (processing time, epoch ms). */
  until?: number;
}

/** Open alerts of one subject, by reason; `n` counts episodes so each opening gets a new id. */
export interface AlertBookState {
  open: Record<string, OpenAlert>;
  n: Record<string, number>;
}

// Open alerts are counted beside `open`: most events try a resolve or two with nothing open, and
// `open` is a dictionary-mode object after its first delete, so skipping the lookup matters.
// Derived data under a symbol key: JSON skips it, and a decoded book recounts on first use.
const OPEN_N = Symbol('openCount');
type Counted = AlertBookState & { [OPEN_N]?: number };

function openCount(b: AlertBookState): number {
  let n = (b as Counted)[OPEN_N];
  if (n === undefined) {
    n = Object.keys(b.open).length;
    Object.defineProperty(b, OPEN_N, { value: n, enumerable: false, writable: true });
  }
  return n;
}

export function newAlertBook(): AlertBookState {
  const b: AlertBookState = { open: dict(), n: dict() };
  openCount(b);
  return b;
}

/** A book as a snapshot decoded it (plain objects) made live again. */
export function alertBookFromJSON(j: AlertBookState): AlertBookState {
  return { open: toDict(j.open), n: toDict(j.n) };
}

export const levelRank = (l: AlertLevelName): number => AlertLevel[l];

const alertId = (ctx: ActorContext, reason: string, ep: number): string => `al_${hashHex(`${ctx.tenant}|${ctx.kind}|${ctx.id}|${reason}|${ep}`)}`;

/** The processing-time timer that brings a shelved alert back; one per reason. */
const SHELVE_TIMER = 'shelve:';
export const shelveTimer = (reason: string): string => SHELVE_TIMER + reason;
export const isShelveTimer = (name: string): boolean => name.startsWith(SHELVE_TIMER);

function emit(ctx: ActorContext, a: OpenAlert, reason: string, state: AlertState, value: number, eventTime: number): void {
  const base = { alertId: a.id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level: a.level, state, reason, value, eventTime };
  if (state === 'acknowledged') ctx.emitAlert(a.note === undefined ? { ...base, by: a.by } : { ...base, by: a.by, note: a.note });
  else if (state === 'shelved') ctx.emitAlert({ ...base, by: a.by, until: a.until });
  else ctx.emitAlert(base);
}

/**
 * Opens (or re-levels) the alert for `reason`. The id is a hash of tenant, subject, reason and
 * episode number: the same stream yields the same ids, so a replay re-publishes, never duplicates.
 * A higher level notifies again as `open` and clears an acknowledgement or shelving; a lower
 * one keeps it (the alert is re-published in the state staff left it in).
 */
export function raise(b: AlertBookState, ctx: ActorContext, reason: string, level: AlertLevelName, value: number, eventTime: number, last?: number): void {
  const cur = b.open[reason];
  if (cur && cur.level === level) {
    cur.value = value;
    if (last !== undefined) cur.last = last;
    // Its timer may not have fired yet (or was lost): the time is up all the same.
    if (cur.st === 'shelved' && cur.until! <= ctx.now()) unshelve(b, ctx, shelveTimer(reason));
    return;
  }
  let id: string;
  if (cur) id = cur.id;
  else {
    (b as Counted)[OPEN_N] = openCount(b) + 1;
    const ep = (b.n[reason] ?? 0) + 1;
    b.n[reason] = ep;
    id = alertId(ctx, reason, ep);
  }
  const a: OpenAlert = last === undefined ? { id, level, since: cur?.since ?? eventTime, value } : { id, level, since: cur?.since ?? eventTime, value, last };
  if (cur?.st !== undefined) {
    if (levelRank(level) < levelRank(cur.level)) {
      a.st = cur.st;
      a.by = cur.by;
      if (cur.note !== undefined) a.note = cur.note;
      if (cur.until !== undefined) a.until = cur.until;
    } else if (cur.st === 'shelved') ctx.cancelTimer(shelveTimer(reason));
  }
  b.open[reason] = a;
  emit(ctx, a, reason, a.st ?? 'open', value, eventTime);
}

export function resolve(b: AlertBookState, ctx: ActorContext, reason: string, value: number, eventTime: number): void {
  if (openCount(b) === 0) return;
  const cur = b.open[reason];
  if (!cur) return;
  delete b.open[reason];
  (b as Counted)[OPEN_N]!--;
  if (cur.st === 'shelved') ctx.cancelTimer(shelveTimer(reason));
  ctx.emitAlert({ alertId: cur.id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level: cur.level, state: 'resolved', reason, value, eventTime });
}

// ------------------------------------------------------------------ acknowledge and shelve

/** Marks an alert action among an actor's events (`h`): no tenant event type can carry it. */
export const ALERT_ACTION = 'alert.action' as const;

/**
 * An acknowledge or shelve, as the HTTP API puts it in the event log for the actor that owns
 * the alert: ordered with the actor's events, replayed after a crash, applied at most once by
 * sequence. `at` is when staff asked (processing time), so a replay shelves until the same time.
 */
export interface AlertActionEvent {
  readonly h: typeof ALERT_ACTION;
  readonly p: {
    readonly action: 'acknowledge' | 'shelve';
    readonly alert_id: string;
    readonly by: string;
    readonly note?: string;
    /** Shelve: for how long. */
    readonly minutes?: number;
    readonly at: number;
  };
}

/** Refusal codes of an alert action (the event's verdict; HTTP maps them to 404 and 409). */
export const AlertActionCode = { notFound: 'not_found', resolved: 'alert_resolved' } as const;

/** An id this subject once opened for a reason, now resolved (episodes are counted, ids are hashes). */
function wasResolved(b: AlertBookState, ctx: ActorContext, id: string): boolean {
  let budget = 100_000; // bounded: a flapping alert may have had many episodes
  for (const reason of Object.keys(b.n)) {
    for (let ep = b.n[reason]!; ep >= 1 && budget-- > 0; ep--) if (alertId(ctx, reason, ep) === id) return true;
  }
  return false;
}

/**
 * Applies an acknowledge or shelve (an event, so `ctx.reject` answers the caller): the alert
 * stays open until its condition resolves. A shelved alert comes back as `open` (notified
 * again) when its time is up: a processing-time timer, and `unshelve` on every later action.
 */
export function applyAlertAction(b: AlertBookState, ctx: ActorContext, e: AlertActionEvent): void {
  const p = e.p;
  let reason: string | undefined;
  for (const r in b.open) {
    if (b.open[r]!.id === p.alert_id) {
      reason = r;
      break;
    }
  }
  if (reason === undefined) {
    if (wasResolved(b, ctx, p.alert_id)) ctx.reject(AlertActionCode.resolved, `alert ${p.alert_id} is already resolved`);
    else ctx.reject(AlertActionCode.notFound, `no alert ${p.alert_id} on ${ctx.kind} ${ctx.id}`);
    return;
  }
  const a = b.open[reason]!;
  if (a.st === 'shelved') ctx.cancelTimer(shelveTimer(reason));
  a.by = p.by;
  if (p.action === 'acknowledge') {
    a.st = 'acknowledged';
    if (p.note !== undefined) a.note = p.note;
    else delete a.note;
    delete a.until;
  } else {
    a.st = 'shelved';
    delete a.note;
    a.until = p.at + (p.minutes ?? 0) * 60_000;
    ctx.setTimer(shelveTimer(reason), a.until, 'processing');
  }
  emit(ctx, a, reason, a.st, a.value, p.at);
}

/** The shelve timer fired (or time has passed it): the alert is open again and notified again. */
export function unshelve(b: AlertBookState, ctx: ActorContext, timer: string): void {
  const reason = timer.slice(SHELVE_TIMER.length);
  const a = b.open[reason];
  if (a?.st !== 'shelved') return;
  const until = a.until ?? ctx.now();
  delete a.st;
  delete a.by;
  delete a.until;
  emit(ctx, a, reason, 'open', a.value, until);
}

export interface OpenAlertView {
  alert_id: string;
  reason: string;
  level: AlertLevelName;
  state: 'open' | AlertAck;
  since: number;
  value: number;
  last_reading_at?: number;
  by?: string;
  note?: string;
  /** Shelved: when it comes back, ISO-8601. */
  shelved_until?: string;
}

export function openAlerts(b: AlertBookState): OpenAlertView[] {
  return Object.entries(b.open)
    .map(([reason, a]) => {
      const v: OpenAlertView = { alert_id: a.id, reason, level: a.level, state: a.st ?? 'open', since: a.since, value: a.value };
      if (a.last !== undefined) v.last_reading_at = a.last;
      if (a.by !== undefined) v.by = a.by;
      if (a.note !== undefined) v.note = a.note;
      if (a.until !== undefined) v.shelved_until = new Date(a.until).toISOString();
      return v;
    })
    .sort((x, y) => levelRank(y.level) - levelRank(x.level) || y.since - x.since);
}
