// What the JetStream EventLog does beyond the EventLog contract: its stream, subjects, sequence
// mapping, trimming, limits and options, on a real `nats-server -js`.
import { randomUUID } from 'node:crypto';
import { connect, nanos, StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DUPLICATE_WINDOW_MS,
  JetStreamEventLog,
  MAX_EVENTS_PER_APPEND,
  SEQ_STRIDE,
  decodeBatch,
  encodeBatch,
  type JetStreamEventLogOptions,
} from '../../adapters/nats/index.js';
import { emptyBatch, pushEvent, type EventBatch } from '../../runtime/batch.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { EventLog } from '../../runtime/ports.js';
import { useNats } from '../harness/servers.js';

const unique = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

let counter = 0;
function batch(n: number, kg?: (i: number) => number, body?: unknown): EventBatch {
  const b = emptyBatch(n);
  for (let i = 0; i < n; i++) {
    const c = counter++;
    pushEvent(b, kg ? kg(i) : (c * 977) % 4096, c % 3, 'acme', `e-${c}`, 1_730_000_000_000 + c, body ?? { v: c });
  }
  return b;
}

interface Row {
  seq: number;
  id: string;
}
const rowsOf = (b: EventBatch, base?: number): Row[] =>
  Array.from({ length: b.n }, (_, i) => ({ seq: base === undefined ? b.seq[i]! : base + i, id: b.id[i]! }));

async function readAll(log: EventLog, after = 0, page = 1000): Promise<Row[]> {
  const out: Row[] = [];
  for (;;) {
    const b = await log.read(after, page);
    if (!b) return out;
    expect(b.n).toBeLessThanOrEqual(page);
    const rows = rowsOf(b);
    out.push(...rows);
    after = rows[rows.length - 1]!.seq;
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<VigilError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe(code);
    return err as VigilError;
  }
  throw new Error(`expected a VigilError ${code}`);
}

describe('JetStreamEventLog', () => {
  const nats = useNats();
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const logs: EventLog[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: nats().url });
    jsm = await nc.jetstreamManager();
  });
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
    for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
  });
  afterAll(async () => {
    await nc?.drain();
  });

  const names = (): { stream: string; subjectPrefix: string } => {
    const id = unique();
    streams.push(`T_${id}`);
    return { stream: `T_${id}`, subjectPrefix: `t.${id}` };
  };
  const open = async (opts: Partial<JetStreamEventLogOptions> & { stream: string; subjectPrefix: string }): Promise<JetStreamEventLog> => {
    const log = await JetStreamEventLog.open({ nc, ...opts });
    logs.push(log);
    return log;
  };

  it('creates a file-backed stream capturing the partition subjects, with a 2 minute dedup window', async () => {
    const n = names();
    const log = await open(n);
    expect(log.durable).toBe(true);
    const { config } = await jsm.streams.info(n.stream);
    expect(config.storage).toBe(StorageType.File);
    expect(config.subjects).toEqual([`${n.subjectPrefix}.p.*`]);
    expect(config.duplicate_window).toBe(nanos(DEFAULT_DUPLICATE_WINDOW_MS));
    expect(config.allow_direct).toBe(true);
    expect(config.num_replicas).toBe(1);
    expect(log.partitions).toBe(64);

    const custom = names();
    await open({ ...custom, partitions: 8, duplicateWindowMs: 5000, maxBytes: 1 << 20 });
    const info = await jsm.streams.info(custom.stream);
    expect(info.config.duplicate_window).toBe(nanos(5000));
    expect(info.config.max_bytes).toBe(1 << 20);
  });

  it('maps event i of stream message S to S * SEQ_STRIDE + i', async () => {
    const n = names();
    const log = await open(n);
    for (const size of [3, 1, 10]) {
      const b = batch(size);
      const base = await log.append(b);
      const { state } = await jsm.streams.info(n.stream);
      expect(base).toBe(state.last_seq * SEQ_STRIDE);
      expect(await log.head()).toBe(base + size - 1);
    }
    expect(SEQ_STRIDE).toBe(65_536);
    expect(MAX_EVENTS_PER_APPEND).toBe(SEQ_STRIDE);
  });

  it('publishes a one-partition batch on its partition subject and any other on p.mixed', async () => {
    const n = names();
    const log = await open(n);
    const one = await log.append(batch(3, (i) => 5 + 64 * i)); // key groups 5, 69, 133: partition 5
    const mixed = await log.append(batch(3, (i) => i));
    const single = await log.append(batch(1, () => 4095)); // partition 63
    const subjectOf = async (base: number): Promise<string> => (await jsm.streams.getMessage(n.stream, { seq: base / SEQ_STRIDE })).subject;
    expect(await subjectOf(one)).toBe(`${n.subjectPrefix}.p.5`);
    expect(await subjectOf(mixed)).toBe(`${n.subjectPrefix}.p.mixed`);
    expect(await subjectOf(single)).toBe(`${n.subjectPrefix}.p.63`);
  });

  it('stores one message per batch in the documented encoding', async () => {
    const n = names();
    const log = await open(n);
    const b = batch(4);
    const base = await log.append(b, 'enc-1');
    const stored = await jsm.streams.getMessage(n.stream, { seq: base / SEQ_STRIDE });
    expect(stored.header.get('Nats-Msg-Id')).toBe('enc-1');
    expect(Array.from(stored.data.subarray(0, 4))).toEqual([0x56, 0x47, 0x4c, 0x01]);
    const d = decodeBatch(stored.data);
    expect(d.n).toBe(4);
    expect(Array.from(d.kg)).toEqual(Array.from(b.kg.subarray(0, 4)));
    expect(d.id).toEqual(b.id);
    expect(decodeBatch(encodeBatch(b)).body).toEqual(b.body);
    expect((await jsm.streams.info(n.stream)).state.messages).toBe(1);
  });

  it('reads across many messages, from any point, at any page size, in order', async () => {
    const n = names();
    const log = await open(n);
    const batches = Array.from({ length: 120 }, (_, i) => batch(1 + (i % 9)));
    const bases = await Promise.all(batches.map((b) => log.append(b)));
    const all = batches.flatMap((b, i) => rowsOf(b, bases[i])).sort((x, y) => x.seq - y.seq);
    // A fresh instance knows no message sizes: everything comes from the stream.
    const fresh = await open(n);
    for (const page of [1, 7, 50, 8192]) expect(await readAll(fresh, 0, page)).toEqual(all);
    for (const k of [0, 1, 17, 300, all.length - 2]) {
      expect(await readAll(fresh, all[k]!.seq, 13)).toEqual(all.slice(k + 1));
    }
    const head = await fresh.head();
    expect(head).toBe(all[all.length - 1]!.seq);
    expect(await fresh.read(head, 10)).toBeUndefined();
    expect(await log.read(head, 10)).toBeUndefined();
  });

  it('trim purges only messages whose every event is covered, and never the newest one', async () => {
    const n = names();
    const log = await open(n);
    const bases: number[] = [];
    for (let i = 0; i < 5; i++) bases.push(await log.append(batch(3)));
    const seqOf = (base: number): number => base / SEQ_STRIDE;
    const first = async (): Promise<number> => (await jsm.streams.info(n.stream)).state.first_seq;

    await log.trim(bases[2]! + 1); // the middle of the third batch: it stays
    expect(await first()).toBe(seqOf(bases[2]!));
    await log.trim(bases[2]! + 2); // its last event: the log knows its size, so it goes
    expect(await first()).toBe(seqOf(bases[3]!));

    // An instance that never saw the sizes keeps the message holding the cut.
    const fresh = await open(n);
    await fresh.trim(bases[3]! + 2);
    expect(await first()).toBe(seqOf(bases[3]!));

    const head = await log.head();
    await fresh.trim(head + 10 * SEQ_STRIDE);
    const { state } = await jsm.streams.info(n.stream);
    expect(state.messages).toBe(1);
    expect(state.first_seq).toBe(seqOf(bases[4]!));
    expect(state.last_seq).toBe(seqOf(bases[4]!));
    expect(await fresh.head()).toBe(head);
    expect(await fresh.read(head, 10)).toBeUndefined();
    const next = await fresh.append(batch(2));
    expect(next).toBe(head - 2 + SEQ_STRIDE);
  });

  it('refuses a batch over the per-message limits, clearly, storing nothing', async () => {
    const n = names();
    const log = await open(n);
    const tooMany = emptyBatch(1);
    tooMany.n = MAX_EVENTS_PER_APPEND + 1; // only n is read before the check
    const e1 = await rejects(log.append(tooMany), ErrorCode.InvalidOption);
    expect(e1.message).toMatch(/65536 events/);
    const e2 = await rejects(log.append(batch(1, undefined, 'x'.repeat(2 << 20))), ErrorCode.InvalidOption);
    expect(e2.message).toMatch(/max_payload/);
    expect(await log.head()).toBe(0);
  });

  it('a full stream (maxBytes) refuses appends instead of dropping untrimmed events', async () => {
    const n = names();
    const log = await open({ ...n, maxBytes: 64 * 1024 });
    const body = { pad: 'p'.repeat(1000) };
    let last = 0;
    let err: unknown;
    for (let i = 0; i < 200 && err === undefined; i++) {
      try {
        last = await log.append(batch(5, undefined, body));
      } catch (e) {
        err = e;
      }
    }
    expect(err).toBeInstanceOf(VigilError);
    expect((err as VigilError).code).toBe(ErrorCode.StoreUnavailable);
    const all = await readAll(log);
    expect(all[0]!.seq).toBe(SEQ_STRIDE); // nothing was dropped from the front
    await log.trim(last + 4);
    expect(await log.append(batch(5, undefined, body))).toBeGreaterThan(last);
  });

  it('binds to an existing stream, switching on direct get; refuses one that does not fit', async () => {
    const n = names();
    await jsm.streams.add({ name: n.stream, subjects: [`${n.subjectPrefix}.p.*`], storage: StorageType.File });
    const log = await open(n);
    expect((await jsm.streams.info(n.stream)).config.allow_direct).toBe(true);
    const b = batch(2);
    const base = await log.append(b);
    expect(await readAll(await open(n))).toEqual(rowsOf(b, base));

    const other = names();
    await jsm.streams.add({ name: other.stream, subjects: [`${other.subjectPrefix}.elsewhere`], storage: StorageType.File });
    await rejects(open(other), ErrorCode.InvalidOption);
    const mem = names();
    await jsm.streams.add({ name: mem.stream, subjects: [`${mem.subjectPrefix}.p.*`], storage: StorageType.Memory });
    await rejects(open(mem), ErrorCode.InvalidOption);
  });

  it('validates its options', async () => {
    const ok = { nc, stream: 'S', subjectPrefix: 'a.b' };
    await rejects(JetStreamEventLog.open({ ...ok, stream: 'a.b' }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ ...ok, subjectPrefix: 'a.*' }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ ...ok, subjectPrefix: 'a..b' }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ ...ok, partitions: 0 }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ ...ok, servers: nats().url }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ stream: 'S', subjectPrefix: 'a' }), ErrorCode.InvalidOption);
    await rejects(JetStreamEventLog.open({ ...ok, timeoutMs: 0 }), ErrorCode.InvalidOption);
  });

  it('close leaves a shared connection open and refuses later calls', async () => {
    const n = names();
    const log = await JetStreamEventLog.open({ nc, ...n });
    await log.append(batch(1));
    await log.close();
    await log.close();
    expect(nc.isClosed()).toBe(false);
    await rejects(log.append(batch(1)), ErrorCode.ShuttingDown);
    await rejects(log.read(0, 1), ErrorCode.ShuttingDown);

    const owned = await JetStreamEventLog.open({ servers: nats().url, ...n });
    expect((await readAll(owned)).length).toBe(1);
    await owned.close();
  });
});
