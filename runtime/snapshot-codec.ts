// A snapshot record's `data` is the runtime's own header (one line of JSON), a newline, then the
// actor's encoding of its state. The header carries what the runtime restores around the state:
// the event-time watermark and the armed timers. Stores treat `data` as opaque; only the shard
// host and `inspect` look inside, both through here, so the envelope has one definition.
import type { TimerDomain } from './actor.js';

/** The header as stored. Its field names are persisted: renaming one is a data migration. */
interface SnapshotHeader {
  w: number;
  t?: [string, TimerDomain, number][];
}

/** An armed timer as the envelope carries it. */
export interface SnapshotTimer {
  readonly name: string;
  readonly domain: TimerDomain;
  readonly at: number;
}

export interface DecodedSnapshot {
  /** -Infinity when the actor had seen no event time yet. */
  watermark: number;
  /** [name, domain, at] per armed timer. */
  timers: readonly [string, TimerDomain, number][];
  /** The actor's own encoding of its state. */
  body: string;
}

// JSON has no -Infinity: "no watermark yet" is written as a number below any event time.
const NO_WATERMARK = -1e300;

export function encodeSnapshot(watermark: number, timers: readonly SnapshotTimer[] | null, body: string): string {
  const header: SnapshotHeader = { w: Number.isFinite(watermark) ? watermark : NO_WATERMARK };
  if (timers && timers.length > 0) header.t = timers.map((t) => [t.name, t.domain, t.at]);
  return `${JSON.stringify(header)}\n${body}`;
}

/** Throws when the header is not JSON. */
export function decodeSnapshot(data: string): DecodedSnapshot {
  const nl = data.indexOf('\n');
  const header = JSON.parse(data.slice(0, nl)) as Partial<SnapshotHeader>;
  return { watermark: header.w ?? -Infinity, timers: header.t ?? [], body: data.slice(nl + 1) };
}

/** The actor's encoded state alone; the header is not parsed. */
export function snapshotBody(data: string): string {
  return data.slice(data.indexOf('\n') + 1);
}
