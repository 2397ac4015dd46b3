// The derived read model (patient directory, open and recent alerts) kept in process: the embedded
// default of the PatientIndex and AlertIndex ports (re-exported by adapters/memory as
// MemoryReadModel). It lives here, not in adapters/memory, because the HTTP layer falls back to it
// when nothing else is wired (one adapter folder may not import another). Durable mode uses
// adapters/redis/read-model.ts; both pass test/conformance/read-model.ts, so the rules below
// (what a replay skips, orders and caps) are the same for both.
import { AlertLevel, type AlertIndex, type AlertLevelName, type AlertRecord, type OpenAlertCounts, type PatientIndex } from './ports.js';

export interface ReadModelOptions {
  /** Newest transitions kept per tenant and per minimum level (default 1000). */
  recentKeep?: number;
  /** Newest transitions kept over all tenants, for the ops page (default 1000). */
  recentAllKeep?: number;
  /**
   * Resolved alert ids remembered per tenant so a replay cannot reopen them (default 100,000).
   * A replay only re-emits what followed the last checkpoint, so this needs to cover the
   * alerts resolved within a few checkpoint intervals, with a wide margin.
   */
  resolvedKeep?: number;
}

export const READ_MODEL_DEFAULTS: Required<ReadModelOptions> = { recentKeep: 1000, recentAllKeep: 1000, resolvedKeep: 100_000 };

export function readModelOptions(o: ReadModelOptions = {}): Required<ReadModelOptions> {
  const r = { ...READ_MODEL_DEFAULTS, ...o };
  for (const k of Object.keys(READ_MODEL_DEFAULTS) as (keyof ReadModelOptions)[]) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 1) throw new RangeError(`read model option ${k} must be a positive integer, got ${String(r[k])}`);
  }
  return r;
}

const LEVELS = Object.keys(AlertLevel) as AlertLevelName[];

/**
 * The identity of a transition: its fields as JSON with sorted keys. A replay re-emits the same
 * record (ids and times come from the event stream), so an identical signature is a replay.
 */
export function alertSignature(a: AlertRecord): string {
  const keys = Object.keys(a).sort();
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = (a as unknown as Record<string, unknown>)[k];
  return JSON.stringify(o);
}

/** Event times fit below this, so `rank * TOP_SCALE + time` orders by level, then time (exact in a double). */
export const TOP_SCALE = 1e13;

/** The "top" sort key: level first, then the latest transition's event time. */
export function topScore(a: AlertRecord): number {
  const t = Math.min(Math.max(Math.floor(a.eventTime), 0), TOP_SCALE - 1);
  return AlertLevel[a.level] * TOP_SCALE + (Number.isFinite(t) ? t : 0);
}

/**
 * Code-point order (what Redis' byte-wise lexicographic order is for UTF-8), not the UTF-16 order
 * of `<`: the two differ only between surrogates and U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** A bounded newest-last buffer. */
class Ring<T> {
  private readonly buf: (T | undefined)[];
  private next = 0;
  size = 0;
  constructor(readonly cap: number) {
    this.buf = new Array<T | undefined>(cap);
  }
  push(v: T): void {
    this.buf[this.next] = v;
    this.next = (this.next + 1) % this.cap;
    if (this.size < this.cap) this.size++;
  }
  /** Newest first. */
  newest(limit: number): T[] {
    const out: T[] = [];
    const n = Math.min(limit, this.size);
    for (let i = 1; i <= n; i++) out.push(this.buf[(this.next - i + this.cap) % this.cap]!);
    return out;
  }
}

interface OpenEntry {
  rec: AlertRecord;
  score: number;
  /** Signatures of every transition applied to this alert while open. */
  sigs: string[];
}

class TenantAlerts {
  readonly open = new Map<string, OpenEntry>();
  /** Insertion-ordered, so the oldest resolved ids are forgotten first. */
  readonly resolved = new Set<string>();
  /** recent[r]: transitions at level rank >= r + 1. */
  readonly recent: Ring<AlertRecord>[];
  constructor(keep: number) {
    this.recent = LEVELS.map(() => new Ring<AlertRecord>(keep));
  }
}

export class MemoryReadModel implements PatientIndex, AlertIndex {
  private readonly opts: Required<ReadModelOptions>;
  private readonly patients = new Map<string, Set<string>>();
  private readonly sorted = new Map<string, string[]>();
  private readonly alerts = new Map<string, TenantAlerts>();
  /** all[r]: every tenant's transitions at level rank >= r + 1. */
  private readonly all: Ring<AlertRecord>[];

  constructor(options: ReadModelOptions = {}) {
    this.opts = readModelOptions(options);
    this.all = LEVELS.map(() => new Ring<AlertRecord>(this.opts.recentAllKeep));
  }

  async addPatients(pairs: readonly (readonly [string, string])[]): Promise<void> {
    for (const [tenant, id] of pairs) {
      let s = this.patients.get(tenant);
      if (!s) this.patients.set(tenant, (s = new Set()));
      if (!s.has(id)) {
        s.add(id);
        this.sorted.delete(tenant);
      }
    }
  }

  async patientPage(tenant: string, limit: number, cursor: string | null): Promise<{ ids: string[]; next: string | null; total: number }> {
    let sorted = this.sorted.get(tenant);
    if (!sorted) {
      sorted = [...(this.patients.get(tenant) ?? [])].sort(compareCodePoints);
      this.sorted.set(tenant, sorted);
    }
    let lo = 0;
    if (cursor !== null) {
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareCodePoints(sorted[mid]!, cursor) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const ids = sorted.slice(lo, lo + limit);
    return { ids, next: lo + limit < sorted.length && ids.length > 0 ? ids[ids.length - 1]! : null, total: sorted.length };
  }

  async patientCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [t, s] of this.patients) if (s.size > 0) out[t] = s.size;
    return out;
  }

  async applyAlerts(alerts: readonly AlertRecord[]): Promise<AlertRecord[]> {
    const applied: AlertRecord[] = [];
    for (const a of alerts) {
      let t = this.alerts.get(a.tenant);
      if (!t) this.alerts.set(a.tenant, (t = new TenantAlerts(this.opts.recentKeep)));
      if (t.resolved.has(a.alertId)) continue;
      const sig = alertSignature(a);
      const cur = t.open.get(a.alertId);
      const rec: AlertRecord = { ...a };
      if (cur && cur.sigs.includes(sig)) {
        // A replay: not news, but the alert is where the actor's replay has got to, so when the
        // replay ends the entry is the actor's latest even if a transition in between was
        // re-emitted differently (e.g. a timer that fired at another time).
        cur.rec = rec;
        cur.score = topScore(rec);
        continue;
      }
      if (a.state === 'resolved') {
        t.open.delete(a.alertId);
        t.resolved.add(a.alertId);
        if (t.resolved.size > this.opts.resolvedKeep) t.resolved.delete(t.resolved.values().next().value!);
      } else if (cur) {
        cur.rec = rec;
        cur.score = topScore(rec);
        cur.sigs.push(sig);
      } else {
        t.open.set(a.alertId, { rec, score: topScore(rec), sigs: [sig] });
      }
      const rank = AlertLevel[a.level];
      for (let r = 0; r < rank; r++) {
        t.recent[r]!.push(rec);
        this.all[r]!.push(rec);
      }
      applied.push(a);
    }
    return applied;
  }

  async recentAlerts(tenant: string | null, minLevel: AlertLevelName, limit: number): Promise<AlertRecord[]> {
    const r = AlertLevel[minLevel] - 1;
    const ring = tenant === null ? this.all[r] : this.alerts.get(tenant)?.recent[r];
    return (ring?.newest(limit) ?? []).map((a) => ({ ...a }));
  }

  async topAlerts(tenant: string, limit: number): Promise<AlertRecord[]> {
    const t = this.alerts.get(tenant);
    if (!t) return [];
    return [...t.open.entries()]
      .sort(([ia, a], [ib, b]) => b.score - a.score || compareCodePoints(ib, ia))
      .slice(0, limit)
      .map(([, e]) => ({ ...e.rec }));
  }

  async openAlertCounts(): Promise<Record<string, OpenAlertCounts>> {
    const out: Record<string, OpenAlertCounts> = {};
    for (const [tenant, t] of this.alerts) {
      if (t.open.size === 0) continue;
      const c: OpenAlertCounts = { low: 0, medium: 0, high: 0, critical: 0, total: 0 };
      for (const e of t.open.values()) {
        c[e.rec.level]++;
        c.total++;
      }
      out[tenant] = c;
    }
    return out;
  }

  async lookupAlert(tenant: string, alertId: string): Promise<AlertRecord | 'resolved' | null> {
    const t = this.alerts.get(tenant);
    if (!t) return null;
    const e = t.open.get(alertId);
    if (e) return { ...e.rec };
    return t.resolved.has(alertId) ? 'resolved' : null;
  }

  async close(): Promise<void> {}
}
