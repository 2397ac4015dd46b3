// Routing by key group: a submission's events go to their host's lane in the ledger, actor-to-
// actor messages to their host's port. While a rescale moves key groups between hosts, events and
// messages for those key groups are held here (bounded: they count against writable()) and go to
// the new owner once it has them.
import { ErrorCode, VigilError } from './errors.js';
import type { HostSlot } from './host-slot.js';
import type { RuntimeEvent, Submission, SubmissionLedger } from './ledger.js';
import type { Placement } from './placement.js';
import { emptyMessageBatch, type MessageBatch } from './protocol.js';
import { unpackBatch, type EventBatch } from './batch.js';

export interface RouterDeps {
  placement: Placement;
  ledger: SubmissionLedger;
  kindIndex: ReadonlyMap<string, number>;
  hosts: readonly HostSlot[];
}

interface HeldEvent {
  sub: Submission;
  idx: number;
  e: RuntimeEvent;
  kind: number;
  kg: number;
}

interface HeldMessage {
  kg: number;
  kind: number;
  tenant: string;
  id: string;
  body: unknown;
  fromKind: number;
  fromId: string;
}

export class Router {
  /** Key groups changing hands (1 each) while a rescale runs; null otherwise. */
  moving: Uint8Array | null = null;
  private readonly d: RouterDeps;
  private heldEvents: HeldEvent[] = [];
  private heldMessages: HeldMessage[] = [];

  constructor(deps: RouterDeps) {
    this.d = deps;
  }

  /** Every event of `events`, as `sub`'s, to its host's lane (or held while it moves). */
  route(events: ArrayLike<RuntimeEvent>, sub: Submission): void {
    const { placement, ledger, kindIndex } = this.d;
    const hostOfKg = placement.hostOfKg;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const kind = kindIndex.get(e.kind);
      if (kind === undefined) {
        // Nothing was routed yet for this call if it is the first; either way fail loudly:
        // routing to an unknown kind is a programming error in the front-end, not bad input.
        throw new VigilError(ErrorCode.UnknownActorKind, `unknown actor kind ${JSON.stringify(e.kind)}`);
      }
      const kg = placement.keyGroupOf(e.kind, e.tenant, e.id);
      if (this.moving !== null && this.moving[kg] === 1) {
        // Its key group is changing hands: held until the new owner has it, then routed like
        // any other event. The submission waits for it (one share for all it has held).
        const held = this.heldEvents;
        ledger.hold(sub, held.length === 0 || held[held.length - 1]!.sub !== sub);
        held.push({ sub, idx: i, e, kind, kg });
        continue;
      }
      ledger.add(hostOfKg[kg]!, sub, i, kg, kind, e.tenant, e.id, e.time, e.body);
    }
  }

  /**
   * The slow path of a batch an ingest worker routed: its events one by one, each as
   * `subs[slot[i]]`'s event `idx[i]` (a rescale moved key groups since, or is moving them now).
   * Returns the submissions that got events; each was given its shares by `ledger.add`/`hold`.
   */
  routeColumns(b: EventBatch, subs: readonly Submission[], slot: Uint32Array, idx: Uint32Array): void {
    const { placement, ledger } = this.d;
    unpackBatch(b);
    for (let i = 0; i < b.n; i++) {
      const sub = subs[slot[i]!]!;
      const kg = b.kg[i]!;
      if (this.moving !== null && this.moving[kg] === 1) {
        const held = this.heldEvents;
        ledger.hold(sub, held.length === 0 || held[held.length - 1]!.sub !== sub);
        held.push({ sub, idx: idx[i]!, e: { tenant: b.tenant[i]!, kind: '', id: b.id[i]!, time: b.time[i]!, body: b.body[i] }, kind: b.kind[i]!, kg });
        continue;
      }
      ledger.add(placement.hostOfKg[kg]!, sub, idx[i]!, kg, b.kind[i]!, b.tenant[i]!, b.id[i]!, b.time[i]!, b.body[i]);
    }
  }

  /** Held events and messages, in arrival order, to their new owners (the rescale is done). */
  releaseHeld(): void {
    const { placement, ledger } = this.d;
    const held = this.heldEvents;
    this.heldEvents = [];
    ledger.unhold(held.length);
    let last: Submission | null = null;
    for (const x of held) {
      if (x.sub !== last) {
        if (last !== null) ledger.releaseShare(last);
        last = x.sub;
      }
      ledger.add(placement.hostOfKg[x.kg]!, x.sub, x.idx, x.kg, x.kind, x.e.tenant, x.e.id, x.e.time, x.e.body);
    }
    if (last !== null) ledger.releaseShare(last);
    const msgs = this.heldMessages;
    this.heldMessages = [];
    if (msgs.length > 0) {
      const b = emptyMessageBatch();
      for (const m of msgs) pushMessage(b, m.kg, m.kind, m.tenant, m.id, m.body, m.fromKind, m.fromId);
      this.routeMessages(b);
    }
    ledger.scheduleFlush();
    ledger.notifyWritable();
  }

  /** Actor-to-actor messages that left their host: regrouped by destination host. */
  routeMessages(b: MessageBatch): void {
    const hostOfKg = this.d.placement.hostOfKg;
    const per = new Map<number, MessageBatch>();
    for (let i = 0; i < b.n; i++) {
      const kg = b.kg[i]!;
      if (this.moving !== null && this.moving[kg] === 1) {
        this.heldMessages.push({ kg, kind: b.kind[i]!, tenant: b.tenant[i]!, id: b.id[i]!, body: b.body[i], fromKind: b.fromKind[i]!, fromId: b.fromId[i]! });
        continue;
      }
      const h = hostOfKg[kg]!;
      let out = per.get(h);
      if (!out) per.set(h, (out = emptyMessageBatch()));
      pushMessage(out, kg, b.kind[i]!, b.tenant[i]!, b.id[i]!, b.body[i], b.fromKind[i]!, b.fromId[i]!);
    }
    for (const [h, out] of per) this.d.hosts[h]!.send({ t: 'messages', batch: out });
  }
}

function pushMessage(b: MessageBatch, kg: number, kind: number, tenant: string, id: string, body: unknown, fromKind: number, fromId: string): void {
  b.kg.push(kg);
  b.kind.push(kind);
  b.tenant.push(tenant);
  b.id.push(id);
  b.body.push(body);
  b.fromKind.push(fromKind);
  b.fromId.push(fromId);
  b.n++;
}
