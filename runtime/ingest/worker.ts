// An ingest worker: frames in (bytes), routed columnar batches out. Parsing and validation are
// the decoder module's (the domain's), routing is the key-group table the main thread shares.
// Per connection the main thread always picks the same worker, and a worker answers its groups
// in order, so events of one connection reach every actor in the order they were sent.
//
// What one frame holds can fail only that frame (or that event), never the group: a group carries
// frames of many connections, and failing it would answer all of them `unavailable` (retry), so a
// frame that always fails would fail everyone else's frames on every retry.
import { Buffer, isUtf8 } from 'node:buffer';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { toWire } from '../errors.js';
import { keyGroupOf } from '../keygroups.js';
import type {
  DecodedSink, FrameDecoder, FrameDecoderModule, FrameGroup, FrameVerdict, IngestWorkerInit, RoutedBatch, RoutedGroup,
} from './protocol.js';
import { routedTransferables } from './protocol.js';
import { SharedSlab } from './slab.js';

/** Codes of the refusals the worker decides itself, around the decoder. */
export const WorkerCode = {
  /** The frame's bytes are not UTF-8 (HTTP 400; a WebSocket closes with 1007). */
  InvalidUtf8: 'invalid_utf8',
  /** The decoder threw on the frame: a bug, answered for that frame alone (HTTP 500). */
  Internal: 'internal',
  /** An accepted event that could not be encoded for the log: refused alone. */
  Unencodable: 'invalid_value',
} as const;

/**
 * Optional decoder methods for the refusals the worker decides, so their dead letters come in the
 * decoder's own shape; without them those refusals carry no dead letter.
 */
export interface WorkerRefusals {
  refuseFrame(code: string, message: string, status: number, text: string, tenant: string, source: string, now: number): FrameVerdict;
  eventLetter(index: number, code: string, message: string, tenant: string, source: string, now: number): unknown;
}

/** Bytes of an unreadable frame decoded (leniently) for its dead letter. */
const LETTER_BYTES = 65536;

/** This worker's shared memory for the packed columns of the batches it seals. */
const slab = new SharedSlab();

/** Events a builder dropped because they could not be encoded, as [frame, index, reason]. */
type Dropped = [number, number, string][];

/** One host's events of the group being decoded; columns reused from group to group. */
class HostBuilder {
  n = 0;
  kg = new Uint32Array(256);
  kind = new Uint8Array(256);
  time = new Float64Array(256);
  frame = new Uint32Array(256);
  index = new Uint32Array(256);
  tenant: string[] = [];
  id: string[] = [];
  body: unknown[] = [];

  push(kg: number, kind: number, tenant: string, id: string, time: number, body: unknown, frame: number, index: number): void {
    const i = this.n;
    if (i === this.kg.length) this.grow();
    this.kg[i] = kg;
    this.kind[i] = kind;
    this.time[i] = time;
    this.frame[i] = frame;
    this.index[i] = index;
    this.tenant.push(tenant);
    this.id.push(id);
    this.body.push(body);
    this.n = i + 1;
  }

  private grow(): void {
    const cap = this.kg.length * 2;
    const g = <T extends Uint32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a as never);
      return b;
    };
    this.kg = g(this.kg, (n) => new Uint32Array(n));
    this.kind = g(this.kind, (n) => new Uint8Array(n));
    this.time = g(this.time, (n) => new Float64Array(n));
    this.frame = g(this.frame, (n) => new Uint32Array(n));
    this.index = g(this.index, (n) => new Uint32Array(n));
  }

  /** Forgets the events pushed since the builder held `n` (a frame that failed half-way). */
  truncate(n: number): void {
    this.n = n;
    this.tenant.length = n;
    this.id.length = n;
    this.body.length = n;
  }

  reset(): void {
    this.n = 0;
    this.tenant = [];
    this.id = [];
    this.body = [];
  }

  /**
   * Exactly-sized copies to transfer; the builder is empty again after. An event that cannot be
   * encoded is left out and reported in `dropped`; null when none is left.
   */
  seal(dropped: Dropped): RoutedBatch | null {
    let text: string;
    try {
      text = JSON.stringify([this.tenant, this.id, this.body]);
    } catch {
      // The decoder bounds what it accepts, so this is the last line: find the event(s) alone.
      text = this.packEach(dropped);
    }
    const packed = slab.encode(text);
    const n = this.n;
    const b: RoutedBatch | null = n === 0 ? null : {
      n,
      kg: this.kg.slice(0, n),
      kind: this.kind.slice(0, n),
      time: this.time.slice(0, n),
      frame: this.frame.slice(0, n),
      index: this.index.slice(0, n),
      packed,
    };
    this.reset();
    return b;
  }

  /** The packed text event by event (the same text JSON.stringify gives), without the ones that fail. */
  private packEach(dropped: Dropped): string {
    const bodies: string[] = [];
    let k = 0;
    for (let i = 0; i < this.n; i++) {
      let text: string | undefined;
      try {
        text = JSON.stringify(this.body[i]);
      } catch (err) {
        dropped.push([this.frame[i]!, this.index[i]!, `the event cannot be encoded: ${(err as Error)?.message ?? String(err)}`]);
        continue;
      }
      bodies.push(text ?? 'null');
      if (k !== i) {
        this.kg[k] = this.kg[i]!;
        this.kind[k] = this.kind[i]!;
        this.time[k] = this.time[i]!;
        this.frame[k] = this.frame[i]!;
        this.index[k] = this.index[i]!;
        this.tenant[k] = this.tenant[i]!;
        this.id[k] = this.id[i]!;
      }
      k++;
    }
    this.n = k;
    this.tenant.length = k;
    this.id.length = k;
    return `[${JSON.stringify(this.tenant)},${JSON.stringify(this.id)},[${bodies.join(',')}]]`;
  }
}

/**
 * Routes what the decoder accepts. One instance per worker; `frame` is rewritten before each
 * frame so the sink is not a closure per frame.
 */
class Router implements DecodedSink {
  frame = 0;
  /** Bit h set: the current frame sent an event to host h (hosts beyond 31 share bit 31). */
  mask = 0;
  private readonly kindIndex = new Map<string, number>();
  readonly builders: HostBuilder[] = [];
  /** Each builder's size before the current frame. */
  private readonly marks: Uint32Array;
  constructor(
    kinds: readonly string[],
    private readonly keyGroups: number,
    private readonly hostOfKg: Uint16Array,
    hosts: number,
  ) {
    kinds.forEach((k, i) => this.kindIndex.set(k, i));
    for (let h = 0; h < hosts; h++) this.builders.push(new HostBuilder());
    this.marks = new Uint32Array(hosts);
  }

  /** Before frame `f`: where to roll back to if it fails. */
  begin(f: number): void {
    this.frame = f;
    this.mask = 0;
    const b = this.builders;
    for (let h = 0; h < b.length; h++) this.marks[h] = b[h]!.n;
  }

  /** Takes back every event the current frame pushed. */
  rollback(): void {
    const b = this.builders;
    for (let h = 0; h < b.length; h++) b[h]!.truncate(this.marks[h]!);
    this.mask = 0;
  }

  push(kind: string, tenant: string, id: string, time: number, body: unknown, index: number): void {
    const k = this.kindIndex.get(kind);
    // A decoder that routes to a kind no actor module defines is a programming error: fail the
    // frame loudly (refused `internal`) rather than drop events.
    if (k === undefined) throw new Error(`decoder routed an event to unknown actor kind ${JSON.stringify(kind)}`);
    const kg = keyGroupOf(tenant, kind, id, this.keyGroups);
    const h = this.hostOfKg[kg]!;
    this.builders[h]!.push(kg, k, tenant, id, time, body, this.frame, index);
    this.mask |= 1 << Math.min(h, 31);
  }
}

/** The frame's text, or null when its bytes are not UTF-8 (lenient decoding would merge ids). */
export function utf8(bytes: Uint8Array): string | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Validation (simdutf) is a small fraction of the decode; TextDecoder's fatal mode costs more.
  return isUtf8(b) ? b.toString('utf8') : null;
}

function refusalsOf(decoder: FrameDecoder): WorkerRefusals | null {
  const d = decoder as Partial<WorkerRefusals>;
  return typeof d.refuseFrame === 'function' && typeof d.eventLetter === 'function' ? (d as WorkerRefusals) : null;
}

function refuseFrame(decoder: FrameDecoder, code: string, message: string, status: number, bytes: Uint8Array, g: FrameGroup, f: number): FrameVerdict {
  const r = refusalsOf(decoder);
  if (r !== null) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, LETTER_BYTES)).toString('utf8');
    return r.refuseFrame(code, message, status, text, g.tenant[f]!, g.source[f]!, g.now);
  }
  return { batchId: null, items: 0, rejected: [{ index: null, event_id: null, code, message }], frameStatus: status, deadLetters: null, hosts: 0 };
}

/** Event `index` of frame `f` refused after routing: into its verdict, in input order. */
function refuseEvent(decoder: FrameDecoder, v: FrameVerdict, g: FrameGroup, f: number, index: number, message: string): void {
  const code = WorkerCode.Unencodable;
  const rejected = (v.rejected ??= []);
  let at = rejected.length;
  while (at > 0 && (rejected[at - 1]!.index ?? -1) > index) at--;
  rejected.splice(at, 0, { index, event_id: null, code, message });
  const letter = refusalsOf(decoder)?.eventLetter(index, code, message, g.tenant[f]!, g.source[f]!, g.now);
  if (letter !== undefined) (v.deadLetters ??= []).push(letter);
}

/** Decodes and routes one group. Exported for in-process tests. */
export function routeGroup(decoder: FrameDecoder, router: Router, epoch: Int32Array, g: FrameGroup): RoutedGroup {
  // Read the epoch before the table: the main thread bumps it only after rewriting the table,
  // so a group tagged with the current epoch was routed with the current table.
  const routedUnder = Atomics.load(epoch, 0);
  const verdicts: FrameVerdict[] = new Array<FrameVerdict>(g.bytes.length);
  for (let f = 0; f < g.bytes.length; f++) {
    router.begin(f);
    const bytes = g.bytes[f]!;
    const text = utf8(bytes);
    let v: FrameVerdict;
    if (text === null) v = refuseFrame(decoder, WorkerCode.InvalidUtf8, 'frame is not valid UTF-8', 400, bytes, g, f);
    else {
      try {
        v = decoder.decode(text, g.tenant[f]!, g.source[f]!, g.now, router);
      } catch (err) {
        router.rollback();
        v = refuseFrame(decoder, WorkerCode.Internal, `the frame could not be decoded: ${(err as Error)?.message ?? String(err)}`, 500, bytes, g, f);
      }
    }
    v.hosts = router.mask;
    verdicts[f] = v;
  }
  const dropped: Dropped = [];
  const batches = router.builders.map((b) => (b.n === 0 ? null : b.seal(dropped)));
  for (const [f, index, message] of dropped) refuseEvent(decoder, verdicts[f]!, g, f, index, message);
  return { t: 'routed', group: g.group, epoch: routedUnder, verdicts, batches, notes: decoder.takeNotes?.() ?? null };
}

/**
 * Posts a routed group (exported for tests). A dead letter that cannot be cloned (the decoder bounds what they carry,
 * so this is the last line) costs its frame's dead letters, not the group's acks.
 */
export function postRouted(port: MessagePort, out: RoutedGroup): void {
  try {
    port.postMessage(out, routedTransferables(out));
    return;
  } catch {
    for (const v of out.verdicts) {
      if (v.deadLetters === null) continue;
      try {
        structuredClone(v.deadLetters);
      } catch {
        v.deadLetters = null;
      }
    }
  }
  try {
    port.postMessage(out, routedTransferables(out));
  } catch (err) {
    port.postMessage({ t: 'failed', group: out.group, error: toWire(err) });
  }
}

export { Router };

async function main(): Promise<void> {
  const init = workerData as IngestWorkerInit;
  const port = parentPort!;
  const mod = (await import(init.decoderModule)) as FrameDecoderModule;
  const decoder = await mod.createDecoder(init.decoderConfig);
  const router = new Router(init.kinds, init.keyGroups, new Uint16Array(init.hostOfKg), init.hosts);
  const epoch = new Int32Array(init.routeEpoch);
  port.on('message', (g: FrameGroup) => {
    let out: RoutedGroup;
    try {
      out = routeGroup(decoder, router, epoch, g);
    } catch (err) {
      for (const b of router.builders) b.reset();
      port.postMessage({ t: 'failed', group: g.group, error: toWire(err) });
      return;
    }
    postRouted(port, out);
  });
  port.postMessage({ t: 'ready' });
}

if (parentPort && (workerData as { decoderModule?: unknown } | undefined)?.decoderModule) void main();
