import type { ActorContext } from '../runtime/actor.js';
import type { EmitRollup } from './windows.js';

/**
 * Turns window rows into rollup rows for the current actor. One per actor kind, created once;
 * `ctx` is set before use, so emitting allocates only the row itself, never a closure.
 */
export class RollupEmitter {
  ctx: ActorContext | null = null;
  readonly emit: EmitRollup = (series, b, at, windowMs, final) => {
    const ctx = this.ctx!;
    ctx.emitRollup({
      tenant: ctx.tenant,
      actorKind: ctx.kind,
      actorId: ctx.id,
      metric: series,
      windowStart: b[at]!,
      windowMs,
      revision: b[at + 5]!,
      final,
      count: b[at + 1]!,
      min: b[at + 2]!,
      max: b[at + 3]!,
      sum: b[at + 4]!,
    });
  };
}
