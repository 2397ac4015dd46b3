/**
 * The durable EventLog on NATS JetStream (DESIGN.md decisions 1 and 5).
 *
 * One JetStream message per appended EventBatch, so a 100-event batch costs one publish and one
 * PubAck (decision 1: ~22 k msgs/s one event per message, ~1.5 M events/s at 100 per message).
 *
 * Sequence mapping. Event `i` of the message with stream sequence `S` has log sequence
 * `S * SEQ_STRIDE + i`, SEQ_STRIDE = 2^16 = 65536 events per message at most. Stream sequences
 * increase by one per stored message, so log sequences strictly increase across appends, an
 * append's base is `S * SEQ_STRIDE`, and the message holding log sequence `q` is
 * `floor(q / SEQ_STRIDE)` — reads and trims need no index. 2^16 (not 4096): the EventLog
 * contract makes one append atomic whatever its size (the conformance suite appends 5000 events
 * in one batch), and a NATS message (1 MiB max_payload by default) cannot hold 65536 events of
 * any realistic size anyway. Safe-integer horizon: 2^53 / 2^16 = 2^37 ≈ 1.4e11 messages, about
 * 200 years at 22 k messages/s.
 *
 * Subjects. `${subjectPrefix}.p.<partition>` with partition = key group % partitions (default 64)
 * when every event of the batch is in one partition, else `${subjectPrefix}.p.mixed`; the stream
 * captures `${subjectPrefix}.p.*`. Partitions rather than one subject per key group (4096): the
 * stream keeps per-subject state (subject index, dedup and `last_by_subj` lookups, consumer
 * filters), and a consumer that wants its shards' events filters on a handful of subjects; 64
 * subjects is enough to split the log between shard hosts without a subject per key group. The
 * runtime appends one batch per host per tick, which spans many key groups, so most of today's
 * batches are `mixed`; reads here never filter by partition. (Shards own contiguous key-group
 * ranges; `floor(kg * partitions / keyGroups)` would map a shard onto few partitions, where the
 * modulo spreads it over all of them. Changing it later only changes new messages' subjects.)
 *
 * Encoding (see encodeBatch): 'VGL' + version byte, event count (u32 LE), then the typed
 * columns as raw little-endian bytes (time f64, kg u32, kind u8; a memcpy each), then one UTF-8
 * JSON array `[tenant[], id[], body[]]`. The `seq` column is not stored: it follows from the
 * message's stream sequence.
 *
 * Reads use direct get (`$JS.API.DIRECT.GET`, allow_direct on the stream): the first message by
 * `next_by_subj` from `floor(afterSeq / SEQ_STRIDE)` (stepping over purged ones), the rest by
 * exact sequence with up to 16 requests in flight, one round trip per message, never per event.
 *
 * Timeouts. Every call is bounded by `timeoutMs` (default 3 s) and fails with VigilError
 * `store_unavailable`. The connection the log opens reconnects forever; the nats client drops
 * what is published while it is disconnected, so a call made then waits for the reconnect
 * within the same budget rather than sending into the void.
 *
 * Dedup. `append(batch, dedupId)` publishes with `Nats-Msg-Id: dedupId`; within the stream's
 * duplicate window (default 2 min, kept across a server restart) a second publish stores nothing
 * and its PubAck carries the first message's sequence, so it returns the first append's base.
 * An append that failed (timed out against a hung or dying server) may still have been stored:
 * retry it with the same dedupId (decision 5, effectively once).
 *
 * Trim. `trim(seq)` purges only messages whose every event is <= seq, and never the newest
 * message: `head()` reads that message's event count.
 */
import { endianness } from 'node:os';
import {
  connect,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import type { EventBatch } from '../../runtime/batch.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { EventLog } from '../../runtime/ports.js';
import { ConnectionGuard, errorText } from './guard.js';

/** Log sequences per stream message: event i of message S is S * SEQ_STRIDE + i. */
export const SEQ_STRIDE = 65_536;
/** The most events one append may carry (one message). */
export const MAX_EVENTS_PER_APPEND = SEQ_STRIDE;
export const DEFAULT_PARTITIONS = 64;
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
export const DEFAULT_TIMEOUT_MS = 3000;

export interface JetStreamEventLogOptions {
  /** Server URL(s) to connect to; the log owns (and on close drains) that connection. */
  servers?: string | string[];
  /** Or an existing connection, left open by close(). */
  nc?: NatsConnection;
  /** Stream name; created (file storage) if missing, else bound to. */
  stream: string;
  /** Subjects are `${subjectPrefix}.p.<partition>` and `${subjectPrefix}.p.mixed`. */
  subjectPrefix: string;
  /** Key-group partitions, each its own subject: partition = kg % partitions. Default 64. */
  partitions?: number;
  /** Stream replicas when the stream is created; more than 1 needs a JetStream cluster. */
  replicas?: number;
  /** Stream size limit when created; a full stream rejects appends (discard new) until trimmed. */
  maxBytes?: number;
  /** Nats-Msg-Id dedup window when the stream is created. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** Bound on every publish and API request (a publish while NATS is down rejects after it). */
  timeoutMs?: number;
}

/** One decoded message. */
interface Decoded {
  n: number;
  time: Float64Array;
  kg: Uint32Array;
  kind: Uint8Array;
  tenant: string[];
  id: string[];
  body: unknown[];
}

// ---------------------------------------------------------------------------------------------
// Encoding: one message = [magic 'VGL' + version 1][n: u32 LE][time: n x f64 LE][kg: n x u32 LE]
// [kind: n x u8][UTF-8 JSON [tenant[], id[], body[]]]. The typed columns are copied as bytes (a
// memcpy each on little-endian hosts), the string/body columns take one JSON.stringify.

const MAGIC = [0x56, 0x47, 0x4c, 0x01] as const;
const HEADER_BYTES = 8;
const FIXED_BYTES_PER_EVENT = 8 + 4 + 1;
const LITTLE_ENDIAN = endianness() === 'LE';

function firstN<T>(a: T[], n: number): T[] {
  return a.length === n ? a : a.slice(0, n);
}

/** Encodes the first `batch.n` events of a batch (its `seq` column is not stored). */
export function encodeBatch(batch: EventBatch): Uint8Array {
  const n = batch.n;
  // A packed batch (from an ingest worker) is already this very text, or its UTF-8 bytes: no stringify on main.
  const packed = batch.packed;
  const json = packed === undefined ? JSON.stringify([firstN(batch.tenant, n), firstN(batch.id, n), firstN(batch.body, n)]) : packed;
  const fixed = HEADER_BYTES + n * FIXED_BYTES_PER_EVENT;
  const out = Buffer.allocUnsafe(fixed + (typeof json === 'string' ? Buffer.byteLength(json, 'utf8') : json.byteLength));
  out.set(MAGIC, 0);
  out.writeUInt32LE(n, 4);
  let off = HEADER_BYTES;
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(batch.time.buffer, batch.time.byteOffset, n * 8), off);
    off += n * 8;
    out.set(new Uint8Array(batch.kg.buffer, batch.kg.byteOffset, n * 4), off);
    off += n * 4;
  } else {
    for (let i = 0; i < n; i++, off += 8) out.writeDoubleLE(batch.time[i]!, off);
    for (let i = 0; i < n; i++, off += 4) out.writeUInt32LE(batch.kg[i]!, off);
  }
  out.set(new Uint8Array(batch.kind.buffer, batch.kind.byteOffset, n), off);
  off += n;
  if (typeof json === 'string') out.write(json, off, 'utf8');
  else out.set(json, off);
  return out;
}

function corrupt(why: string): VigilError {
  return new VigilError(ErrorCode.Internal, `jetstream event log: undecodable message (${why})`);
}

/** The event count of an encoded message, without decoding it. */
export function encodedCount(data: Uint8Array): number {
  if (data.length < HEADER_BYTES || MAGIC.some((b, i) => data[i] !== b)) throw corrupt('bad magic');
  return (data[4]! | (data[5]! << 8) | (data[6]! << 16)) + data[7]! * 0x1000000;
}

export function decodeBatch(data: Uint8Array): Decoded {
  const n = encodedCount(data);
  const fixed = HEADER_BYTES + n * FIXED_BYTES_PER_EVENT;
  if (data.length < fixed) throw corrupt(`${data.length} bytes for ${n} events`);
  const time = new Float64Array(n);
  const kg = new Uint32Array(n);
  let off = HEADER_BYTES;
  if (LITTLE_ENDIAN) {
    // Copy through byte views: the payload is not necessarily 8-byte aligned in its buffer.
    new Uint8Array(time.buffer).set(data.subarray(off, off + n * 8));
    off += n * 8;
    new Uint8Array(kg.buffer).set(data.subarray(off, off + n * 4));
    off += n * 4;
  } else {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < n; i++, off += 8) time[i] = view.getFloat64(off, true);
    for (let i = 0; i < n; i++, off += 4) kg[i] = view.getUint32(off, true);
  }
  const kind = data.slice(off, off + n);
  off += n;
  let cols: unknown;
  try {
    cols = JSON.parse(Buffer.from(data.buffer, data.byteOffset + off, data.length - off).toString('utf8'));
  } catch (err) {
    throw new VigilError(ErrorCode.Internal, 'jetstream event log: undecodable message (bad JSON)', { cause: err });
  }
  if (!Array.isArray(cols) || cols.length !== 3) throw corrupt('bad columns');
  const [tenant, id, body] = cols as unknown[][];
  if (!Array.isArray(tenant) || !Array.isArray(id) || !Array.isArray(body) || tenant.length !== n || id.length !== n || body.length !== n) {
    throw corrupt('column lengths');
  }
  return { n, time, kg, kind, tenant: tenant as string[], id: id as string[], body };
}

// ---------------------------------------------------------------------------------------------

function unavailable(op: string, err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return new VigilError(ErrorCode.StoreUnavailable, `jetstream event log: ${op} failed: ${errorText(err)}`, { cause: err });
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { code?: unknown; err_code?: unknown } } | null;
  return e !== null && typeof e === 'object' && (String(e.code) === '404' || e.api_error?.code === 404);
}

const STREAM_NOT_FOUND = 10059;

function isStreamNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: unknown } } | null;
  return e !== null && typeof e === 'object' && e.api_error?.err_code === STREAM_NOT_FOUND;
}

function invalid(what: string, rule: string, got: unknown): never {
  throw new VigilError(ErrorCode.InvalidOption, `JetStreamEventLog: ${what} ${rule}; got ${JSON.stringify(got)}`);
}

const TOKEN = /^[^\s.*>]+$/;

/**
 * Direct get (any replica answers, the payload comes back raw rather than base64 in JSON). The
 * nats 2.x client implements it as `jsm.direct` but leaves it off the JetStreamManager type.
 */
interface DirectGet {
  getMessage(stream: string, query: { seq: number } | { seq: number; next_by_subj: string }): Promise<StoredMsg>;
}

/** Messages fetched ahead of need when a read spans several messages. */
const MAX_READ_AHEAD = 16;
/** Remembered event counts per stream sequence (skip fully read messages, answer head()). */
const COUNT_CACHE = 4096;

export class JetStreamEventLog implements EventLog {
  readonly durable = true;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly partitions: number;
  private readonly subjects: string[];
  private readonly mixedSubject: string;
  private readonly filter: string;
  private readonly counts = new Map<number, number>();
  private readonly direct: DirectGet;
  private closed = false;
  private readonly guard: ConnectionGuard;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly ownsConnection: boolean,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    opts: Required<Pick<JetStreamEventLogOptions, 'stream' | 'subjectPrefix' | 'partitions' | 'timeoutMs'>>,
  ) {
    this.stream = opts.stream;
    this.subjectPrefix = opts.subjectPrefix;
    this.partitions = opts.partitions;
    const direct = (jsm as { direct?: DirectGet }).direct;
    if (direct === undefined) throw new VigilError(ErrorCode.Internal, 'JetStreamEventLog: this nats client has no direct get API');
    this.direct = direct;
    this.filter = `${opts.subjectPrefix}.p.*`;
    this.mixedSubject = `${opts.subjectPrefix}.p.mixed`;
    this.subjects = Array.from({ length: opts.partitions }, (_, p) => `${opts.subjectPrefix}.p.${p}`);
    this.guard = new ConnectionGuard(nc, opts.timeoutMs);
  }

  /** Connects (unless given `nc`), creates or binds the stream, and returns the log. */
  static async open(opts: JetStreamEventLogOptions): Promise<JetStreamEventLog> {
    const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
    const replicas = opts.replicas ?? 1;
    const duplicateWindowMs = opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof opts.stream !== 'string' || !/^[^\s.*>/\\]+$/.test(opts.stream)) {
      invalid('stream', 'must be a non-empty name without whitespace, ".", "*", ">", "/" or "\\"', opts.stream);
    }
    if (typeof opts.subjectPrefix !== 'string' || !opts.subjectPrefix.split('.').every((t) => TOKEN.test(t))) {
      invalid('subjectPrefix', 'must be dot-separated non-empty tokens without whitespace or wildcards', opts.subjectPrefix);
    }
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 4096) {
      invalid('partitions', 'must be an integer in 1..4096', partitions);
    }
    if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > 5) invalid('replicas', 'must be an integer in 1..5', replicas);
    if (!Number.isSafeInteger(duplicateWindowMs) || duplicateWindowMs < 1) {
      invalid('duplicateWindowMs', 'must be a positive integer', duplicateWindowMs);
    }
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) invalid('timeoutMs', 'must be a positive integer', timeoutMs);
    if (opts.maxBytes !== undefined && (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1)) {
      invalid('maxBytes', 'must be a positive integer', opts.maxBytes);
    }
    if ((opts.nc === undefined) === (opts.servers === undefined)) invalid('servers/nc', 'exactly one must be given', null);

    let nc = opts.nc;
    const owns = nc === undefined;
    try {
      nc ??= await connect({
        servers: opts.servers,
        name: `vigil-event-log-${opts.stream}`,
        timeout: timeoutMs,
        // A durable log rides out broker restarts: reconnect forever; every call stays bounded
        // by timeoutMs meanwhile.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 10_000,
      });
    } catch (err) {
      throw unavailable(`connect to ${String(opts.servers)}`, err);
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
      const want: Partial<StreamConfig> = {
        name: opts.stream,
        description: 'Vigil event log: one message per EventBatch',
        subjects: [`${opts.subjectPrefix}.p.*`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: replicas,
        duplicate_window: nanos(duplicateWindowMs),
        allow_direct: true,
        max_bytes: opts.maxBytes ?? -1,
        // Never drop untrimmed events to make room: a full log refuses appends instead.
        discard: DiscardPolicy.New,
      };
      await ensureStream(jsm, want, `${opts.subjectPrefix}.p.*`);
      const js = nc.jetstream({ timeout: timeoutMs });
      return new JetStreamEventLog(nc, owns, js, jsm, { stream: opts.stream, subjectPrefix: opts.subjectPrefix, partitions, timeoutMs });
    } catch (err) {
      // Closing a connection that never got to carry anything: its failure adds nothing to the one thrown.
      if (owns) await nc.close().catch(() => undefined);
      throw unavailable(`open stream ${opts.stream}`, err);
    }
  }

  async append(batch: EventBatch, dedupId?: string): Promise<number> {
    this.ensureOpen();
    const n = batch.n;
    if (n === 0) {
      // Nothing to store: the base the next message would get is above every sequence so far.
      const info = await this.info('append');
      return (info.state.last_seq + 1) * SEQ_STRIDE;
    }
    if (n > MAX_EVENTS_PER_APPEND) {
      throw new VigilError(
        ErrorCode.InvalidOption,
        `JetStreamEventLog: a batch of ${n} events exceeds the ${MAX_EVENTS_PER_APPEND} events one append (one message) may carry; ` +
          'lower the runtime option hostBatchEvents',
      );
    }
    // Encode before the first await: the caller may reuse or transfer the batch afterwards.
    let data: Uint8Array;
    try {
      data = encodeBatch(batch);
    } catch (err) {
      throw new VigilError(ErrorCode.Internal, `JetStreamEventLog: cannot encode the batch: ${errorText(err)}`, { cause: err });
    }
    const maxPayload = this.nc.info?.max_payload;
    if (maxPayload !== undefined && data.length > maxPayload - 512) {
      throw new VigilError(
        ErrorCode.InvalidOption,
        `JetStreamEventLog: a batch of ${n} events encodes to ${data.length} bytes, over the server's max_payload ` +
          `(${maxPayload}); lower the runtime option hostBatchEvents or raise max_payload`,
      );
    }
    const p0 = batch.kg[0]! % this.partitions;
    let subject = this.subjects[p0]!;
    for (let i = 1; i < n; i++) {
      if (batch.kg[i]! % this.partitions !== p0) {
        subject = this.mixedSubject;
        break;
      }
    }
    const ack = await this.call('append', (timeout) =>
      this.js.publish(subject, data, {
        ...(dedupId === undefined ? {} : { msgID: dedupId }),
        timeout,
        expect: { streamName: this.stream },
      }),
    );
    // A duplicate's stored message may hold a different batch: only count what we stored.
    if (!ack.duplicate) this.remember(ack.seq, n);
    if (!Number.isSafeInteger(ack.seq * SEQ_STRIDE + SEQ_STRIDE - 1)) {
      throw new VigilError(ErrorCode.Internal, `JetStreamEventLog: stream sequence ${ack.seq} is past the safe-integer horizon`);
    }
    return ack.seq * SEQ_STRIDE;
  }

  async read(afterSeq: number, maxEvents: number): Promise<EventBatch | undefined> {
    this.ensureOpen();
    const max = Math.floor(maxEvents);
    if (!(max >= 1)) return undefined;
    const after = Math.max(0, Math.floor(afterSeq));
    let start = Math.max(1, Math.floor(after / SEQ_STRIDE));
    const known = this.counts.get(start);
    if (known !== undefined && start * SEQ_STRIDE + known - 1 <= after) start++;

    interface Part {
      base: number;
      d: Decoded;
      from: number;
      to: number;
    }
    const parts: Part[] = [];
    let total = 0;
    let lastCount = 1;
    // Returns true when `max` events are collected.
    const take = (m: StoredMsg): boolean => {
      const count = encodedCount(m.data);
      this.remember(m.seq, count);
      if (count > 0) lastCount = count;
      const base = m.seq * SEQ_STRIDE;
      const from = Math.max(0, after - base + 1);
      if (from >= count) return false;
      const to = Math.min(count, from + (max - total));
      parts.push({ base, d: decodeBatch(m.data), from, to });
      total += to - from;
      return total >= max;
    };

    // The first message by "next at or after", which also steps over purged sequences.
    const first = await this.get(start, true);
    if (first !== undefined && !take(first)) {
      let next = first.seq + 1;
      for (;;) {
        // Then the following ones by exact sequence, several requests in flight.
        const ahead = Math.min(MAX_READ_AHEAD, Math.max(1, Math.ceil((max - total) / lastCount)));
        const got = await Promise.all(Array.from({ length: ahead }, (_, k) => this.get(next + k, false)));
        let done = false;
        let missing = false;
        for (const m of got) {
          if (m === undefined) {
            missing = true;
            break;
          }
          next = m.seq + 1;
          if (take(m)) {
            done = true;
            break;
          }
        }
        if (done) break;
        if (missing) {
          // The end of the stream, a hole, or a message appended between two of the requests
          // above: with something to return, stop here (the next read continues after it);
          // with nothing yet, look for the next message at or after the missing one.
          if (total > 0) break;
          const probe = await this.get(next, true);
          if (probe === undefined) break;
          next = probe.seq + 1;
          if (take(probe)) break;
        }
      }
    }
    if (total === 0) return undefined;

    const out: EventBatch = {
      n: total,
      seq: new Float64Array(total),
      kg: new Uint32Array(total),
      kind: new Uint8Array(total),
      time: new Float64Array(total),
      tenant: new Array<string>(total),
      id: new Array<string>(total),
      body: new Array<unknown>(total),
    };
    let o = 0;
    for (const { base, d, from, to } of parts) {
      out.kg.set(d.kg.subarray(from, to), o);
      out.kind.set(d.kind.subarray(from, to), o);
      out.time.set(d.time.subarray(from, to), o);
      for (let i = from; i < to; i++, o++) {
        out.seq[o] = base + i;
        out.tenant[o] = d.tenant[i]!;
        out.id[o] = d.id[i]!;
        out.body[o] = d.body[i];
      }
    }
    return out;
  }

  async trim(seq: number): Promise<void> {
    this.ensureOpen();
    if (!(seq > 0)) return;
    // Messages below `keep` hold only events <= seq; the message containing seq is kept unless
    // its event count is known and all of them are <= seq.
    let keep = Math.floor(seq / SEQ_STRIDE);
    const known = this.counts.get(keep);
    if (known !== undefined && keep * SEQ_STRIDE + known - 1 <= seq) keep++;
    if (keep <= 1) return;
    const { state } = await this.info('trim');
    // Never the newest message (head() reads its count), and never past it: a purge beyond the
    // last sequence would move the stream's sequences.
    keep = Math.min(keep, state.last_seq);
    if (keep <= state.first_seq) return;
    await this.call('trim', () => this.jsm.streams.purge(this.stream, { seq: keep }));
    for (const s of this.counts.keys()) if (s < keep) this.counts.delete(s);
  }

  async head(): Promise<number> {
    this.ensureOpen();
    const last = (await this.info('head')).state.last_seq;
    if (last === 0) return 0;
    let n = this.counts.get(last);
    if (n === undefined) {
      const m = await this.get(last, false);
      // Gone only if purged from outside: report the most the message could have held.
      if (m === undefined) return last * SEQ_STRIDE + SEQ_STRIDE - 1;
      n = encodedCount(m.data);
      this.remember(last, n);
    }
    return last * SEQ_STRIDE + n - 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.counts.clear();
    this.guard.stop();
    if (this.ownsConnection) await this.guard.closeConnection();
  }

  private ensureOpen(): void {
    if (this.closed) throw new VigilError(ErrorCode.ShuttingDown, `jetstream event log ${this.stream} is closed`);
  }

  /** Runs one request within `timeoutMs` overall, waiting out a reconnect (see ConnectionGuard). */
  private async call<T>(op: string, request: (timeoutMs: number) => Promise<T>): Promise<T> {
    this.ensureOpen();
    try {
      return await this.guard.call(request, () => this.ensureOpen());
    } catch (err) {
      throw unavailable(op, err);
    }
  }

  private remember(seq: number, n: number): void {
    if (this.counts.has(seq)) return;
    this.counts.set(seq, n);
    if (this.counts.size > COUNT_CACHE) this.counts.delete(this.counts.keys().next().value as number);
  }

  private info(op: string): Promise<StreamInfo> {
    return this.call(op, () => this.jsm.streams.info(this.stream));
  }

  /** Direct get by exact sequence, or the next message at or after it; undefined if none. */
  private get(seq: number, orNext: boolean): Promise<StoredMsg | undefined> {
    return this.call('read', async () => {
      try {
        return await this.direct.getMessage(this.stream, orNext ? { seq, next_by_subj: this.filter } : { seq });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
  }
}

/** Creates the stream, or binds to an existing one that captures `filter`. */
async function ensureStream(jsm: JetStreamManager, want: Partial<StreamConfig>, filter: string): Promise<void> {
  const name = want.name!;
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  if (info === undefined) {
    try {
      await jsm.streams.add(want);
      return;
    } catch (err) {
      // Another node may have created it meanwhile (with a different config): bind to it.
      try {
        info = await jsm.streams.info(name);
      } catch {
        throw err;
      }
    }
  }
  const cfg = info.config;
  if (cfg.storage !== StorageType.File) {
    throw new VigilError(ErrorCode.InvalidOption, `JetStreamEventLog: stream ${name} exists with ${cfg.storage} storage, not file`);
  }
  if (!(cfg.subjects ?? []).includes(filter)) {
    throw new VigilError(
      ErrorCode.InvalidOption,
      `JetStreamEventLog: stream ${name} exists but does not capture ${filter} (subjects ${JSON.stringify(cfg.subjects)})`,
    );
  }
  // Reads use direct get; an existing stream without it gets it switched on (a harmless update).
  if (!cfg.allow_direct) await jsm.streams.update(name, { ...cfg, allow_direct: true });
}
