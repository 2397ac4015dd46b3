// Text as UTF-8 bytes on shared memory, for a routed batch's packed columns: a view of a
// SharedArrayBuffer crosses every thread it is posted to (main, its shard host, the analytics
// worker) as a reference, where a string is copied by each postMessage and lands on the main
// thread's heap (and in its garbage collector) while the batch is in flight.
//
// Bytes are bump-allocated from slabs and never reused: a slab is freed once no view of it is
// reachable in any thread, so nobody has to say when a batch is done with. Slabs are small enough
// that one long-lived batch (e.g. kept by an in-memory log until its trim) pins little memory.
import { Buffer } from 'node:buffer';

const SLAB_BYTES = 256 * 1024;

export class SharedSlab {
  private buf: SharedArrayBuffer | null = null;
  private view: Buffer | null = null;
  private off = 0;

  constructor(private readonly slabBytes = SLAB_BYTES) {}

  /** `text` as UTF-8 in a view of shared memory, exactly its size; never written again. */
  encode(text: string): Uint8Array {
    const len = Buffer.byteLength(text, 'utf8');
    if (this.buf === null || this.off + len > this.buf.byteLength) {
      // Text bigger than a slab gets its own buffer; the current slab's rest stays for the next.
      if (len > this.slabBytes >>> 2) {
        const own = new SharedArrayBuffer(len);
        Buffer.from(own).write(text, 0, len, 'utf8');
        return new Uint8Array(own);
      }
      this.buf = new SharedArrayBuffer(this.slabBytes);
      this.view = Buffer.from(this.buf);
      this.off = 0;
    }
    const at = this.off;
    this.view!.write(text, at, len, 'utf8');
    this.off = at + len;
    return new Uint8Array(this.buf, at, len);
  }
}
