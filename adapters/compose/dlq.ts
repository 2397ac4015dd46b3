// Dead letters: browsing them (the dlq table) and replaying them through the one ingest path
// (IngestService.submitFrame, as POST /v1/events:batch), so a replay meets the tenant's current
// contracts and the runtime's dedup like any producer's events.
//
// The rule that keeps replays from looping: a replay takes only letters no earlier replay took
// (dlq_replays marks each one it submitted, with its outcome) and rejected at or before the moment
// it started. An event still invalid is refused again and becomes ONE new letter (source `replay`);
// nothing replays it on its own. A later replay (after another fix) may take that new letter, once.
// An event accepted by a replay is applied once: a second copy (a letter of the same event_id, or
// the producer's own resend) is a duplicate by event_id.
//
// Replays on one node run one at a time. Two nodes replaying the same range at the same moment
// may both submit a letter: dedup still applies it once, but a still-invalid one goes back twice.
import type { FrameOutcome } from '../../actors/ingest.js';
import { markReplayed, readDeadLetters, readReplayable } from '../clickhouse/reads.js';
import type { AnalyticsStore } from '../clickhouse/store.js';
import type { AuditRow } from '../http/audit.js';
import { cursorText, type DlqApi, type ReplayResult } from '../http/dlq.js';
import { ApiError } from '../http/errors.js';

/** The part of IngestService a replay uses. */
export interface ReplayIngest {
  submitFrame(lane: number, tenant: string, source: string, bytes: Uint8Array, done: (o: FrameOutcome) => void): void;
  writable(): boolean;
  whenWritable(): Promise<void>;
}

export interface DlqOptions {
  store: AnalyticsStore;
  ingest: ReplayIngest;
  /** Events per replayed frame (the node's maxBatchEvents). */
  maxBatchEvents: number;
  /** Bytes per replayed frame (the node's maxFrameBytes). */
  maxFrameBytes: number;
  now?: () => number;
  audit?: (row: AuditRow) => void;
}

/** Replayed frames keep their order in a lane of their own (WebSocket connections count up from 0, the NATS feed is 0x7fffffff). */
const REPLAY_LANE = 0x7ffffffe;
/** The JSON around the events of a frame: `{"batch_id":"...","events":[...]}`. */
const FRAME_OVERHEAD = 128;

function submit(ingest: ReplayIngest, tenant: string, bytes: Uint8Array): Promise<FrameOutcome> {
  return new Promise((resolve) => ingest.submitFrame(REPLAY_LANE, tenant, 'replay', bytes, resolve));
}

export function createDlqApi(o: DlqOptions): DlqApi {
  const now = o.now ?? Date.now;
  let queue: Promise<unknown> = Promise.resolve();
  const enc = new TextEncoder();

  async function replay(tenant: string, code: string, since: number, limit: number): Promise<ReplayResult> {
    const until = now();
    const found = await readReplayable(o.store, tenant, { code, since }, until, limit);
    const r: ReplayResult = {
      replayed: 0, accepted: 0, duplicates: 0, rejected: 0, already_replayed: found.already_replayed,
      not_replayable: found.not_replayable, more: found.more, until: new Date(until).toISOString(),
    };
    let i = 0;
    let frameNo = 0;
    while (i < found.letters.length) {
      // One frame: as many letters as the node takes in one batch, under its frame size.
      const chunk = [];
      let size = FRAME_OVERHEAD;
      while (i < found.letters.length && chunk.length < o.maxBatchEvents) {
        const l = found.letters[i]!;
        const n = Buffer.byteLength(l.event) + 1;
        if (chunk.length > 0 && size + n > o.maxFrameBytes) break;
        chunk.push(l);
        size += n;
        i++;
      }
      const batchId = `dlq-replay-${until}-${frameNo++}`;
      const bytes = enc.encode(`{"batch_id":${JSON.stringify(batchId)},"events":[${chunk.map((l) => l.event).join(',')}]}`);
      while (!o.ingest.writable()) await o.ingest.whenWritable();
      const started = now();
      const t0 = performance.now();
      const out = await submit(o.ingest, tenant, bytes);
      if (out.unavailable) {
        throw new ApiError('unavailable', `replay stopped after ${r.replayed} letters (they are marked; call again to go on): ${out.ack.rejected[0]?.message ?? 'the node did not take the events'}`);
      }
      if (out.status !== 0) {
        // Letters are whole events under the limits, so a frame of them is always readable;
        // if one was not, nothing of it was taken and nothing is marked.
        throw new ApiError('internal', `a replayed frame was refused whole: ${out.ack.rejected[0]?.code ?? '?'}: ${out.ack.rejected[0]?.message ?? ''}`);
      }
      const refused = new Set(out.ack.rejected.map((x) => x.index));
      await markReplayed(o.store, tenant, chunk.map((l, k) => ({ letter_id: l.letter_id, outcome: refused.has(k) ? 'rejected' : 'accepted' })), started);
      r.replayed += chunk.length;
      r.accepted += out.ack.accepted;
      r.duplicates += out.ack.duplicates;
      r.rejected += out.ack.rejected.length;
      o.audit?.({
        batch_id: batchId, tenant_id: tenant, source: 'replay', input_rows: chunk.length, output_rows: out.ack.accepted,
        dlq_rows: out.ack.rejected.length, duplicates: out.ack.duplicates, latency_ms: performance.now() - t0,
        status: out.ack.rejected.length > 0 ? 'partial' : 'ok', started_at_ms: started,
      });
    }
    return r;
  }

  return {
    async list(tenant, q, limit) {
      const page = await readDeadLetters(o.store, tenant, { code: q.code, since: q.since }, limit, q.cursor);
      return { dead_letters: page.dead_letters, next: page.next === null ? null : cursorText(page.next) };
    },
    replay(tenant, req) {
      // One at a time: two replays reading the same unmarked letters would both submit them.
      const run = queue.then(() => replay(tenant, req.code, req.since, req.limit));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
