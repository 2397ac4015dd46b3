import type { AnyActorDefinition } from '../actor.js';
import { IdleList, type Cell } from './cell.js';

/**
 * The resident actors of one host, by kind, tenant and id, with their idle order and the list
 * of those changed since the last commit. Kinds are indexed in the order the host was given
 * them, which is also the `kind` column of the batches it receives.
 */
export class ActorTable {
  readonly defs: AnyActorDefinition[];
  readonly kindIndex = new Map<string, number>();
  readonly idle: IdleList[];
  /** Per kind: passivate after this long without input. */
  readonly idleAfter: number[];
  /** Per kind: how far the watermark trails the newest event time. */
  readonly lag: number[];
  /** Resident actors that finished activating. */
  active = 0;
  /** Actors marked dirty since the last commit (a cell may have been cleaned or evicted since). */
  dirty: Cell[] = [];
  private readonly byKind: Map<string, Map<string, Cell>>[];

  constructor(hostId: number, kinds: string[], defs: AnyActorDefinition[], idleAfterMs: number) {
    this.defs = kinds.map((k) => {
      const d = defs.find((x) => x.kind === k);
      if (!d) throw new Error(`host ${hostId}: actor kind ${k} is not defined by the actor modules`);
      return d;
    });
    this.defs.forEach((d, i) => this.kindIndex.set(d.kind, i));
    this.byKind = this.defs.map(() => new Map());
    this.idle = this.defs.map(() => new IdleList());
    this.idleAfter = this.defs.map((d) => d.idleAfterMs ?? idleAfterMs);
    this.lag = this.defs.map((d) => d.watermarkLagMs ?? 0);
  }

  get(kind: number, tenant: string, id: string): Cell | undefined {
    const byId = this.byKind[kind]!.get(tenant);
    return byId === undefined ? undefined : byId.get(id);
  }

  /** By kind name; undefined for a kind this host does not run. */
  find(kind: string, tenant: string, id: string): Cell | undefined {
    const k = this.kindIndex.get(kind);
    return k === undefined ? undefined : this.get(k, tenant, id);
  }

  insert(cell: Cell): void {
    const table = this.byKind[cell.kind]!;
    let byId = table.get(cell.tenant);
    if (byId === undefined) {
      byId = new Map();
      table.set(cell.tenant, byId);
    }
    byId.set(cell.id, cell);
  }

  remove(cell: Cell): void {
    const byId = this.byKind[cell.kind]!.get(cell.tenant)!;
    byId.delete(cell.id);
    if (byId.size === 0) this.byKind[cell.kind]!.delete(cell.tenant);
  }

  /** A copy, in kind, tenant, id insertion order: the caller may remove while walking it. */
  residents(): Cell[] {
    const out: Cell[] = [];
    for (const table of this.byKind) for (const byId of table.values()) for (const cell of byId.values()) out.push(cell);
    return out;
  }

  /** The actor took input at `now`: it is due a snapshot and moves to the back of the idle order. */
  touch(cell: Cell, now: number): void {
    this.markDirty(cell);
    this.idle[cell.kind]!.touch(cell);
    cell.lastActive = now;
  }

  markDirty(cell: Cell): void {
    if (!cell.dirty) {
      cell.dirty = true;
      this.dirty.push(cell);
    }
  }
}
