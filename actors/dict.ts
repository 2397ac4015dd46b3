// Records keyed by what producers send (steps, error codes, biometric types, series, procedures):
// objects without a prototype, so "__proto__", "constructor" or "toString" are keys like any
// other instead of reaching Object.prototype (a read of "constructor" on a plain object finds a
// function; a write of "__proto__" replaces the prototype). JSON.stringify writes them exactly
// as it writes plain objects, so snapshots are unchanged.

export type Dict<T> = Record<string, T>;

export function dict<T>(): Dict<T> {
  return Object.create(null) as Dict<T>;
}

/**
 * A decoded record as a dict. JSON.parse keeps a "__proto__" key as an own field, but the object
 * it builds still inherits the rest of Object.prototype.
 */
export function toDict<T>(o: Readonly<Record<string, T>> | null | undefined): Dict<T> {
  const d = dict<T>();
  if (o) for (const k of Object.keys(o)) d[k] = o[k]!;
  return d;
}
