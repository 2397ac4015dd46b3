/**
 * Several nodes, one cluster (DESIGN.md decision 2): who owns which key groups.
 *
 * Key groups are leased in slots: slot s holds the contiguous key groups
 * [floor(s·K/S), floor((s+1)·K/S)). A lease per slot rather than per key group because every
 * lease is renewed every `renewEveryMs` (a compare-and-set write to the LeaseStore): 64 slots
 * across three nodes is ~64 writes per round, 4096 key groups would be 4096.
 *
 * Every round a node (1) renews its membership lease and its slot leases, (2) lists members and
 * slot owners, (3) computes the same balanced assignment every node computes from the same
 * member list, and (4) takes free slots assigned to it and hands over (gracefully: passivate,
 * commit, then release the lease) slots it holds that are assigned to someone else. A joining
 * node therefore gets its fair share within a round or two, and a dead node's slots become free
 * when its leases expire (nobody has to decide that it is dead).
 *
 * Safety, i.e. never two owners at once in a way that counts:
 * - A lease is taken with compare-and-set, so two nodes never both hold one in the store.
 * - A node only delivers events while it is sure its leases are live: `canDeliver()` is false
 *   once `validUntil` (last successful renewal started + a safety share of the ttl) has passed,
 *   e.g. after the process was paused (SIGSTOP, a long GC, a VM freeze). The next round then
 *   drops everything it owned before doing anything else.
 * - That local check cannot cover a pause that starts after the check, so the snapshot store
 *   is the backstop: the new owner fences the key groups with its lease revision (higher than
 *   any earlier one) before reading their checkpoints, and a commit by the old owner, carrying
 *   its older token, is refused (code `fenced`) and makes it drop them.
 * What a stale owner applied in memory in that window is thrown away; what counts is the
 * snapshots + the log, and those only move under the current token.
 */
import { ErrorCode, VigilError, toWire } from './errors.js';
import { hashActor } from './keygroups.js';
import type { Clock, EventLog, GaugeHandle, CounterHandle, LeaseStore, Metrics, SnapshotStore } from './ports.js';
import type { ActorRuntime } from './runtime.js';

export const kDefaultClusterOptions = {
  /** This node's id: letters, digits, '-' and '_'. Unique in the cluster. */
  nodeId: '',
  /** Where other nodes reach this node's HTTP API (reads are forwarded there). */
  url: '',
  /** Lease slots the key groups are split into. Fixed for the life of a cluster. */
  slots: 64,
  /** How often leases are renewed and the assignment re-checked. Default: a third of the ttl. */
  renewEveryMs: 0,
  /** Share of the lease ttl after a renewal during which this node trusts it still holds it. */
  safetyShare: 0.6,
  /** How long a graceful hand-over may wait for its commit before dropping instead. */
  handoverTimeoutMs: 5000,
  /** How often the cluster-wide minimum checkpoint trims the shared log (0: never). */
  trimEveryMs: 10_000,
};
export type ClusterOptions = typeof kDefaultClusterOptions;

export interface ClusterPorts {
  leases: LeaseStore;
  eventLog: EventLog;
  snapshotStore: SnapshotStore;
  clock: Clock;
  metrics: Metrics;
}

export interface SlotOwner {
  node: string;
  url: string;
}

export interface ClusterStatus {
  node: string;
  members: { node: string; url: string }[];
  slots: number;
  keyGroups: number;
  /** Slots this node owns and may act on now. */
  owned: number[];
  /** The same, with the fencing token each was taken with. */
  leases: { slot: number; token: number }[];
  /** Holds leases it has not been able to renew in time: acting on none of them. */
  suspended: boolean;
  owners: (SlotOwner | null)[];
  /** Slots no live node holds a lease on right now. */
  unowned: number;
  validForMs: number;
}

function invalid(name: string, rule: string, got: unknown): never {
  throw new VigilError(ErrorCode.InvalidOption, `cluster.${name} ${rule}; got ${JSON.stringify(got)}`);
}

export function resolveClusterOptions(input: Partial<ClusterOptions>, ttlMs: number): ClusterOptions {
  const o: ClusterOptions = { ...kDefaultClusterOptions, ...input };
  if (typeof o.nodeId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.nodeId)) invalid('nodeId', "must be 1-64 of A-Z a-z 0-9 '_' '-'", o.nodeId);
  if (typeof o.url !== 'string' || !/^https?:\/\//.test(o.url)) invalid('url', 'must be an http(s) URL', o.url);
  if (!Number.isSafeInteger(o.slots) || o.slots < 1 || o.slots > 4096) invalid('slots', 'must be an integer in 1..4096', o.slots);
  if (o.renewEveryMs === 0) o.renewEveryMs = Math.max(50, Math.floor(ttlMs / 3));
  if (!Number.isSafeInteger(o.renewEveryMs) || o.renewEveryMs < 1 || o.renewEveryMs * 2 > ttlMs) {
    invalid('renewEveryMs', `must be a positive integer at most half the lease ttl (${ttlMs} ms)`, o.renewEveryMs);
  }
  if (!(o.safetyShare > 0 && o.safetyShare < 1)) invalid('safetyShare', 'must be between 0 and 1', o.safetyShare);
  if (!Number.isSafeInteger(o.handoverTimeoutMs) || o.handoverTimeoutMs < 1) invalid('handoverTimeoutMs', 'must be a positive integer', o.handoverTimeoutMs);
  if (!Number.isSafeInteger(o.trimEveryMs) || o.trimEveryMs < 0) invalid('trimEveryMs', 'must be an integer >= 0', o.trimEveryMs);
  return o;
}

/**
 * A stable score for rendezvous hashing: the key-group hash (FNV-1a + murmur3 finalizer) of
 * (slot, node). Every node of a cluster must compute the same plan, so this must not change
 * between versions that run side by side (a rolling upgrade would move slots back and forth).
 */
function score(slot: number, node: string): number {
  return hashActor('slot', String(slot), node);
}

/**
 * The slot assignment every node computes alike from the same member ids: rendezvous hashing
 * (each slot prefers the members in its own hash order, so a join or leave moves few slots)
 * capped at floor(slots / members), plus one for the first `slots % members` members to reach it,
 * so the shares differ by at most one.
 */
export function assignSlots(slots: number, members: readonly string[]): string[] {
  const ids = [...new Set(members)].sort();
  if (ids.length === 0) return [];
  const floor = Math.floor(slots / ids.length);
  // Only `slots % members` members may hold one more than the floor: shares differ by <= 1.
  let bigLeft = slots % ids.length;
  const count = new Map<string, number>(ids.map((m) => [m, 0]));
  const out: string[] = new Array<string>(slots);
  for (let s = 0; s < slots; s++) {
    const order = ids.map((m) => [score(s, m), m] as const).sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? -1 : 1));
    for (const [, m] of order) {
      const c = count.get(m)!;
      if (c < floor || (c === floor && bigLeft > 0)) {
        if (c === floor) bigLeft--;
        out[s] = m;
        count.set(m, c + 1);
        break;
      }
    }
  }
  return out;
}

export function slotKeyGroups(slot: number, slots: number, keyGroups: number): number[] {
  const from = Math.floor((slot * keyGroups) / slots);
  const to = Math.floor(((slot + 1) * keyGroups) / slots);
  const out: number[] = [];
  for (let k = from; k < to; k++) out.push(k);
  return out;
}

export function slotOfKeyGroup(kg: number, slots: number, keyGroups: number): number {
  // The inverse of slotKeyGroups' floor ranges.
  let s = Math.floor((kg * slots) / keyGroups);
  while (s + 1 < slots && Math.floor(((s + 1) * keyGroups) / slots) <= kg) s++;
  while (s > 0 && Math.floor((s * keyGroups) / slots) > kg) s--;
  return s;
}

interface Held {
  /** CAS revision of the lease now. */
  revision: number;
  /** Revision at acquire time: the fencing token of its key groups. */
  token: number;
}

const MEMBER = 'member.';
const SLOT = 'slot.';

export class ClusterCoordinator {
  readonly options: ClusterOptions;
  private readonly held = new Map<number, Held>();
  private member: number | null = null;
  private validUntil = 0;
  private owners: (SlotOwner | null)[];
  private members: { node: string; url: string }[] = [];
  private stopped = false;
  private cancelTimer: (() => void) | null = null;
  private round: Promise<void> = Promise.resolve();
  private lastTrimAt = 0;
  private readonly value: string;
  private readonly m: { members: GaugeHandle; slots: GaugeHandle; unowned: GaugeHandle; acquired: CounterHandle; lost: CounterHandle; handedOver: CounterHandle };

  private constructor(
    private readonly rt: ActorRuntime,
    private readonly ports: ClusterPorts,
    options: ClusterOptions,
    private readonly log: (line: string) => void,
  ) {
    this.options = options;
    this.owners = new Array<SlotOwner | null>(options.slots).fill(null);
    this.value = JSON.stringify({ url: options.url });
    const mt = ports.metrics;
    this.m = {
      members: mt.gauge('vigil_cluster_members', 'Live nodes in the cluster, as this node last saw them'),
      slots: mt.gauge('vigil_cluster_slots_owned', 'Key-group slots this node holds leases on'),
      unowned: mt.gauge('vigil_cluster_slots_unowned', 'Key-group slots no live node holds, as this node last saw them'),
      acquired: mt.counter('vigil_cluster_slot_acquired_total', 'Slot leases this node took (and restored)'),
      lost: mt.counter('vigil_cluster_slot_lost_total', 'Slot leases this node lost without handing them over (expired, fenced)'),
      handedOver: mt.counter('vigil_cluster_slot_handed_over_total', 'Slots this node handed over to another node gracefully'),
    };
  }

  /** Joins the cluster and runs the first round (so a lone node owns everything on return). */
  static async start(rt: ActorRuntime, ports: ClusterPorts, input: Partial<ClusterOptions>, log: (line: string) => void = () => undefined): Promise<ClusterCoordinator> {
    if (rt.options.ownership !== 'leased') throw new VigilError(ErrorCode.InvalidOption, "a cluster node's runtime needs ownership 'leased'");
    const c = new ClusterCoordinator(rt, ports, resolveClusterOptions(input, ports.leases.ttlMs), log);
    c.round = c.tick();
    await c.round;
    c.schedule();
    return c;
  }

  /** False while this node cannot be sure it still holds its leases: deliver nothing. */
  canDeliver(): boolean {
    return this.ports.clock.now() < this.validUntil;
  }

  /** Who owns the key group now (as of the last round); null while nobody does. */
  ownerOf(kg: number): SlotOwner | null {
    return this.owners[slotOfKeyGroup(kg, this.options.slots, this.rt.options.keyGroups)] ?? null;
  }

  /** The commit of these key groups was fenced: another node owns them now. */
  onFenced(kgs: number[]): void {
    const slots = new Set(kgs.map((k) => slotOfKeyGroup(k, this.options.slots, this.rt.options.keyGroups)));
    for (const s of slots) if (this.held.has(s)) this.lose(s, 'fenced by a newer owner');
  }

  status(): ClusterStatus {
    // A node that cannot vouch for its leases right now acts as owner of nothing: it delivers
    // nothing and answers no reads, so it reports nothing either (`suspended` says why).
    const trusted = this.canDeliver();
    const held = trusted ? [...this.held].sort((a, b) => a[0] - b[0]) : [];
    return {
      node: this.options.nodeId,
      members: this.members,
      slots: this.options.slots,
      keyGroups: this.rt.options.keyGroups,
      owned: held.map(([s]) => s),
      leases: held.map(([slot, h]) => ({ slot, token: h.token })),
      suspended: !trusted && this.held.size > 0,
      owners: this.owners,
      unowned: this.owners.filter((o) => o === null).length,
      validForMs: Math.max(0, this.validUntil - this.ports.clock.now()),
    };
  }

  /**
   * Stops renewing without handing anything over: the leases run out and the other nodes take
   * the slots, exactly as after a crash. For fault tests, and for a node that must stop at once.
   */
  async abandon(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    await this.round;
    await this.rebalancing;
  }

  /** Hands every slot over (graceful leave), then leaves the cluster. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTimer?.();
    await this.round;
    await this.rebalancing;
    const slots = [...this.held.keys()];
    if (slots.length > 0) {
      const kgs = slots.flatMap((s) => this.kgsOf(s));
      // A failed handover is logged, not thrown: the leases are released below either way, and the
      // next owner restores from the last snapshots plus a log replay.
      await this.rt.releaseKeyGroups(kgs, this.options.handoverTimeoutMs).catch((err: unknown) => this.log(`cluster: handing over ${slots.length} slot(s) failed: ${toWire(err).message}`));
      await Promise.all(slots.map((s) => this.ports.leases.release(SLOT + s, this.held.get(s)!.revision).catch(() => false)));
      this.m.handedOver.inc(slots.length);
      this.held.clear();
    }
    if (this.member !== null) await this.ports.leases.release(MEMBER + this.options.nodeId, this.member).catch(() => false);
  }

  private kgsOf(slot: number): number[] {
    return slotKeyGroups(slot, this.options.slots, this.rt.options.keyGroups);
  }

  private lose(slot: number, why: string): void {
    if (!this.held.delete(slot)) return;
    this.m.lost.inc();
    this.log(`cluster: lost slot ${slot} (${why}); dropping its key groups`);
    void this.rt.dropKeyGroups(this.kgsOf(slot)).catch((err: unknown) => this.log(`cluster: dropping slot ${slot} failed: ${toWire(err).message}`));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTimer = this.ports.clock.setTimeout(() => {
      this.round = this.tick().then(() => this.schedule());
    }, this.options.renewEveryMs);
  }

  /**
   * One round: renew, then look and rebalance. Renewals never wait for a rebalance (a restore
   * may replay for a while): a rebalance still running is left to finish, and the next one
   * starts from a round after it. Never throws: a failed round is retried by the next.
   */
  private async tick(): Promise<void> {
    try {
      const memberOk = await this.renew();
      if (memberOk && this.rebalancing === null && !this.stopped) {
        this.rebalancing = this.rebalance()
          .catch((err: unknown) => this.log(`cluster: rebalance failed: ${toWire(err).message}`))
          .finally(() => {
            this.rebalancing = null;
            this.m.slots.set(this.held.size);
          });
        // The first round of a node finishes its first rebalance (start() returns owning).
        if (this.firstRound) await this.rebalancing;
      }
    } catch (err) {
      this.log(`cluster: round failed: ${toWire(err).message}`);
    }
    this.firstRound = false;
    this.m.slots.set(this.held.size);
  }

  private rebalancing: Promise<void> | null = null;
  private firstRound = true;

  /**
   * Renews the membership lease and every slot lease (compare-and-set on the revision last
   * seen). A renewal that finds the lease changed means another node has (or had) it: dropped
   * at once. A renewal that could not reach the store proves nothing either way, so the slot is
   * kept, but `validUntil` does not move and the tail stops delivering once it passes.
   */
  private async renew(): Promise<boolean> {
    const { leases, clock } = this.ports;
    const id = this.options.nodeId;
    const started = clock.now();
    let memberOk = false;
    try {
      const rev = this.member === null ? null : await leases.renew(MEMBER + id, id, this.value, this.member);
      this.member = rev ?? (await leases.acquire(MEMBER + id, id, this.value));
      memberOk = this.member !== null;
      if (!memberOk) this.log(`cluster: node id ${id} is held by another live node; not joining this round`);
    } catch (err) {
      this.log(`cluster: membership renewal failed: ${toWire(err).message}`);
    }
    let renewedAll = memberOk;
    await Promise.all(
      [...this.held].map(async ([slot, h]) => {
        try {
          const rev = await leases.renew(SLOT + slot, id, this.value, h.revision);
          if (rev === null) this.lose(slot, 'lease expired or taken');
          else h.revision = rev;
        } catch (err) {
          renewedAll = false;
          this.log(`cluster: renewal of slot ${slot} failed: ${toWire(err).message}`);
        }
      }),
    );
    if (renewedAll) this.validUntil = started + leases.ttlMs * this.options.safetyShare;
    return memberOk;
  }

  /** Looks at members and owners; hands over what is not ours, takes what is ours and free. */
  private async rebalance(): Promise<void> {
    const { leases } = this.ports;
    const id = this.options.nodeId;
    let members: { node: string; url: string }[];
    const owners: (SlotOwner | null)[] = new Array<SlotOwner | null>(this.options.slots).fill(null);
    try {
      const [ms, ss] = await Promise.all([leases.list(MEMBER), leases.list(SLOT)]);
      members = ms.map((l) => ({ node: l.holder, url: urlOf(l.value) }));
      for (const l of ss) {
        const s = Number(l.key.slice(SLOT.length));
        if (Number.isSafeInteger(s) && s >= 0 && s < this.options.slots) owners[s] = { node: l.holder, url: urlOf(l.value) };
      }
    } catch (err) {
      this.log(`cluster: listing leases failed: ${toWire(err).message}`);
      return;
    }
    this.members = members.sort((a, b) => (a.node < b.node ? -1 : 1));
    this.owners = owners;
    this.m.members.set(members.length);
    this.m.unowned.set(owners.filter((o) => o === null).length);

    await this.maybeTrim(this.members);
    const plan = assignSlots(this.options.slots, members.map((m) => m.node));
    // Hand over what is someone else's now (graceful: its commit goes out under our token).
    const give = [...this.held.keys()].filter((s) => plan[s] !== undefined && plan[s] !== id);
    if (give.length > 0 && !this.stopped) {
      await this.rt.releaseKeyGroups(give.flatMap((s) => this.kgsOf(s)), this.options.handoverTimeoutMs);
      await Promise.all(
        give.map(async (s) => {
          const h = this.held.get(s);
          if (!h) return;
          this.held.delete(s);
          this.owners[s] = null;
          this.m.handedOver.inc();
          await leases.release(SLOT + s, h.revision).catch(() => false);
        }),
      );
      this.log(`cluster: handed over slots ${give.join(',')}`);
    }
    // Take free slots that are ours, while our leases are trusted.
    if (!this.canDeliver() || this.stopped) return;
    const take = plan.map((m, s) => (m === id && owners[s] === null && !this.held.has(s) ? s : -1)).filter((s) => s >= 0);
    const got: { slot: number; rev: number }[] = [];
    await Promise.all(
      take.map(async (s) => {
        try {
          const rev = await leases.acquire(SLOT + s, id, this.value);
          if (rev !== null) got.push({ slot: s, rev });
        } catch (err) {
          this.log(`cluster: acquiring slot ${s} failed: ${toWire(err).message}`);
        }
      }),
    );
    if (got.length === 0) return;
    got.sort((a, b) => a.slot - b.slot);
    // Renewed from now on, even while the restore below runs.
    for (const g of got) this.held.set(g.slot, { revision: g.rev, token: g.rev });
    // One restore for all of them (one replay pass); each slot's key groups are fenced with
    // that slot's own lease revision.
    const kgs: number[] = [];
    const tokens: number[] = [];
    for (const g of got) {
      for (const k of this.kgsOf(g.slot)) {
        kgs.push(k);
        tokens.push(g.rev);
      }
    }
    try {
      await this.rt.acquireKeyGroups(kgs, tokens);
    } catch (err) {
      this.log(`cluster: restoring slots ${got.map((g) => g.slot).join(',')} failed: ${toWire(err).message}; giving them back`);
      await Promise.all(
        got.map(async (g) => {
          const h = this.held.get(g.slot);
          this.held.delete(g.slot);
          if (h) await leases.release(SLOT + g.slot, h.revision).catch(() => false);
        }),
      );
      return;
    }
    for (const g of got) {
      if (!this.held.has(g.slot)) continue; // lost again meanwhile (and dropped)
      this.owners[g.slot] = { node: id, url: this.options.url };
      this.m.acquired.inc();
    }
    this.log(`cluster: took slots ${got.map((g) => g.slot).join(',')} (${kgs.length} key groups)`);
  }

  /**
   * The log is shared: it may lose only what every key group's checkpoint covers. The
   * lowest-id member does it, so the nodes do not all scan the checkpoints.
   */
  private async maybeTrim(members: { node: string }[]): Promise<void> {
    if (this.options.trimEveryMs === 0 || members.length === 0 || members[0]!.node !== this.options.nodeId) return;
    const now = this.ports.clock.now();
    if (now - this.lastTrimAt < this.options.trimEveryMs) return;
    this.lastTrimAt = now;
    try {
      const all = Array.from({ length: this.rt.options.keyGroups }, (_, k) => k);
      const cps = await this.ports.snapshotStore.checkpoints(all);
      let min = Infinity;
      for (const c of cps) if (c < min) min = c;
      if (min > 0 && Number.isFinite(min)) await this.ports.eventLog.trim(min);
    } catch (err) {
      this.log(`cluster: trim failed (retried later): ${toWire(err).message}`);
    }
  }
}

function urlOf(value: string): string {
  try {
    const v = JSON.parse(value) as { url?: unknown };
    return typeof v.url === 'string' ? v.url : '';
  } catch {
    return '';
  }
}
