import type { SnapshotCommit, SnapshotRecord, SnapshotStore } from '../../runtime/ports.js';

/** The embedded snapshot store: on the main thread, so it outlives any worker. */
export class MemorySnapshotStore implements SnapshotStore {
  private readonly snaps = new Map<string, SnapshotRecord>();
  private readonly cps = new Map<number, number>();
  commits = 0;

  async load(keys: readonly string[]): Promise<(SnapshotRecord | undefined)[]> {
    return keys.map((k) => this.snaps.get(k));
  }

  async commit(c: SnapshotCommit): Promise<void> {
    // Synchronous from here on: nothing can observe half a commit.
    for (const r of c.snapshots) this.snaps.set(r.key, { key: r.key, data: r.data, seq: r.seq });
    for (let i = 0; i < c.keyGroups.length; i++) this.cps.set(c.keyGroups[i]!, c.checkpointSeq);
    this.commits++;
  }

  async checkpoints(keyGroups: ArrayLike<number>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < keyGroups.length; i++) out.push(this.cps.get(keyGroups[i]!) ?? 0);
    return out;
  }

  size(): number {
    return this.snaps.size;
  }

  async close(): Promise<void> {}
}
