/**
 * A 53-bit hash of a string (two 32-bit FNV-1a lanes with different seeds), exact in a double.
 * Used for event-id dedup, where a collision silently drops a valid event: at 53 bits and a few
 * thousand ids per actor the odds are ~1e-13 per event.
 */
export function hash53(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  return (b >>> 11) * 0x100000000 + (a >>> 0);
}

/** Short stable id text for alert ids. */
export function hashHex(s: string): string {
  return hash53(s).toString(16).padStart(14, '0');
}
