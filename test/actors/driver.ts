// Runs one actor definition in-thread with a recording context and a hand-moved clock: the
// same contract the shard host gives handlers, without workers, so domain tests are exact.
import type { ActorContext, AnyActorDefinition, TimerDomain } from '../../runtime/actor.js';
import type { AlertRecord, RollupRow } from '../../runtime/ports.js';

export interface Sent {
  kind: string;
  id: string;
  message: unknown;
}

export class ActorDriver<S> {
  state: S;
  now = 0;
  readonly rollups: RollupRow[] = [];
  readonly alerts: AlertRecord[] = [];
  readonly rejected: { seq: number; code: string; message: string }[] = [];
  duplicates = 0;
  readonly sent: Sent[] = [];
  readonly timers = new Map<string, { at: number; domain: TimerDomain }>();
  private seq = 0;
  private readonly def: AnyActorDefinition;
  private readonly ctx: ActorContext & { seq: number; eventTime: number; watermark: number };

  constructor(def: AnyActorDefinition, readonly tenant = 't1', readonly id = 'a1') {
    this.def = def;
    this.state = def.initialState(tenant, id) as S;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const d = this;
    this.ctx = {
      tenant, kind: def.kind, id, keyGroup: 0, seq: 0, eventTime: 0, watermark: -Infinity,
      now: () => d.now,
      setTimer: (name, at, domain = 'processing') => void d.timers.set(name, { at, domain }),
      cancelTimer: (name) => void d.timers.delete(name),
      send: (kind, id2, message) => void d.sent.push({ kind, id: id2, message }),
      emitRollup: (r) => void d.rollups.push(r),
      emitAlert: (a) => void d.alerts.push(a),
      reject: (code, message) => void d.rejected.push({ seq: d.ctx.seq, code, message }),
      duplicate: () => void d.duplicates++,
    };
  }

  event(time: number, body: unknown): void {
    this.ctx.seq = ++this.seq;
    this.ctx.eventTime = time;
    this.state = this.def.onEvent(this.state, body, this.ctx) as S;
  }

  message(body: unknown, from = { tenant: this.tenant, kind: 'procedure', id: 'x' }): void {
    this.ctx.seq = NaN;
    this.state = this.def.onMessage!(this.state, body, from, this.ctx) as S;
  }

  /** Moves the clock and fires due processing-time timers. */
  advance(ms: number): void {
    this.now += ms;
    for (const [name, t] of [...this.timers]) {
      if (t.domain === 'processing' && t.at <= this.now) {
        this.timers.delete(name);
        this.ctx.seq = NaN;
        this.state = this.def.onTimer!(this.state, name, this.ctx) as S;
      }
    }
  }

  /** Round trip through the snapshot encoding, as passivation and recovery do. */
  snapshot(): string {
    return this.def.encode ? this.def.encode(this.state) : JSON.stringify(this.state);
  }

  restore(data: string): void {
    this.state = (this.def.decode ? this.def.decode(data) : JSON.parse(data)) as S;
  }

  /** Latest revision of each rollup window, as the analytics store keeps them. */
  finalRollups(): Map<string, RollupRow> {
    const m = new Map<string, RollupRow>();
    for (const r of this.rollups) {
      const k = `${r.metric}|${r.windowStart}`;
      const old = m.get(k);
      if (!old || r.revision >= old.revision) m.set(k, r);
    }
    return m;
  }
}
