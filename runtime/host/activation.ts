import { ErrorCode, type WireError } from '../errors.js';
import { actorKey } from '../ids.js';
import type { Clock, SnapshotRecord } from '../ports.js';
import { decodeSnapshot } from '../snapshot-codec.js';
import { ACTIVE, newCell, type Cell } from './cell.js';
import type { Commits } from './commits.js';
import type { Handlers } from './handlers.js';
import type { Mailboxes } from './mailbox.js';
import type { Reports } from './reports.js';
import type { ActorTable } from './table.js';
import { earliestDue, type ActorTimers } from './timers.js';
import type { Uplink } from './uplink.js';

/**
 * Virtual actors come into being on first input. Activation never blocks the host: the cell
 * exists at once (ACTIVATING, its input parked), the snapshots of every actor new since the last
 * round go up as one `load`, and each actor drains its mailbox when its record comes back.
 */
export class Activation {
  private toActivate: Cell[] = [];
  private readonly loads = new Map<number, Cell[]>();

  constructor(
    private readonly table: ActorTable,
    private readonly commits: Commits,
    private readonly timers: ActorTimers,
    private readonly handlers: Handlers,
    private readonly mailboxes: Mailboxes,
    private readonly reports: Reports,
    private readonly uplink: Uplink,
    private readonly clock: Clock,
  ) {}

  /** The resident actor, or a new one: active at once from an uncommitted snapshot, else activating. */
  cellFor(kind: number, tenant: string, id: string, kg: number): Cell {
    let cell = this.table.get(kind, tenant, id);
    if (cell === undefined) {
      cell = newCell(kind, tenant, id, kg);
      this.table.insert(cell);
      const key = actorKey(tenant, this.table.defs[kind]!.kind, id);
      // In memory again: its timers come back with its state, so its wake-up (if any) goes.
      this.timers.unwake(key);
      const pending = this.commits.pendingWrites.get(key);
      if (pending) this.rehydrate(cell, pending);
      else this.toActivate.push(cell);
    }
    return cell;
  }

  /** Asks for the snapshots of the actors that started activating since the last call. */
  request(): void {
    if (this.toActivate.length === 0) return;
    const cells = this.toActivate;
    this.toActivate = [];
    const req = this.uplink.request();
    this.loads.set(req, cells);
    this.uplink.post({ t: 'load', req, keys: cells.map((c) => actorKey(c.tenant, this.table.defs[c.kind]!.kind, c.id)) });
  }

  /** True when actors activated (their parked input is applied); false for an error or a stale reply. */
  onLoaded(req: number, records: (SnapshotRecord | undefined)[], error?: WireError): boolean {
    const cells = this.loads.get(req);
    if (!cells) return false;
    this.loads.delete(req);
    if (error) {
      // The store is unreachable: retry the same activations on the next tick rather than
      // guessing an empty state, which would silently lose the actor's history.
      this.toActivate.push(...cells);
      return false;
    }
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      // A newer passivation snapshot beats what the store had when the load was read.
      const pending = this.commits.pendingWrites.get(actorKey(cell.tenant, this.table.defs[cell.kind]!.kind, cell.id));
      this.rehydrate(cell, pending ?? records[i]);
      this.mailboxes.drain(cell);
    }
    return true;
  }

  private rehydrate(cell: Cell, rec: SnapshotRecord | undefined): void {
    const def = this.table.defs[cell.kind]!;
    cell.status = ACTIVE;
    this.table.active++;
    this.reports.stats.activations++;
    this.table.idle[cell.kind]!.touch(cell);
    cell.lastActive = this.clock.now();
    if (rec === undefined) {
      cell.state = def.initialState(cell.tenant, cell.id);
      return;
    }
    try {
      const snap = decodeSnapshot(rec.data);
      cell.state = def.decode ? def.decode(snap.body) : JSON.parse(snap.body);
      cell.lastSeq = rec.seq;
      cell.watermark = snap.watermark;
      for (const [name, domain, at] of snap.timers) this.timers.set(cell, name, at, domain);
      if (earliestDue(cell) !== null) cell.indexed = true;
      // Woken from the due index but holding no timer: the next commit removes the stale entry.
      else if (cell.indexed) this.table.markDirty(cell);
    } catch (err) {
      cell.state = undefined;
      this.handlers.fail(cell, NaN, err, ErrorCode.SnapshotDecode);
    }
  }
}
