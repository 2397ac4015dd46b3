// The main-thread half of the ingest workers: frames are queued per worker during a loop turn and
// leave together when the turn ends, one postMessage per worker with the bytes transferred. The
// caller's per-frame context stays here, in the order the frames were sent; a worker answers its
// groups in order, so the head of its queue is always the group that just came back.
import { Worker } from 'node:worker_threads';
import { ErrorCode, VigilError, fromWire } from '../errors.js';
import type { FrameGroup, FromIngest, IngestWorkerInit, RoutedGroup } from './protocol.js';

/** What every worker is started with (its id aside), and how the pool schedules and reads time. */
export interface IngestPoolOptions extends Omit<IngestWorkerInit, 'workerId'> {
  workers: number;
  /** Runs `fn` once the current loop turn's I/O callbacks are done (setImmediate). */
  defer: (fn: () => void) => void;
  now: () => number;
}

export interface IngestPoolHandlers<C> {
  /** A group came back routed; `contexts[i]` belongs to `group.verdicts[i]`. */
  routed(group: RoutedGroup, contexts: C[]): void;
  /** A group could not be decoded (a decoder bug or a dead worker): every frame in it fails. */
  failed(contexts: C[], err: VigilError): void;
}

interface Pending<C> {
  group: number;
  contexts: C[];
}

class Lane<C> {
  worker: Worker | null = null;
  ready: Promise<void> | null = null;
  tenant: string[] = [];
  source: string[] = [];
  bytes: Uint8Array[] = [];
  contexts: C[] = [];
  /** Groups sent and not yet answered, oldest first. */
  sent: Pending<C>[] = [];
  sentHead = 0;
  frames = 0;
}

function workerUrl(): URL {
  // From TypeScript sources (vitest) the worker must still be compiled JavaScript: a worker thread
  // has no TypeScript loader. `npm run build` produces dist/.
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('../../dist/runtime/ingest/worker.js', here);
  return new URL('./worker.js', here);
}

export class IngestPool<C> {
  private readonly lanes: Lane<C>[] = [];
  private nextGroup = 1;
  private flushScheduled = false;
  private closed = false;
  /** Frames handed to workers and not answered yet: the front-end's backpressure reads it. */
  inFlight = 0;

  constructor(
    private readonly options: IngestPoolOptions,
    private readonly handlers: IngestPoolHandlers<C>,
  ) {
    for (let i = 0; i < options.workers; i++) this.lanes.push(new Lane<C>());
  }

  get workers(): number {
    return this.lanes.length;
  }

  async start(): Promise<void> {
    await Promise.all(this.lanes.map((l, i) => this.spawn(l, i)));
  }

  private spawn(lane: Lane<C>, id: number): Promise<void> {
    const { workers: _workers, defer: _defer, now: _now, ...shared } = this.options;
    const init: IngestWorkerInit = { workerId: id, ...shared };
    const w = new Worker(workerUrl(), { workerData: init });
    lane.worker = w;
    lane.ready = new Promise<void>((resolve, reject) => {
      const onEarlyExit = (code: number) => reject(new VigilError(ErrorCode.Internal, `ingest worker ${id} exited with ${code} while starting`));
      w.once('exit', onEarlyExit);
      w.once('error', reject);
      w.on('message', (m: FromIngest) => {
        if (m.t === 'ready') {
          w.off('exit', onEarlyExit);
          w.off('error', reject);
          resolve();
          return;
        }
        this.onMessage(lane, m);
      });
    });
    w.on('exit', (code) => {
      if (this.closed || lane.worker !== w) return;
      // Whatever it held is answered as failed (the producer retries); a new worker takes the lane.
      this.failSent(lane, new VigilError(ErrorCode.HostDied, `ingest worker ${id} exited with ${code}`));
      // A lane whose worker cannot be replaced takes no more frames: said in the log, never silently.
      void this.spawn(lane, id).catch((err: unknown) => console.error(`ingest: replacing worker ${id} failed: ${(err as Error)?.message ?? String(err)}`));
    });
    return lane.ready;
  }

  private failSent(lane: Lane<C>, err: VigilError): void {
    const sent = lane.sent.slice(lane.sentHead);
    lane.sent = [];
    lane.sentHead = 0;
    for (const p of sent) {
      this.inFlight -= p.contexts.length;
      this.handlers.failed(p.contexts, err);
    }
  }

  private onMessage(lane: Lane<C>, m: FromIngest): void {
    if (m.t === 'ready') return;
    const p = lane.sent[lane.sentHead];
    if (!p || p.group !== m.group) {
      // Cannot happen while workers answer in order; if it does, nothing can be matched safely.
      this.failSent(lane, new VigilError(ErrorCode.Internal, `ingest worker answered group ${m.group} out of order`));
      return;
    }
    lane.sent[lane.sentHead] = undefined as unknown as Pending<C>;
    lane.sentHead++;
    if (lane.sentHead > 64 && lane.sentHead * 2 > lane.sent.length) {
      lane.sent = lane.sent.slice(lane.sentHead);
      lane.sentHead = 0;
    }
    this.inFlight -= p.contexts.length;
    if (m.t === 'failed') this.handlers.failed(p.contexts, fromWire(m.error));
    else this.handlers.routed(m, p.contexts);
  }

  /**
   * Queues one frame for worker `lane` (pick it per connection so its frames stay in order).
   * `bytes` must be the caller's own copy: it is transferred.
   */
  push(lane: number, tenant: string, source: string, bytes: Uint8Array, context: C): void {
    if (this.closed) {
      this.handlers.failed([context], new VigilError(ErrorCode.ShuttingDown, 'ingest is shutting down'));
      return;
    }
    const l = this.lanes[lane % this.lanes.length]!;
    l.tenant.push(tenant);
    l.source.push(source);
    l.bytes.push(bytes);
    l.contexts.push(context);
    this.inFlight++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.options.defer(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const now = this.options.now();
    for (const l of this.lanes) {
      if (l.bytes.length === 0) continue;
      const group = this.nextGroup++;
      const g: FrameGroup = { t: 'frames', group, now, tenant: l.tenant, source: l.source, bytes: l.bytes };
      const transfer: ArrayBuffer[] = [];
      for (const b of l.bytes) if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) transfer.push(b.buffer as ArrayBuffer);
      l.sent.push({ group, contexts: l.contexts });
      l.tenant = [];
      l.source = [];
      l.bytes = [];
      l.contexts = [];
      l.worker!.postMessage(g, transfer);
    }
  };

  async close(): Promise<void> {
    this.closed = true;
    const lanes = this.lanes;
    for (const l of lanes) this.failSent(l, new VigilError(ErrorCode.ShuttingDown, 'ingest is shutting down'));
    await Promise.all(lanes.map((l) => l.worker?.terminate()));
  }
}
