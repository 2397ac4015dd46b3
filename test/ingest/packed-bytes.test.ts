// A routed batch's packed columns travel as UTF-8 bytes on shared memory (runtime/ingest/slab.ts):
// the same text as before, readable by every consumer (host unpack, the JetStream encoding, the
// analytics rows), and posted between threads as a reference rather than a copy.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../adapters/nats/event-log.js';
import { emptyBatch, packedText, pushEvent, unpackBatch, type EventBatch } from '../../runtime/batch.js';
import { SharedSlab } from '../../runtime/ingest/slab.js';

function columns(n: number): [string[], string[], unknown[]] {
  const tenant = Array.from({ length: n }, () => 'demo');
  const id = Array.from({ length: n }, (_, i) => `patient-${i}`);
  // Non-ASCII text: the byte length differs from the string length.
  const body = Array.from({ length: n }, (_, i) => ({ id: `e${i}`, note: i % 2 === 0 ? 'Größe ✓ 🫀' : 'ok', v: i }));
  return [tenant, id, body];
}

function packedBatch(slab: SharedSlab, n: number): EventBatch {
  const b = emptyBatch(n);
  for (let i = 0; i < n; i++) pushEvent(b, i % 7, 0, 'x', 'x', 1000 + i, null);
  const cols = columns(n);
  return { ...b, tenant: [], id: [], body: [], packed: slab.encode(JSON.stringify(cols)) };
}

function receive(port: MessagePort): Promise<unknown> {
  return new Promise((resolve) => port.once('message', resolve));
}

describe('packed columns as shared bytes', () => {
  it('holds exactly the UTF-8 text, each batch its own bytes, slab after slab', () => {
    const slab = new SharedSlab(1024);
    const texts = Array.from({ length: 50 }, (_, i) => JSON.stringify(columns(1 + (i % 5))));
    const views = texts.map((t) => slab.encode(t));
    for (let i = 0; i < texts.length; i++) {
      expect(views[i]!.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(views[i]!.byteLength).toBe(Buffer.byteLength(texts[i]!));
      expect(packedText(views[i]!)).toBe(texts[i]);
    }
    // Later batches never overwrite earlier ones, across slabs (1 KB each here) and for text bigger than a slab.
    const big = JSON.stringify(columns(200));
    const bigView = slab.encode(big);
    expect(packedText(bigView)).toBe(big);
    for (let i = 0; i < texts.length; i++) expect(packedText(views[i]!)).toBe(texts[i]);
    expect(new Set(views.map((v) => v.buffer)).size).toBeGreaterThan(1);
  });

  it('unpacks into the columns and leaves the bytes for the other readers', () => {
    const b = packedBatch(new SharedSlab(), 9);
    const bytes = b.packed;
    unpackBatch(b);
    const [tenant, id, body] = columns(9);
    expect(b.tenant).toEqual(tenant);
    expect(b.id).toEqual(id);
    expect(b.body).toEqual(body);
    expect(b.packed).toBe(bytes);
  });

  it('encodes for the JetStream log exactly as the same batch packed as a string', () => {
    const b = packedBatch(new SharedSlab(), 12);
    const asString: EventBatch = { ...b, packed: packedText(b.packed!) };
    const fromBytes = encodeBatch(b);
    expect(Buffer.from(fromBytes).equals(Buffer.from(encodeBatch(asString)))).toBe(true);
    const d = decodeBatch(fromBytes);
    const [tenant, id, body] = columns(12);
    expect(d.n).toBe(12);
    expect(d.tenant).toEqual(tenant);
    expect(d.id).toEqual(id);
    expect(d.body).toEqual(body);
    expect(Array.from(d.time)).toEqual(Array.from(b.time));
  });

  it('crosses a MessagePort as shared memory, not a copy', async () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const b = packedBatch(new SharedSlab(), 5);
      const got = receive(port2);
      port1.postMessage({ batch: b });
      const r = (await got) as { batch: EventBatch };
      const view = r.batch.packed as Uint8Array;
      expect(view.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(packedText(view)).toBe(packedText(b.packed!));
      // One memory: a write on this side is seen on the other (never done outside this test).
      const original = (b.packed as Uint8Array)[0]!;
      (b.packed as Uint8Array)[0] = 0x20;
      expect(view[0]).toBe(0x20);
      (b.packed as Uint8Array)[0] = original;
    } finally {
      port1.close();
      port2.close();
    }
  });
});
