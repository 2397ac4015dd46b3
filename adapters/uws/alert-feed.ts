// GET /v1/alerts/stream (SPEC.md §2): a WebSocket that pushes the tenant's alerts at or above
// `min_level`. Who may open it and at which level is the HTTP layer's call (HttpApi.alertFeed).
import type { TemplatedApp } from 'uWebSockets.js';
import type { AlertLevelName } from '../../runtime/ports.js';
import type { AlertHub, AlertView } from '../http/alert-hub.js';
import type { HttpApi } from '../http/routes.js';
import { readHead, writeAnswer } from './http-io.js';

interface AlertUser {
  tenant: string;
  minLevel: AlertLevelName;
  unsubscribe: (() => void) | null;
}

export function mountAlertFeed(app: TemplatedApp, api: HttpApi, alerts: AlertHub, idleTimeoutSec: number): void {
  app.ws<AlertUser>('/v1/alerts/stream', {
    idleTimeout: idleTimeoutSec,
    maxBackpressure: 1024 * 1024,
    // A subscriber that cannot keep up is dropped rather than buffered for.
    closeOnBackpressureLimit: 1 as unknown as number,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      let feed: ReturnType<HttpApi['alertFeed']>;
      const head = readHead(req);
      try {
        feed = api.alertFeed(head);
      } catch (err) {
        return writeAnswer(res, api.fail(err, head));
      }
      res.upgrade<AlertUser>({ tenant: feed.tenant, minLevel: feed.minLevel, unsubscribe: null },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      const u = ws.getUserData();
      u.unsubscribe = alerts.subscribe(u.tenant, u.minLevel, (a: AlertView) => void ws.send(JSON.stringify(a), false, false));
    },
    close: (ws) => ws.getUserData().unsubscribe?.(),
  });
}
