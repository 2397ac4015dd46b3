import type { ActorContext } from '../runtime/actor.js';
import type { WindowRow } from './windows.js';

/**
 * Turns window rows into rollup rows for the current actor. One per actor kind, created once;
 * `ctx` is set before use, so emitting allocates only the row itself, never a closure.
 */
export class RollupEmitter {
  ctx: ActorContext | null = null;
  readonly emit = (series: string, row: WindowRow, windowMs: number, final: boolean): void => {
    const ctx = this.ctx!;
    ctx.emitRollup({
      tenant: ctx.tenant,
      actorKind: ctx.kind,
      actorId: ctx.id,
      metric: series,
      windowStart: row[0],
      windowMs,
      revision: row[5],
      final,
      count: row[1],
      min: row[2],
      max: row[3],
      sum: row[4],
    });
  };
}
