import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emptyBatch, pushEvent, transferables, type EventBatch } from '../../runtime/batch.js';
import type { EventLog } from '../../runtime/ports.js';

export interface EventLogHarness {
  log: EventLog;
  cleanup?: () => Promise<void>;
}

/** One event as a plain row, so batches compare with toEqual. */
export interface EventRow {
  seq: number;
  kg: number;
  kind: number;
  time: number;
  tenant: string;
  id: string;
  body: unknown;
}
type NewEvent = Omit<EventRow, 'seq'>;

function batchOf(events: readonly NewEvent[], capacity = events.length): EventBatch {
  const b = emptyBatch(capacity);
  for (const e of events) pushEvent(b, e.kg, e.kind, e.tenant, e.id, e.time, e.body);
  return b;
}

function rowsOf(b: EventBatch): EventRow[] {
  const out: EventRow[] = [];
  for (let i = 0; i < b.n; i++) {
    out.push({ seq: b.seq[i]!, kg: b.kg[i]!, kind: b.kind[i]!, time: b.time[i]!, tenant: b.tenant[i]!, id: b.id[i]!, body: b.body[i] });
  }
  return out;
}

const T0 = 1_730_000_000_000;
let counter = 0;
/** Distinct, realistic events: epoch-ms times with a fraction, key groups across the range. */
function events(n: number, tag: string): NewEvent[] {
  const out: NewEvent[] = [];
  for (let i = 0; i < n; i++) {
    const c = counter++;
    out.push({
      kg: (c * 977) % 4096,
      kind: c % 3,
      time: T0 + c * 1000 + 0.25,
      tenant: c % 2 ? 'acme' : 'globex',
      id: `${tag}-${i}`,
      body: { v: c, hr: 60 + (c % 40) },
    });
  }
  return out;
}

const withSeq = (evs: readonly NewEvent[], base: number): EventRow[] => evs.map((e, i) => ({ ...e, seq: base + i }));

/** Reads every event after `afterSeq`, `page` at a time, checking each page's shape. */
async function readAll(log: EventLog, afterSeq: number, page = 1000): Promise<EventRow[]> {
  const out: EventRow[] = [];
  let after = afterSeq;
  for (;;) {
    const b = await log.read(after, page);
    if (b === undefined) return out;
    expect(b.n).toBeGreaterThan(0);
    expect(b.n).toBeLessThanOrEqual(page);
    const rows = rowsOf(b);
    for (const r of rows) {
      expect(r.seq).toBeGreaterThan(after);
      after = r.seq;
    }
    out.push(...rows);
  }
}

/**
 * The EventLog contract (runtime/ports.ts), run against every adapter. `make` returns a fresh,
 * empty log for each test; the suite closes it, then calls `cleanup`.
 */
export function eventLogConformance(name: string, make: () => Promise<EventLogHarness>): void {
  describe(`EventLog conformance: ${name}`, () => {
    let h: EventLogHarness;
    let log: EventLog;
    beforeEach(async () => {
      h = await make();
      log = h.log;
    });
    afterEach(async () => {
      await log.close();
      await h.cleanup?.();
    });

    it('starts empty: head 0, nothing to read', async () => {
      expect(await log.head()).toBe(0);
      expect(await log.read(0, 100)).toBeUndefined();
      expect(typeof log.durable).toBe('boolean');
    });

    it('gives each append a base above every earlier sequence, and event i the sequence base + i', async () => {
      const sizes = [3, 1, 5, 2];
      const sent: EventRow[] = [];
      let last = 0;
      for (const n of sizes) {
        const evs = events(n, `b${n}`);
        const base = await log.append(batchOf(evs));
        expect(Number.isSafeInteger(base)).toBe(true);
        expect(base).toBeGreaterThan(last);
        last = base + n - 1;
        sent.push(...withSeq(evs, base));
      }
      expect(await readAll(log, 0)).toEqual(sent);
    });

    it('reads only the n events of a batch with spare capacity', async () => {
      const evs = events(3, 'spare');
      const base = await log.append(batchOf(evs, 1024));
      expect(await readAll(log, 0)).toEqual(withSeq(evs, base));
      expect(await log.head()).toBe(base + 2);
    });

    it('head tracks the last event appended', async () => {
      const a = await log.append(batchOf(events(4, 'a')));
      expect(await log.head()).toBe(a + 3);
      const b = await log.append(batchOf(events(1, 'b')));
      expect(await log.head()).toBe(b);
    });

    it('read respects maxEvents and an afterSeq in the middle of a batch', async () => {
      const first = events(10, 'first');
      const second = events(5, 'second');
      const a = await log.append(batchOf(first));
      const b = await log.append(batchOf(second));
      const all = [...withSeq(first, a), ...withSeq(second, b)];

      const mid = await log.read(a + 3, 4);
      expect(mid).toBeDefined();
      const midRows = rowsOf(mid!);
      expect(midRows.length).toBeGreaterThanOrEqual(1);
      expect(midRows.length).toBeLessThanOrEqual(4);
      expect(midRows).toEqual(all.slice(4, 4 + midRows.length));

      // Up to maxEvents, possibly fewer: paging one event at a time and across the batch
      // boundary still yields every event once, in order.
      expect(await readAll(log, a + 3, 1)).toEqual(all.slice(4));
      expect(await readAll(log, a + 8, 3)).toEqual(all.slice(9));
      expect(await readAll(log, b + 4, 10)).toEqual([]);
    });

    it('reads nothing past the head', async () => {
      const base = await log.append(batchOf(events(3, 'x')));
      const head = await log.head();
      expect(head).toBe(base + 2);
      expect(await log.read(head, 10)).toBeUndefined();
      expect(await log.read(head + 1000, 10)).toBeUndefined();
    });

    it('pages through a large batch', async () => {
      const evs = events(5000, 'big');
      const base = await log.append(batchOf(evs));
      expect(await readAll(log, 0, 700)).toEqual(withSeq(evs, base));
    });

    it('a repeated dedupId stores nothing and returns the first base', async () => {
      const first = events(3, 'first');
      const base = await log.append(batchOf(first), 'batch-1');
      const head = await log.head();
      // A retry may carry the same events or, after a crash, a rebuilt batch: either way the
      // log keeps what it has.
      expect(await log.append(batchOf(first), 'batch-1')).toBe(base);
      expect(await log.append(batchOf(events(2, 'other')), 'batch-1')).toBe(base);
      expect(await log.head()).toBe(head);
      const next = events(2, 'next');
      const nb = await log.append(batchOf(next), 'batch-2');
      expect(nb).toBeGreaterThan(head);
      expect(await readAll(log, 0)).toEqual([...withSeq(first, base), ...withSeq(next, nb)]);
    });

    it('without a dedupId, the same batch appended twice is stored twice', async () => {
      const evs = events(2, 'twice');
      const a = await log.append(batchOf(evs));
      const b = await log.append(batchOf(evs));
      expect(b).toBeGreaterThan(a + 1);
      expect(await readAll(log, 0)).toEqual([...withSeq(evs, a), ...withSeq(evs, b)]);
    });

    it('trim(seq) never loses an event after seq', async () => {
      const batches = [events(5, 't1'), events(5, 't2'), events(5, 't3')];
      const all: EventRow[] = [];
      for (const evs of batches) all.push(...withSeq(evs, await log.append(batchOf(evs))));
      const cut = all[7]!.seq; // the middle of the second batch
      await log.trim(cut);
      expect(await readAll(log, cut)).toEqual(all.slice(8));
      // Events at or before the cut may be gone or still there, but what is there is intact.
      const fromStart = await readAll(log, 0);
      expect(fromStart.filter((r) => r.seq > cut)).toEqual(all.slice(8));
      for (const r of fromStart) expect(all).toContainEqual(r);

      await log.trim(0);
      expect(await readAll(log, cut)).toEqual(all.slice(8));
      const head = await log.head();
      await log.trim(head);
      expect(await log.read(head, 10)).toBeUndefined();
      expect(await log.head()).toBe(head);
      const more = events(2, 'after-trim');
      const base = await log.append(batchOf(more));
      expect(base).toBeGreaterThan(head);
      expect(await readAll(log, head)).toEqual(withSeq(more, base));
    });

    it('an empty batch does not break sequences or reads', async () => {
      const a = events(2, 'before');
      const ab = await log.append(batchOf(a));
      const e = await log.append(emptyBatch(0));
      expect(Number.isSafeInteger(e)).toBe(true);
      await log.append(emptyBatch(16));
      const b = events(2, 'after');
      const bb = await log.append(batchOf(b));
      expect(bb).toBeGreaterThan(ab + 1);
      expect(await readAll(log, 0)).toEqual([...withSeq(a, ab), ...withSeq(b, bb)]);
      expect(await log.head()).toBe(bb + 1);
    });

    it('concurrent appends get disjoint ranges and all their events are read back', async () => {
      const batches = Array.from({ length: 20 }, (_, i) => events(1 + (i % 7), `c${i}`));
      const bases = await Promise.all(batches.map((evs) => log.append(batchOf(evs))));
      const expected = batches.flatMap((evs, i) => withSeq(evs, bases[i]!)).sort((x, y) => x.seq - y.seq);
      expect(new Set(expected.map((r) => r.seq)).size).toBe(expected.length);
      expect(await readAll(log, 0, 13)).toEqual(expected);
      expect(await log.head()).toBe(expected[expected.length - 1]!.seq);
    });

    it('round-trips every column: unicode, nested bodies, key group and kind ranges', async () => {
      const evs: NewEvent[] = [
        { kg: 0, kind: 0, time: 0, tenant: '', id: '', body: null },
        { kg: 65535, kind: 255, time: T0 + 0.5, tenant: 'hôpital-Zürich', id: '患者-42', body: { a: { b: { c: [1, 2, { d: 'ε' }] } } } },
        { kg: 4095, kind: 7, time: -1, tenant: 'עברית', id: 'emoji-🫀-🩺', body: 'line1\nline2\t"quoted"\\ \u0000 \u2028' },
        { kg: 1, kind: 1, time: 8.64e15, tenant: 't\u001fx', id: 'i', body: [true, false, 0, -0.125, 1e300, '', []] },
        { kg: 2, kind: 2, time: T0, tenant: 'acme', id: 'p', body: { hr: 72, spo2: 97.5, tags: ['a', 'b'], note: 'naïve café ☕' } },
      ];
      const base = await log.append(batchOf(evs));
      expect(await readAll(log, 0)).toEqual(withSeq(evs, base));
    });

    it('keeps its own copy: changing or transferring the appended batch afterwards changes nothing', async () => {
      const evs = events(3, 'mine');
      const batch = batchOf(evs);
      const base = await log.append(batch);
      batch.kg[0] = 9;
      batch.time[1] = 0;
      batch.tenant[2] = 'mutated';
      batch.body[0] = 'replaced';
      batch.n = 1;
      // What a postMessage with a transfer list does to the caller's columns.
      structuredClone(batch, { transfer: transferables(batch) });
      expect(await readAll(log, 0)).toEqual(withSeq(evs, base));
    });

    it('a batch returned by read is the caller\'s to change', async () => {
      const evs = events(3, 'theirs');
      const base = await log.append(batchOf(evs));
      const got = await log.read(0, 10);
      got!.kg.fill(1);
      got!.tenant[0] = 'mutated';
      expect(await readAll(log, 0)).toEqual(withSeq(evs, base));
    });
  });
}
