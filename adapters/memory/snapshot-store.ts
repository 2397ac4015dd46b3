import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { DueChange, DueTimer, SnapshotCommit, SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';

/** The embedded snapshot store: on the main thread, so it outlives any worker. */
export class MemorySnapshotStore implements SnapshotStore {
  private readonly snaps = new Map<string, SnapshotRecord>();
  private readonly cps = new Map<number, number>();
  private readonly tokens = new Map<number, number>();
  /** Per key group: actor key → earliest processing-time due. */
  private readonly due = new Map<number, Map<string, number>>();
  commits = 0;

  async load(keys: readonly string[]): Promise<(SnapshotRecord | undefined)[]> {
    return keys.map((k) => this.snaps.get(k));
  }

  async commit(c: SnapshotCommit): Promise<void> {
    // Synchronous from here on: nothing can observe half a commit, nor slip a fence() between
    // the check and the writes.
    if (c.fence) {
      const { keyGroups, tokens } = c.fence;
      checkFence(keyGroups, tokens);
      // Like the Redis store, a commit that writes nothing is not checked.
      if (c.snapshots.length > 0 || c.keyGroups.length > 0) {
        for (let i = 0; i < keyGroups.length; i++) {
          const stored = this.tokens.get(keyGroups[i]!) ?? 0;
          if (stored > tokens[i]!) throw fenced(keyGroups[i]!, stored, tokens[i]!);
        }
      }
    }
    if (c.due) checkDue(c.due);
    for (const r of c.snapshots) this.snaps.set(r.key, { key: r.key, data: r.data, seq: r.seq });
    for (let i = 0; i < c.keyGroups.length; i++) this.cps.set(c.keyGroups[i]!, c.checkpointSeq);
    if (c.due) {
      for (const d of c.due) {
        let idx = this.due.get(d.keyGroup);
        if (d.at === null) {
          idx?.delete(d.key);
          if (idx?.size === 0) this.due.delete(d.keyGroup);
          continue;
        }
        if (!idx) this.due.set(d.keyGroup, (idx = new Map()));
        idx.set(d.key, d.at);
      }
    }
    this.commits++;
  }

  async checkpoints(keyGroups: ArrayLike<number>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < keyGroups.length; i++) out.push(this.cps.get(keyGroups[i]!) ?? 0);
    return out;
  }

  async fence(keyGroups: ArrayLike<number>, token: number): Promise<void> {
    checkToken(token, 'fence');
    for (let i = 0; i < keyGroups.length; i++) {
      const kg = keyGroups[i]!;
      if ((this.tokens.get(kg) ?? 0) < token) this.tokens.set(kg, token);
    }
  }

  async fences(keyGroups: ArrayLike<number>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < keyGroups.length; i++) out.push(this.tokens.get(keyGroups[i]!) ?? 0);
    return out;
  }

  async dueTimers(keyGroups: ArrayLike<number>): Promise<DueTimer[]> {
    const out: DueTimer[] = [];
    for (let i = 0; i < keyGroups.length; i++) {
      const kg = keyGroups[i]!;
      const idx = this.due.get(kg);
      if (idx) for (const [key, at] of idx) out.push({ keyGroup: kg, key, at });
    }
    return out;
  }

  size(): number {
    return this.snaps.size;
  }

  async close(): Promise<void> {}
}

function checkToken(token: number, what: string): void {
  if (!Number.isSafeInteger(token) || token < 0) {
    throw new VigilError(ErrorCode.InvalidOption, `snapshot ${what}: fencing token must be a non-negative safe integer, got ${token}`);
  }
}

function checkFence(keyGroups: ArrayLike<number>, tokens: ArrayLike<number>): void {
  if (keyGroups.length !== tokens.length) {
    throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: fence has ${keyGroups.length} key groups but ${tokens.length} tokens`);
  }
  for (let i = 0; i < tokens.length; i++) checkToken(tokens[i]!, 'commit');
}

/** Shared with the Redis store's rule: due times are finite epoch ms, key groups non-negative integers. */
function checkDue(due: readonly DueChange[]): void {
  for (const d of due) {
    if (!Number.isSafeInteger(d.keyGroup) || d.keyGroup < 0) {
      throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: due index key group must be a non-negative integer, got ${d.keyGroup}`);
    }
    if (d.at !== null && !Number.isFinite(d.at)) {
      throw new VigilError(ErrorCode.InvalidOption, `snapshot commit: due time of ${JSON.stringify(d.key)} must be a finite number or null, got ${d.at}`);
    }
  }
}

function fenced(keyGroup: number, stored: number, token: number): VigilError {
  return new VigilError(
    ErrorCode.Fenced,
    `snapshot commit fenced: key group ${keyGroup} has fencing token ${stored}, above the commit's ${token} (another node took it over)`,
  );
}
