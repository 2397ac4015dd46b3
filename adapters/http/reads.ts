import { patientSummary, patientTrends } from '../../actors/patient.js';
import { procedureSummary } from '../../actors/procedure.js';
import { inspectView } from '../../actors/inspect.js';
import type { RuntimeEvent } from '../../runtime/runtime.js';
import type { ActorRuntime } from '../../runtime/runtime.js';
import type { ClusterStatus } from '../../runtime/cluster.js';
import { ErrorCode } from '../../runtime/errors.js';
import { ApiError } from './errors.js';
import type { PatientIndex } from '../../runtime/ports.js';
import { MemoryReadModel } from '../../runtime/read-model.js';
import { readOf } from './alert-hub.js';

/** Read endpoints served from live actor state, and admin. */
export interface ReadApi {
  patientRiskSummary(tenant: string, id: string): Promise<unknown>;
  procedureRiskSummary(tenant: string, id: string): Promise<unknown>;
  patientTrends(tenant: string, id: string): Promise<unknown>;
  patients(tenant: string, limit: number, cursor: string | null): Promise<unknown>;
  shards(): Promise<unknown>;
  rescale(count: number): Promise<unknown>;
  actor(kind: string, tenant: string, id: string): Promise<unknown>;
  /** Several nodes: membership and slot owners (GET /admin/cluster); absent on one node. */
  cluster?(): Promise<unknown>;
}

/**
 * Patients each tenant has sent events for: what GET /v1/patients pages through. Kept in a
 * PatientIndex (Redis in durable mode, so the list survives restarts and every node of a cluster
 * answers the same). Called from the main thread once per batch the ingest path reports; ids
 * already written are remembered here so a batch of known patients costs no write.
 */
export class PatientDirectory {
  /** Per tenant, ids this node has written (or is writing); a failed write forgets its ids. */
  private readonly known = new Map<string, Set<string>>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly index: PatientIndex = new MemoryReadModel(),
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** One patient of `tenant` (ingest workers report each the first time they see it). */
  add(tenant: string, id: string): void {
    const fresh = this.fresh(tenant, id, null);
    if (fresh) this.write(fresh);
  }

  /** The patients the ingest workers report for a group of frames, as one write. */
  addAll(pairs: Iterable<readonly [string, string]>): void {
    let fresh: [string, string][] | null = null;
    for (const [tenant, id] of pairs) fresh = this.fresh(tenant, id, fresh);
    if (fresh) this.write(fresh);
  }

  note(events: readonly RuntimeEvent[]): void {
    let fresh: [string, string][] | null = null;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const id = e.kind === 'patient' ? e.id : ((e.body as { p: { patient_id?: unknown } }).p.patient_id as string | undefined);
      if (typeof id !== 'string') continue;
      fresh = this.fresh(e.tenant, id, fresh);
    }
    if (fresh) this.write(fresh);
  }

  async page(tenant: string, limit: number, cursor: string | null): Promise<{ patients: string[]; next_cursor: string | null; total: number }> {
    const p = await readOf(this.index.patientPage(tenant, limit, cursor));
    return { patients: p.ids, next_cursor: p.next, total: p.total };
  }

  /** Patients per tenant (the ops page). */
  counts(): Promise<Record<string, number>> {
    return readOf(this.index.patientCounts());
  }

  /** Resolves once every write issued so far has settled. */
  async flushed(): Promise<void> {
    await this.pending;
  }

  private fresh(tenant: string, id: string, into: [string, string][] | null): [string, string][] | null {
    let s = this.known.get(tenant);
    if (!s) this.known.set(tenant, (s = new Set()));
    if (s.has(id)) return into;
    s.add(id);
    (into ??= []).push([tenant, id]);
    return into;
  }

  // Issued at once (one write per reported batch): see adapters/redis/read-model.ts on kill -9.
  private write(pairs: [string, string][]): void {
    const w = this.index.addPatients(pairs).catch((err: Error) => {
      for (const [t, id] of pairs) this.known.get(t)?.delete(id);
      this.onError(err);
    });
    this.pending = Promise.all([this.pending, w]).then(() => undefined);
  }
}

/** One actor as another node's GET /admin/actors answers it. */
export interface RemoteActor {
  status: string;
  error: { message: string } | null;
  state: unknown;
}

/** Several nodes: where an actor lives, and how to read it there. */
export interface ClusterReads {
  /** The owner's view of the actor (null: it has none), or throws ApiError. */
  forward(kind: string, tenant: string, id: string): Promise<RemoteActor | null>;
  status(): ClusterStatus | null;
}

/** The runtime's host stats (camelCase in TypeScript) as the API's snake_case. */
function snakeKeys(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}

/** GET /admin/cluster (and /admin/shards' `cluster`): the coordinator's status in the API's snake_case. */
function clusterView(c: ClusterStatus | null): unknown {
  if (c === null) return null;
  return {
    node: c.node, members: c.members, slots: c.slots, key_groups: c.keyGroups, owned: c.owned, leases: c.leases,
    suspended: c.suspended, owners: c.owners, unowned: c.unowned, valid_for_ms: c.validForMs,
  };
}

function notOwner(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === ErrorCode.NotOwner;
}

export function liveReads(rt: ActorRuntime, dir: PatientDirectory, now: () => number, cluster?: ClusterReads): ReadApi {
  const state = async (kind: string, tenant: string, id: string): Promise<unknown> => {
    let a: RemoteActor | null;
    try {
      a = await rt.inspect(kind, tenant, id);
    } catch (err) {
      // Several nodes: live state is where the actor's key group is owned; ask that node.
      if (!notOwner(err) || !cluster) throw err;
      a = await cluster.forward(kind, tenant, id);
    }
    if (!a || a.state === null) throw new ApiError('not_found', `no ${kind} ${id}`);
    if (a.status === 'failed') throw new ApiError('actor_failed', a.error?.message ?? `${kind} ${id} has failed`);
    return a.state;
  };
  return {
    patientRiskSummary: async (tenant, id) => patientSummary(id, (await state('patient', tenant, id)) as never, now()),
    procedureRiskSummary: async (tenant, id) => procedureSummary(id, (await state('procedure', tenant, id)) as never, now()),
    patientTrends: async (tenant, id) => {
      const t = patientTrends((await state('patient', tenant, id)) as never);
      return { patient_id: id, trends: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { trend: v.trend, points: v.points, slope_per_hour: v.slopePerHour, mean: v.mean }])) };
    },
    patients: async (tenant, limit, cursor) => dir.page(tenant, limit, cursor),
    shards: async () => ({
      key_groups: rt.options.keyGroups,
      shards: rt.shardMap.ranges().map((r) => ({ shard: r.shard, key_groups: [r.from, r.to], host: r.shard % rt.options.hosts })),
      epoch: rt.shardMap.epoch,
      hosts: (await rt.stats()).map(snakeKeys),
      ...(cluster ? { cluster: clusterView(cluster.status()) } : {}),
    }),
    rescale: async (count) => {
      try {
        const r = await rt.rescale(count);
        return { from: r.from, to: r.to, epoch: r.epoch, moved_key_groups: r.movedKeyGroups, moved_actors: r.movedActors, pause_ms: r.pauseMs };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'rescale_in_progress') throw new ApiError(code, (err as Error).message);
        if (code === 'invalid_option') throw new ApiError('invalid_field', (err as Error).message);
        throw err;
      }
    },
    ...(cluster ? { cluster: async () => clusterView(cluster.status()) } : {}),
    actor: async (kind, tenant, id) => {
      if (!rt.kinds.includes(kind)) throw new ApiError('not_found', `no actor kind ${kind}`);
      let a: Awaited<ReturnType<ActorRuntime['inspect']>>;
      try {
        a = await rt.inspect(kind, tenant, id);
      } catch (err) {
        // Never forwarded from here: this is the endpoint forwarding lands on.
        if (notOwner(err)) throw new ApiError('not_owner', (err as Error).message);
        throw err;
      }
      if (!a) throw new ApiError('not_found', `no ${kind} ${id} for tenant ${tenant}`);
      return { kind, tenant, id, resident: a.resident, status: a.status, last_seq: a.lastSeq, error: a.error, ...inspectView(kind, id, a.state, now()) };
    },
  };
}
