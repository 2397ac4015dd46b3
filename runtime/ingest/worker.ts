// An ingest worker: frames in (bytes), routed columnar batches out. Parsing and validation are
// the decoder module's (the domain's), routing is the key-group table the main thread shares.
// Per connection the main thread always picks the same worker, and a worker answers its groups
// in order, so events of one connection reach every actor in the order they were sent.
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import { toWire } from '../errors.js';
import { keyGroupOf } from '../keygroups.js';
import type {
  DecodedSink, FrameDecoder, FrameDecoderModule, FrameGroup, FrameVerdict, IngestWorkerInit, RoutedBatch, RoutedGroup,
} from './protocol.js';
import { routedTransferables } from './protocol.js';

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

  /** Exactly-sized copies to transfer; the builder is empty again after. */
  seal(): RoutedBatch {
    const n = this.n;
    const b: RoutedBatch = {
      n,
      kg: this.kg.slice(0, n),
      kind: this.kind.slice(0, n),
      time: this.time.slice(0, n),
      frame: this.frame.slice(0, n),
      index: this.index.slice(0, n),
      packed: JSON.stringify([this.tenant, this.id, this.body]),
    };
    this.n = 0;
    this.tenant = [];
    this.id = [];
    this.body = [];
    return b;
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
  constructor(
    kinds: readonly string[],
    private readonly keyGroups: number,
    private readonly hostOfKg: Uint16Array,
    hosts: number,
  ) {
    kinds.forEach((k, i) => this.kindIndex.set(k, i));
    for (let h = 0; h < hosts; h++) this.builders.push(new HostBuilder());
  }

  push(kind: string, tenant: string, id: string, time: number, body: unknown, index: number): void {
    const k = this.kindIndex.get(kind);
    // A decoder that routes to a kind no actor module defines is a programming error: fail the
    // group loudly rather than drop events.
    if (k === undefined) throw new Error(`decoder routed an event to unknown actor kind ${JSON.stringify(kind)}`);
    const kg = keyGroupOf(tenant, kind, id, this.keyGroups);
    const h = this.hostOfKg[kg]!;
    this.builders[h]!.push(kg, k, tenant, id, time, body, this.frame, index);
    this.mask |= 1 << Math.min(h, 31);
  }
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Decodes and routes one group. Exported for in-process tests. */
export function routeGroup(decoder: FrameDecoder, router: Router, epoch: Int32Array, g: FrameGroup): RoutedGroup {
  // Read the epoch before the table: the main thread bumps it only after rewriting the table,
  // so a group tagged with the current epoch was routed with the current table.
  const routedUnder = Atomics.load(epoch, 0);
  const verdicts: FrameVerdict[] = new Array<FrameVerdict>(g.bytes.length);
  for (let f = 0; f < g.bytes.length; f++) {
    router.frame = f;
    router.mask = 0;
    const v = decoder.decode(utf8(g.bytes[f]!), g.tenant[f]!, g.source[f]!, g.now, router);
    v.hosts = router.mask;
    verdicts[f] = v;
  }
  const batches = router.builders.map((b) => (b.n === 0 ? null : b.seal()));
  return { t: 'routed', group: g.group, epoch: routedUnder, verdicts, batches, notes: decoder.takeNotes?.() ?? null };
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
      for (const b of router.builders) b.seal();
      port.postMessage({ t: 'failed', group: g.group, error: toWire(err) });
      return;
    }
    port.postMessage(out, routedTransferables(out));
  });
  port.postMessage({ t: 'ready' });
}

if (parentPort && (workerData as { decoderModule?: unknown } | undefined)?.decoderModule) void main();
