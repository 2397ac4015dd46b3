// An alert as producers' clients see it (SPEC §2 alert feed, the NATS alert subject, the ops page):
// one shape, here beside AlertRecord, so every adapter that publishes alerts can import it.
import type { AlertLevelName, AlertRecord } from './ports.js';

export interface AlertView {
  type: 'alert';
  alert_id: string;
  tenant_id: string;
  subject: { kind: string; id: string };
  level: AlertLevelName;
  state: 'open' | 'resolved';
  reason: string;
  value: number;
  event_time: string;
}

export function alertView(a: AlertRecord): AlertView {
  return {
    type: 'alert', alert_id: a.alertId, tenant_id: a.tenant, subject: { kind: a.subjectKind, id: a.subjectId },
    level: a.level, state: a.state, reason: a.reason, value: a.value, event_time: new Date(a.eventTime).toISOString(),
  };
}
