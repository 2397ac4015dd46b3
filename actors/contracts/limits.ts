// Shape limits of one event, checked where it enters and before anything recurses over it.
// JSON.parse builds whatever depth the input has, but every walk after it recurses: JSON.stringify
// of a routed batch or an events_raw row, the structured clone of a dead letter, String() of an
// array. Each of those throws RangeError somewhere between a few thousand and ten thousand levels,
// wherever that happens to be (a worker, the main thread). So what an actor gets of an event (its
// payload, and its attributes) is measured here, once, without recursion, and the event refused if
// it nests too deep or one of its objects or arrays is too big. The rest of an envelope goes
// nowhere unless the event is refused: a dead letter measures the whole event (`measure`) and
// carries a truncated copy when it is over the limits (actors/ingest.ts deadLetterEvent).

export const DEFAULT_MAX_EVENT_DEPTH = 32;
export const DEFAULT_MAX_EVENT_KEYS = 1000;

export const Shape = { Ok: 0, TooDeep: 1, TooLarge: 2 } as const;
export type Shape = (typeof Shape)[keyof typeof Shape];

/** Longest field name a refusal message quotes (the name is the producer's, of any length). */
const NAME_CHARS = 64;

/**
 * Measures events against the limits: depth counts the event object as level 1 (so its payload
 * is level 2), and no object or array of it may hold more than `maxKeys` entries. One per
 * registry; the stack is reused from event to event.
 */
export class ShapeGauge {
  private readonly stack: unknown[] = [];
  private readonly depths: number[] = [];
  /** After a refusal: the top-level field of the event it was found under ('' for the event itself). */
  field = '';

  constructor(
    readonly maxDepth: number = DEFAULT_MAX_EVENT_DEPTH,
    readonly maxKeys: number = DEFAULT_MAX_EVENT_KEYS,
  ) {
    if (!(maxDepth >= 2) || !(maxKeys >= 1)) throw new RangeError(`event limits: depth must be >= 2 and keys >= 1 (got ${maxDepth}, ${maxKeys})`);
  }

  /**
   * The payload and attributes of an envelope (on every event: a direct read of each, and a walk
   * of what they hold; a flat payload costs one for-in).
   */
  measureEvent(env: Record<string, unknown>): Shape {
    this.field = '';
    const p = env.payload;
    if (typeof p === 'object' && p !== null) {
      const r = this.walk(p, 2);
      if (r !== Shape.Ok) {
        this.field = 'payload';
        return r;
      }
    }
    const a = env.attributes;
    if (typeof a === 'object' && a !== null) {
      const r = this.walk(a, 2);
      if (r !== Shape.Ok) {
        this.field = 'attributes';
        return r;
      }
    }
    return Shape.Ok;
  }

  /** A whole item of a frame, whatever it is (for dead letters: off the accepting path). */
  measure(item: unknown): Shape {
    this.field = '';
    if (typeof item !== 'object' || item === null) return Shape.Ok;
    if (Array.isArray(item)) return this.walk(item, 1);
    // The envelope's own fields one by one, so a refusal can say which one broke the limit.
    const o = item as Record<string, unknown>;
    let n = 0;
    for (const k in o) {
      if (++n > this.maxKeys) return Shape.TooLarge;
      const x = o[k];
      if (typeof x !== 'object' || x === null) continue;
      const r = this.walk(x, 2);
      if (r !== Shape.Ok) {
        this.field = k;
        return r;
      }
    }
    return Shape.Ok;
  }

  /** Iterative depth-first walk from `root` at level `level`. */
  private walk(root: object, level: number): Shape {
    if (level > this.maxDepth) return Shape.TooDeep;
    const stack = this.stack;
    const depths = this.depths;
    const maxDepth = this.maxDepth;
    const maxKeys = this.maxKeys;
    let sp = 0;
    stack[0] = root;
    depths[0] = level;
    sp = 1;
    let verdict: Shape = Shape.Ok;
    while (sp > 0) {
      sp--;
      const o = stack[sp] as object;
      // Not kept past the walk: the stack would otherwise hold on to the last frame's objects.
      stack[sp] = undefined;
      const next = depths[sp]! + 1;
      if (Array.isArray(o)) {
        const len = o.length;
        if (len > maxKeys) {
          verdict = Shape.TooLarge;
          break;
        }
        for (let i = 0; i < len; i++) {
          const x: unknown = o[i];
          if (typeof x !== 'object' || x === null) continue;
          if (next > maxDepth) {
            verdict = Shape.TooDeep;
            break;
          }
          stack[sp] = x;
          depths[sp++] = next;
        }
      } else {
        let n = 0;
        for (const k in o) {
          if (++n > maxKeys) {
            verdict = Shape.TooLarge;
            break;
          }
          const x: unknown = (o as Record<string, unknown>)[k];
          if (typeof x !== 'object' || x === null) continue;
          if (next > maxDepth) {
            verdict = Shape.TooDeep;
            break;
          }
          stack[sp] = x;
          depths[sp++] = next;
        }
      }
      if (verdict !== Shape.Ok) break;
    }
    for (let i = 0; i < sp; i++) stack[i] = undefined;
    return verdict;
  }

  /** Why the last `measure` refused, naming the field. */
  message(r: Shape): string {
    const where = this.field === '' ? 'event' : JSON.stringify(this.field.length > NAME_CHARS ? `${this.field.slice(0, NAME_CHARS)}…` : this.field);
    return r === Shape.TooDeep
      ? `${where} nests deeper than ${this.maxDepth} levels (the event object is level 1)`
      : `${where} holds an object or array of more than ${this.maxKeys} entries`;
  }
}
