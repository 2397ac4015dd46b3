// Events cross threads in columns, not as an array of per-event envelope objects: the typed
// columns clone as one memcpy each and cost nothing to build; only `tenant`, `id` and `body`
// go through the structured-clone walk. One batch per host per tick (DESIGN.md decision 1).
import { Buffer } from 'node:buffer';

export interface EventBatch {
  n: number;
  /** Log sequence per event; 0 until the log assigned one. */
  seq: Float64Array;
  kg: Uint32Array;
  /** Index into the runtime's actor-kind table. */
  kind: Uint8Array;
  /** Event time, epoch ms. */
  time: Float64Array;
  tenant: string[];
  id: string[];
  body: unknown[];
  /**
   * When set, `tenant`, `id` and `body` may be empty (until `unpackBatch`) and this JSON text of `[tenant[], id[], body[]]`
   * holds them: an ingest worker's batch crosses the main thread as one value, not a
   * structured-clone walk over every body. Read the columns through `unpackBatch`, the text
   * through `packedText`. An ingest worker's is the text's UTF-8 bytes on shared memory (see
   * ingest/slab.ts): posted without a copy, and never a string on the main thread's heap.
   */
  packed?: Packed;
}

/** The JSON text of `[tenant[], id[], body[]]`, or its UTF-8 bytes (read-only). */
export type Packed = string | Uint8Array;

/** The packed columns as text. */
export function packedText(p: Packed): string {
  if (typeof p === 'string') return p;
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
}

/**
 * Fills `tenant`, `id` and `body` from `packed` (once); returns the batch. `packed` stays, still
 * true, for whoever wants the text (a log append, the analytics tap).
 */
export function unpackBatch(b: EventBatch): EventBatch {
  if (b.packed === undefined || b.tenant.length === b.n) return b;
  const [tenant, id, body] = JSON.parse(packedText(b.packed)) as [string[], string[], unknown[]];
  b.tenant = tenant;
  b.id = id;
  b.body = body;
  return b;
}

export function emptyBatch(capacity: number): EventBatch {
  return {
    n: 0,
    seq: new Float64Array(capacity),
    kg: new Uint32Array(capacity),
    kind: new Uint8Array(capacity),
    time: new Float64Array(capacity),
    tenant: [],
    id: [],
    body: [],
  };
}

export function pushEvent(
  b: EventBatch,
  kg: number,
  kind: number,
  tenant: string,
  id: string,
  time: number,
  body: unknown,
  seq = 0,
): void {
  const i = b.n;
  if (i === b.seq.length) grow(b);
  b.seq[i] = seq;
  b.kg[i] = kg;
  b.kind[i] = kind;
  b.time[i] = time;
  b.tenant.push(tenant);
  b.id.push(id);
  b.body.push(body);
  b.n = i + 1;
}

function grow(b: EventBatch): void {
  const cap = Math.max(16, b.seq.length * 2);
  const seq = new Float64Array(cap);
  seq.set(b.seq);
  const kg = new Uint32Array(cap);
  kg.set(b.kg);
  const kind = new Uint8Array(cap);
  kind.set(b.kind);
  const time = new Float64Array(cap);
  time.set(b.time);
  b.seq = seq;
  b.kg = kg;
  b.kind = kind;
  b.time = time;
}

/** Copies the first `n` rows into exactly-sized columns, ready to transfer. */
export function sealBatch(b: EventBatch): EventBatch {
  return {
    n: b.n,
    seq: b.seq.slice(0, b.n),
    kg: b.kg.slice(0, b.n),
    kind: b.kind.slice(0, b.n),
    time: b.time.slice(0, b.n),
    tenant: b.tenant,
    id: b.id,
    body: b.body,
  };
}

/**
 * Empties a builder after `sealBatch` for reuse: the sealed batch holds copies of the typed
 * columns (kept here, no 40+ KB of fresh zeroed columns per flush) and the builder's string and
 * body arrays themselves (replaced here).
 */
export function resetBuilder(b: EventBatch): void {
  b.n = 0;
  b.tenant = [];
  b.id = [];
  b.body = [];
}

export function assignSeq(b: EventBatch, base: number): void {
  for (let i = 0; i < b.n; i++) b.seq[i] = base + i;
}

/** The typed columns of a sealed batch, for a postMessage transfer list. */
export function transferables(b: EventBatch): ArrayBuffer[] {
  return [b.seq.buffer, b.kg.buffer, b.kind.buffer, b.time.buffer] as ArrayBuffer[];
}
