import { emptyBatch, pushEvent, unpackBatch, type EventBatch } from '../../runtime/batch.js';
import type { EventLog } from '../../runtime/ports.js';

interface Chunk {
  base: number;
  batch: EventBatch;
}

/**
 * The embedded log: batches kept on the main thread until every key group's checkpoint has
 * passed them. It survives a worker crash (the main thread holds it) but not the process.
 */
export class MemoryEventLog implements EventLog {
  readonly durable = false;
  private chunks: Chunk[] = [];
  private next = 1;
  private readonly dedup = new Map<string, number>();
  private readonly dedupWindow: number;

  constructor(opts: { dedupWindow?: number } = {}) {
    this.dedupWindow = opts.dedupWindow ?? 100_000;
  }

  async append(batch: EventBatch, dedupId?: string): Promise<number> {
    if (dedupId !== undefined) {
      const seen = this.dedup.get(dedupId);
      if (seen !== undefined) return seen;
    }
    const base = this.next;
    this.next += Math.max(1, batch.n);
    if (batch.n > 0) this.chunks.push({ base, batch: ownCopy(batch) });
    if (dedupId !== undefined) {
      this.dedup.set(dedupId, base);
      if (this.dedup.size > this.dedupWindow) this.dedup.delete(this.dedup.keys().next().value as string);
    }
    return base;
  }

  async read(afterSeq: number, maxEvents: number): Promise<EventBatch | undefined> {
    // Binary search for the first chunk that can hold a sequence > afterSeq.
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.chunks[mid]!;
      if (c.base + c.batch.n - 1 <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= this.chunks.length) return undefined;
    const out = emptyBatch(Math.min(maxEvents, 1024));
    for (let ci = lo; ci < this.chunks.length && out.n < maxEvents; ci++) {
      const { base, batch } = this.chunks[ci]!;
      // Packed batches (from ingest workers) are read back column by column only on a replay.
      const b = unpackBatch(batch);
      for (let i = Math.max(0, afterSeq + 1 - base); i < b.n && out.n < maxEvents; i++) {
        pushEvent(out, b.kg[i]!, b.kind[i]!, b.tenant[i]!, b.id[i]!, b.time[i]!, b.body[i], base + i);
      }
    }
    return out.n > 0 ? out : undefined;
  }

  async trim(seq: number): Promise<void> {
    let k = 0;
    while (k < this.chunks.length && this.chunks[k]!.base + this.chunks[k]!.batch.n - 1 <= seq) k++;
    if (k > 0) this.chunks = this.chunks.slice(k);
  }

  async head(): Promise<number> {
    return this.next - 1;
  }

  /** Events currently retained, for tests and the retained-events gauge. */
  retained(): number {
    let n = 0;
    for (const c of this.chunks) n += c.batch.n;
    return n;
  }

  async close(): Promise<void> {
    this.chunks = [];
  }
}

/**
 * The caller keeps its batch: it may reuse the builder, stamp sequences into it (assignSeq) or
 * transfer its columns to a worker, which detaches them. A durable log serializes on append;
 * this one copies. Bodies are shared, not cloned: past the edge they are trusted, never-mutated
 * plain data (DESIGN.md decision 7), and cloning them would cost more than the whole append.
 */
function ownCopy(b: EventBatch): EventBatch {
  const n = b.n;
  return {
    n,
    seq: b.seq.slice(0, n),
    kg: b.kg.slice(0, n),
    kind: b.kind.slice(0, n),
    time: b.time.slice(0, n),
    tenant: b.tenant.slice(0, n),
    id: b.id.slice(0, n),
    body: b.body.slice(0, n),
    ...(b.packed === undefined ? {} : { packed: b.packed }),
  };
}
