// NATS as a way in and a way out, beside the WebSocket front-end (DESIGN.md data flow):
//  - `vigil.<cluster>.ingest.<tenant>`: partner / scheduled feeds. A message is a frame (one
//    envelope, an array, or {"batch_id","events"}), validated and routed exactly like a
//    WebSocket frame; a request gets the same ack object as its reply. The subject names the
//    tenant, so who may publish there is NATS's authorization (give each partner credentials
//    for its own subject only).
//  - `vigil.<cluster>.alerts.<tenant>`: every alert transition (opens, changes level, is
//    acknowledged, shelved, back from shelving, resolves), with `Nats-Msg-Id` =
//    `<alert_id>:<state>:<level>:<event time ms>` so a JetStream stream capturing the subject drops
//    the copies a replay re-publishes (same transition, same time) but keeps an alert that is open
//    again after a shelve.
//  - `vigil.<cluster>.dlq.<tenant>`: every rejected event with its reason, for inspection and
//    replay after a fix.
import { headers, type NatsConnection, type Subscription } from 'nats';
import type { DeadLetter, FrameOutcome } from '../../actors/ingest.js';
import type { AlertRecord, AlertSink } from '../../runtime/ports.js';
import { alertView } from '../../runtime/alert-view.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export function subjects(cluster: string): { ingest: (t: string) => string; alerts: (t: string) => string; dlq: (t: string) => string } {
  return {
    ingest: (t) => `vigil.${cluster}.ingest.${t}`,
    alerts: (t) => `vigil.${cluster}.alerts.${t}`,
    dlq: (t) => `vigil.${cluster}.dlq.${t}`,
  };
}

/** Publishes alerts per tenant. Core NATS publish: fire and forget, coalesced by the client. */
export class NatsAlertSink implements AlertSink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}

  async publish(alerts: readonly AlertRecord[]): Promise<void> {
    const s = subjects(this.cluster);
    for (const a of alerts) {
      const h = headers();
      h.set('Nats-Msg-Id', `${a.alertId}:${a.state}:${a.level}:${a.eventTime}`);
      this.nc.publish(s.alerts(a.tenant), enc.encode(JSON.stringify(alertView(a))), { headers: h });
    }
  }

  async close(): Promise<void> {}
}

/**
 * Several nodes: every node's alerts, as NatsAlertSink published them, into `sink` (a node's
 * alert view), so any node serves every tenant's recent / top alerts and the alert feed, not
 * just those of the actors it owns. Messages that are not alerts are skipped.
 */
export function followClusterAlerts(nc: NatsConnection, cluster: string, sink: AlertSink): Subscription {
  return nc.subscribe(subjects(cluster).alerts('*'), {
    callback: (err, msg) => {
      if (err) return;
      let v: ReturnType<typeof alertView>;
      try {
        v = JSON.parse(dec.decode(msg.data)) as ReturnType<typeof alertView>;
      } catch {
        return;
      }
      if (v?.type !== 'alert' || typeof v.alert_id !== 'string') return;
      const rec: AlertRecord = {
        alertId: v.alert_id, tenant: v.tenant_id, subjectKind: v.subject.kind, subjectId: v.subject.id, level: v.level,
        state: v.state, reason: v.reason, value: v.value, eventTime: Date.parse(v.event_time),
        ...(typeof v.by === 'string' ? { by: v.by } : {}), ...(typeof v.note === 'string' ? { note: v.note } : {}),
        ...(typeof v.until === 'string' ? { until: Date.parse(v.until) } : {}),
      };
      void sink.publish([rec]).catch(publishFailed);
    },
  });
}

// Another node's alert the local sink refused (its subscribers miss it; the owner's store has it):
// logged, at most once a minute with a count, so a sink that is down does not flood the log.
let publishFailures = 0;
let publishLoggedAt = -Infinity;
function publishFailed(err: unknown): void {
  publishFailures++;
  const now = Date.now();
  if (now - publishLoggedAt < 60_000) return;
  console.error(`nats: publishing a cluster alert locally failed${publishFailures > 1 ? ` (${publishFailures} times since the last report)` : ''}: ${(err as Error)?.message ?? String(err)}`);
  publishLoggedAt = now;
  publishFailures = 0;
}

/** Rejected events to the tenant's DLQ subject. */
export class NatsDeadLetters {
  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}

  publish(letters: readonly DeadLetter[]): void {
    const s = subjects(this.cluster);
    for (const l of letters) this.nc.publish(s.dlq(l.tenant_id), enc.encode(JSON.stringify(l)));
  }
}

/** The frame pipeline as a feed sees it: one frame's bytes in, its outcome out. */
export interface FeedIngest {
  submitFrame(lane: number, tenant: string, source: string, bytes: Uint8Array, done: (o: FrameOutcome) => void): void;
  writable(): boolean;
  whenWritable(): Promise<void>;
}

/** Frames of one feed subscription in flight at once: enough to fill a batch, bounded. */
const FEED_WINDOW = 64;
/** Ingest lane of the feed: its messages keep their order like one WebSocket connection's. */
const FEED_LANE = 0x7fffffff;

/**
 * Serves `vigil.<cluster>.ingest.*`. Messages go through the same frame pipeline as a WebSocket
 * frame, in order, up to FEED_WINDOW at once; while the runtime has no room the loop waits, and
 * the client library's bounded pending buffer (its slow-consumer limit) is the backpressure
 * towards publishers. A request gets the ack object (without the stream's seq and credit).
 */
export class NatsIngestFeed {
  private readonly sub: Subscription;
  private readonly done: Promise<void>;
  private inFlight = 0;
  private room: (() => void) | null = null;

  constructor(
    nc: NatsConnection,
    cluster: string,
    private readonly ingest: FeedIngest,
    private readonly knownTenant: (t: string) => boolean,
  ) {
    // A queue group: with several nodes each feed message is taken by one of them, not by all.
    this.sub = nc.subscribe(`vigil.${cluster}.ingest.*`, { queue: `vigil-${cluster}-ingest` });
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for await (const m of this.sub) {
      const tenant = m.subject.slice(m.subject.lastIndexOf('.') + 1);
      const reply = (body: unknown) => {
        if (m.reply) m.respond(enc.encode(JSON.stringify(body)));
      };
      if (!this.knownTenant(tenant)) {
        reply({ error: { code: 'unknown_tenant', message: `no tenant ${tenant}` } });
        continue;
      }
      while (this.inFlight >= FEED_WINDOW) await new Promise<void>((r) => (this.room = r));
      if (!this.ingest.writable()) await this.ingest.whenWritable();
      this.inFlight++;
      // The message's bytes belong to the subscription's buffer: the pipeline gets its own copy.
      this.ingest.submitFrame(FEED_LANE, tenant, 'nats', m.data.slice(), (o) => {
        reply({ type: 'ack', ...o.ack });
        this.inFlight--;
        const r = this.room;
        this.room = null;
        r?.();
      });
    }
  }

  async close(): Promise<void> {
    this.sub.unsubscribe();
    await this.done;
  }
}
