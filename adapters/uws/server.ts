// SPEC.md §2–§3 on uWebSockets.js. This adapter only speaks uWS: it listens, reads requests,
// hands them to the transport-neutral route table (adapters/http/routes.ts) and writes the
// answers, and it mounts the WebSockets. The ingest paths (the /v1/stream WebSocket and
// POST /v1/events:batch) are in ingest-routes.ts, the alert feed in alert-feed.ts.
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { HttpAnswer } from '../http/message.js';
import { createHttpApi, type HttpApi, type HttpDeps } from '../http/routes.js';
import { mountAlertFeed } from './alert-feed.js';
import { loadUws, type Uws } from './binding.js';
import { readBody, readHead, writeAnswer } from './http-io.js';
import { batchRoute, mountIngestStream, type BatchRoute, type IngestDeps } from './ingest-routes.js';

export interface ServerDeps extends HttpDeps, IngestDeps {
  host: string;
  port: number;
}

export interface RunningServer {
  port: number;
  close(): void;
}

export function startServer(deps: ServerDeps): Promise<RunningServer> {
  const uws = loadUws();
  const app: TemplatedApp = uws.App();
  const api = createHttpApi(deps);
  mountIngestStream(app, deps);
  mountAlertFeed(app, api, deps.alerts, deps.idleTimeoutSec);
  const batch = batchRoute(deps);
  app.any('/*', (res, req) => serveHttp(api, batch, res, req));
  return listen(uws, app, deps.host, deps.port);
}

/** One HTTP request: the route table decides, this reads the body it asks for and writes the answer. */
function serveHttp(api: HttpApi, batch: BatchRoute, res: HttpResponse, req: HttpRequest): void {
  const head = readHead(req);
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  const isAborted = (): boolean => aborted;
  const reply = (a: HttpAnswer): void => {
    if (!aborted) writeAnswer(res, a);
  };
  const fail = (err: unknown): void => reply(api.fail(err, head));
  const opened = api.open(head);
  switch (opened.kind) {
    case 'answer':
      void opened.answer.then(reply);
      return;
    case 'body':
      readBody(res, opened.max, isAborted, (err, text) => (err ? fail(err) : void opened.answer(text!).then(reply)));
      return;
    case 'transport':
      try {
        batch(head, opened.tenant, res, reply, fail, isAborted);
      } catch (err) {
        fail(err);
      }
  }
}

function listen(uws: Uws, app: TemplatedApp, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    // Exclusive: uWS otherwise binds with SO_REUSEPORT, and a second node started on a taken
    // port would silently share its traffic instead of failing to start.
    (app.listen as unknown as (h: string, p: number, o: number, cb: (s: us_listen_socket | false) => void) => void)(host, port, (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, (sock: us_listen_socket | false) => {
      if (!sock) return reject(new Error(`cannot listen on ${host}:${port}`));
      resolve({ port: uws.us_socket_local_port(sock as never), close: () => uws.us_listen_socket_close(sock) });
    });
  });
}
