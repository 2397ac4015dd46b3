/** A half-open range [from, to) of key groups. */
export type Range = [number, number];

/** Sorted, merged half-open ranges. */
export function mergeRanges(r: Range[]): Range[] {
  const s = r.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export function subtractRanges(r: Range[], minus: Range[]): Range[] {
  let cur = mergeRanges(r);
  for (const [a, b] of minus) {
    const next: Range[] = [];
    for (const [x, y] of cur) {
      if (b <= x || a >= y) next.push([x, y]);
      else {
        if (x < a) next.push([x, a]);
        if (b < y) next.push([b, y]);
      }
    }
    cur = next;
  }
  return cur;
}
