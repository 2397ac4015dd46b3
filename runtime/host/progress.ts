/** One event batch as received: how many of its events still wait in a mailbox. */
export interface BatchRecord {
  lastSeq: number;
  parked: number;
}

/**
 * How far the host has applied the log. Batches complete out of order (an event parked behind
 * an activation holds its batch back), so `appliedSeq` is the last sequence of the longest
 * prefix of batches with nothing parked: every event up to it is applied.
 */
export class Progress {
  appliedSeq = 0;
  private readonly batches: BatchRecord[] = [];
  private head = 0;

  open(lastSeq: number): BatchRecord {
    const rec: BatchRecord = { lastSeq, parked: 0 };
    this.batches.push(rec);
    return rec;
  }

  advance(): void {
    while (this.head < this.batches.length && this.batches[this.head]!.parked === 0) {
      this.appliedSeq = this.batches[this.head]!.lastSeq;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches.splice(0, this.head);
      this.head = 0;
    }
  }
}
