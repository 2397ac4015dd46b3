// An alert as producers' clients see it (SPEC §2 alert feed, the NATS alert subject, the ops page):
// one shape, here beside AlertRecord, so every adapter that publishes alerts can import it.
import type { AlertLevelName, AlertRecord, AlertState } from './ports.js';

export interface AlertView {
  type: 'alert';
  alert_id: string;
  tenant_id: string;
  subject: { kind: string; id: string };
  level: AlertLevelName;
  state: AlertState;
  reason: string;
  value: number;
  event_time: string;
  /** Acknowledged or shelved: who did it. Present only then. */
  by?: string;
  /** Acknowledged with a note. */
  note?: string;
  /** Shelved: when it comes back, ISO-8601. */
  until?: string;
}

export function alertView(a: AlertRecord): AlertView {
  const v: AlertView = {
    type: 'alert', alert_id: a.alertId, tenant_id: a.tenant, subject: { kind: a.subjectKind, id: a.subjectId },
    level: a.level, state: a.state, reason: a.reason, value: a.value, event_time: new Date(a.eventTime).toISOString(),
  };
  // Only on the transitions that have them, so an open or resolved alert keeps its shape.
  if (a.by !== undefined) v.by = a.by;
  if (a.note !== undefined) v.note = a.note;
  if (a.until !== undefined) v.until = new Date(a.until).toISOString();
  return v;
}
