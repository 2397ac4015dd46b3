// Acknowledge and shelve over the runtime: the HTTP routes (adapters/http/alert-actions.ts) hand
// an action here, and it goes into the event log for the actor that owns the alert.
import type { AlertActionEvent } from '../../actors/alerts.js';
import { resolveClinicalConfig } from '../../actors/config.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import type { AlertActions } from '../http/alert-actions.js';

/**
 * `clustered`: the runtime acks at 'appended' (several nodes), so the owner's verdict is not
 * known here; the route answers 202 and the transition follows on the alert feed.
 */
export function runtimeAlertActions(rt: ActorRuntime, clinical: unknown, clustered: boolean, now: () => number = Date.now): AlertActions {
  const a = resolveClinicalConfig(clinical).alerts;
  return {
    shelveMinutes: { min: a.shelveMinMinutes, max: a.shelveMaxMinutes },
    now,
    async submit(tenant: string, kind: string, id: string, action: AlertActionEvent) {
      // Event time 0: an action is not a reading, so it never moves the actor's watermark (its
      // own time travels in the body, the same on a replay).
      const r = await rt.submitAsync([{ tenant, kind, id, time: 0, body: action }]);
      const rej = r.rejected[0];
      return { applied: !clustered, rejection: rej ? { code: rej.code, message: rej.message } : null };
    },
  };
}
