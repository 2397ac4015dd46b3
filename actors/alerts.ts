import type { ActorContext } from '../runtime/actor.js';
import { AlertLevel, type AlertLevelName } from '../runtime/ports.js';
import { hashHex } from './hash.js';

/** Open alerts of one subject, by reason; `n` counts episodes so each opening gets a new id. */
export interface AlertBookState {
  open: Record<string, { id: string; level: AlertLevelName; since: number; value: number }>;
  n: Record<string, number>;
}

export function newAlertBook(): AlertBookState {
  return { open: {}, n: {} };
}

export const levelRank = (l: AlertLevelName): number => AlertLevel[l];

/**
 * Opens (or re-levels) the alert for `reason`. The id is a hash of tenant, subject, reason and
 * episode number: the same stream yields the same ids, so a replay re-publishes, never duplicates.
 */
export function raise(b: AlertBookState, ctx: ActorContext, reason: string, level: AlertLevelName, value: number, eventTime: number): void {
  const cur = b.open[reason];
  if (cur && cur.level === level) {
    cur.value = value;
    return;
  }
  let id: string;
  if (cur) id = cur.id;
  else {
    const ep = (b.n[reason] ?? 0) + 1;
    b.n[reason] = ep;
    id = `al_${hashHex(`${ctx.tenant}|${ctx.kind}|${ctx.id}|${reason}|${ep}`)}`;
  }
  b.open[reason] = { id, level, since: cur?.since ?? eventTime, value };
  ctx.emitAlert({ alertId: id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level, state: 'open', reason, value, eventTime });
}

export function resolve(b: AlertBookState, ctx: ActorContext, reason: string, value: number, eventTime: number): void {
  const cur = b.open[reason];
  if (!cur) return;
  delete b.open[reason];
  ctx.emitAlert({ alertId: cur.id, tenant: ctx.tenant, subjectKind: ctx.kind, subjectId: ctx.id, level: cur.level, state: 'resolved', reason, value, eventTime });
}

export function openAlerts(b: AlertBookState): { alert_id: string; reason: string; level: AlertLevelName; since: number; value: number }[] {
  return Object.entries(b.open)
    .map(([reason, a]) => ({ alert_id: a.id, reason, level: a.level, since: a.since, value: a.value }))
    .sort((x, y) => levelRank(y.level) - levelRank(x.level) || y.since - x.since);
}
