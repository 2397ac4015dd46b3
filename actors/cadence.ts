// Whether a patient is continuously monitored, from the event times of its recent vitals. A
// bedside monitor or wearable reports at a steady cadence; a nurse's spot checks come hours apart.
// Only the former can "go silent": the rule is at least `minReadings` readings whose median
// interval is at most `maxIntervalMs`, and the newest reading not itself ending a silence longer
// than the signal-lost threshold (a monitor that comes back re-qualifies on its next reading;
// without this a patient moved from a monitor to spot checks would alarm on each of the first ones).

/** Inserts `t` into `ring` (ascending event times, at most `cap`), in place: no allocation once full. */
export function pushTime(ring: number[], t: number, cap: number): void {
  let i = ring.length;
  while (i > 0 && ring[i - 1]! > t) i--;
  if (ring.length >= cap) {
    if (i === 0) return; // older than every kept reading: says nothing about the current cadence
    // Drop the oldest and shift the older part down one place.
    for (let j = 1; j < i; j++) ring[j - 1] = ring[j]!;
    ring[i - 1] = t;
    return;
  }
  ring.splice(i, 0, t);
}

// Scratch for the median (one at a time per thread).
let scratch = new Float64Array(16);

export function isMonitored(ring: readonly number[], minReadings: number, maxIntervalMs: number, silenceMs: number): boolean {
  const n = ring.length;
  if (n < minReadings || n < 2) return false;
  if (ring[n - 1]! - ring[n - 2]! > silenceMs) return false;
  const k = n - 1;
  if (scratch.length < k) scratch = new Float64Array(2 * k);
  const iv = scratch;
  // Insertion sort of a handful of intervals: no view or copy per event.
  for (let i = 0; i < k; i++) {
    const x = ring[i + 1]! - ring[i]!;
    let j = i;
    while (j > 0 && iv[j - 1]! > x) {
      iv[j] = iv[j - 1]!;
      j--;
    }
    iv[j] = x;
  }
  const median = k % 2 === 1 ? iv[k >> 1]! : (iv[k / 2 - 1]! + iv[k / 2]!) / 2;
  return median <= maxIntervalMs;
}
