import type { ActorContext } from '../runtime/actor.js';
import { AlertLevel, type AlertLevelName } from '../runtime/ports.js';
import { dict, toDict } from './dict.js';
import { hashHex } from './hash.js';

/** Open alerts of one subject, by reason; `n` counts episodes so each opening gets a new id. */
export interface AlertBookState {
  /** `last`: for `signal_lost`, the event time of the last reading before the silence. */
  open: Record<string, { id: string; level: AlertLevelName; since: number; value: number; last?: number }>;
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

/**
 * Opens (or re-levels) the alert for `reason`. The id is a hash of tenant, subject, reason and
 * episode number: the same stream yields the same ids, so a replay re-publishes, never duplicates.
 */
export function raise(b: AlertBookState, ctx: ActorContext, reason: string, level: AlertLevelName, value: number, eventTime: number, last?: number): void {
  const cur = b.open[reason];
  if (cur && cur.level === level) {
    cur.value = value;
    if (last !== undefined) cur.last = last;
    return;
  }
  let id: string;
  if (cur) id = cur.id;
  else {
    (b as Counted)[OPEN_N] = openCount(b) + 1;
    const ep = (b.n[reason] ?? 0) + 1;
    b.n[reason] = ep;
    id = `al_${hashHex(`${ctx.tenant}|${ctx.kind}|${ctx.id}|${reason}|${ep}`)}`;
  }
  b.open[reason] = last === undefined ? { id, level, since: cur?.since ?? eventTime, value } : { id, level, since: cur?.since ?? eventTime, value, last };
  ctx.emitAlert({ alertId: id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level, state: 'open', reason, value, eventTime });
}

export function resolve(b: AlertBookState, ctx: ActorContext, reason: string, value: number, eventTime: number): void {
  if (openCount(b) === 0) return;
  const cur = b.open[reason];
  if (!cur) return;
  delete b.open[reason];
  (b as Counted)[OPEN_N]!--;
  ctx.emitAlert({ alertId: cur.id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level: cur.level, state: 'resolved', reason, value, eventTime });
}

export function openAlerts(b: AlertBookState): { alert_id: string; reason: string; level: AlertLevelName; since: number; value: number; last_reading_at?: number }[] {
  return Object.entries(b.open)
    .map(([reason, a]) => (a.last === undefined
      ? { alert_id: a.id, reason, level: a.level, since: a.since, value: a.value }
      : { alert_id: a.id, reason, level: a.level, since: a.since, value: a.value, last_reading_at: a.last }))
    .sort((x, y) => levelRank(y.level) - levelRank(x.level) || y.since - x.since);
}
