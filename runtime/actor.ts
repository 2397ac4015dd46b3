import type { AlertRecord, RollupRow } from './ports.js';

export const TimerDomain = { processing: 'processing', event: 'event' } as const;
export type TimerDomain = (typeof TimerDomain)[keyof typeof TimerDomain];

/**
 * What a handler may do besides returning its next state. One context object per shard host is
 * reused for every call (its fields are rewritten before each), so a handler must not keep it.
 */
export interface ActorContext {
  readonly tenant: string;
  readonly kind: string;
  readonly id: string;
  readonly keyGroup: number;
  /** Log sequence of the event being handled; NaN for timers and actor messages. */
  readonly seq: number;
  /** Event time of the event being handled (epoch ms); for timers, their due time. */
  readonly eventTime: number;
  /** The actor's event-time watermark: max event time seen minus the kind's `watermarkLagMs`. */
  readonly watermark: number;
  /** Processing time from the runtime's injectable clock. */
  now(): number;
  /** Sets (or moves) the named timer. Event-time timers fire when the watermark passes `at`. */
  setTimer(name: string, at: number, domain?: TimerDomain): void;
  cancelTimer(name: string): void;
  /** To another actor, on any shard or worker; same tenant unless `tenant` is given. At-least-once. */
  send(kind: string, id: string, message: unknown, tenant?: string): void;
  emitRollup(row: RollupRow): void;
  emitAlert(alert: AlertRecord): void;
  /**
   * Inside `onEvent`: the event is refused (for example `too_late`). The producer's ack lists it
   * with this code and message; the handler should leave its state as it was.
   */
  reject(code: string, message: string): void;
  /** Inside `onEvent`: the event was already applied (same `event_id`); the ack counts it as a duplicate. */
  duplicate(): void;
}

export interface ActorAddress {
  readonly tenant: string;
  readonly kind: string;
  readonly id: string;
}

export interface ActorDefinition<S = unknown, E = unknown, M = unknown> {
  readonly kind: string;
  initialState(tenant: string, id: string): S;
  /** Returns the next state (it may mutate and return the same object). A throw fails the actor. */
  onEvent(state: S, event: E, ctx: ActorContext): S;
  onTimer?(state: S, name: string, ctx: ActorContext): S;
  onMessage?(state: S, message: M, from: ActorAddress, ctx: ActorContext): S;
  /** Defaults to JSON. Snapshots must round-trip: decode(encode(s)) behaves as s. */
  encode?(state: S): string;
  decode?(data: string): S;
  /** Passivate after this long without a message (processing time). */
  idleAfterMs?: number;
  /** Out-of-orderness the watermark waits for. */
  watermarkLagMs?: number;
}

export type AnyActorDefinition = ActorDefinition<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const KIND_RE = /^[a-z][a-z0-9_.-]{0,63}$/;

export function defineActor<S, E = unknown, M = unknown>(def: ActorDefinition<S, E, M>): ActorDefinition<S, E, M> {
  if (!KIND_RE.test(def.kind)) {
    throw new TypeError(`defineActor: kind must match ${KIND_RE}; got ${JSON.stringify(def.kind)}`);
  }
  if (typeof def.initialState !== 'function' || typeof def.onEvent !== 'function') {
    throw new TypeError(`defineActor(${def.kind}): initialState and onEvent are required functions`);
  }
  if ((def.encode === undefined) !== (def.decode === undefined)) {
    throw new TypeError(`defineActor(${def.kind}): give both encode and decode, or neither`);
  }
  for (const k of ['idleAfterMs', 'watermarkLagMs'] as const) {
    const v = def[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new TypeError(`defineActor(${def.kind}): ${k} must be a finite number >= 0; got ${v}`);
    }
  }
  return Object.freeze({ ...def });
}

/**
 * An actor module's exports: `export const actors = [defineActor(...), ...]`, or
 * `export function createActors(config)` when the definitions depend on configuration (the
 * runtime's `actorConfig` option, the same plain data on every host).
 */
export interface ActorModule {
  readonly actors?: readonly AnyActorDefinition[];
  readonly createActors?: (config: unknown) => readonly AnyActorDefinition[];
}

export async function loadActorModules(urls: readonly string[], config?: unknown): Promise<AnyActorDefinition[]> {
  const defs: AnyActorDefinition[] = [];
  for (const url of urls) {
    const mod = (await import(url)) as ActorModule;
    const list = typeof mod.createActors === 'function' ? mod.createActors(config) : mod.actors;
    if (!Array.isArray(list)) {
      throw new TypeError(`actor module ${url} must export \`actors\` (an array of defineActor results) or \`createActors(config)\``);
    }
    defs.push(...list);
  }
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.kind)) throw new TypeError(`actor kind ${d.kind} is defined twice`);
    seen.add(d.kind);
  }
  if (defs.length > 255) throw new RangeError('at most 255 actor kinds');
  return defs;
}
