// The JetStream EventLog across broker restarts and outages, on a real `nats-server -js` whose
// data dir survives restart().
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { JetStreamEventLog } from '../../adapters/nats/index.js';
import { emptyBatch, pushEvent, type EventBatch } from '../../runtime/batch.js';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import type { EventLog } from '../../runtime/ports.js';
import { useNats } from '../harness/servers.js';

interface Row {
  seq: number;
  kg: number;
  kind: number;
  time: number;
  tenant: string;
  id: string;
  body: unknown;
}

const unique = (): string => randomUUID().replace(/-/g, '').slice(0, 12);

let counter = 0;
function batch(n: number, tag: string): EventBatch {
  const b = emptyBatch(n);
  for (let i = 0; i < n; i++) {
    const c = counter++;
    pushEvent(b, (c * 131) % 4096, c % 3, c % 2 ? 'acme' : 'globex', `${tag}-${i}`, 1_730_000_000_000 + c, { v: c, tag });
  }
  return b;
}

function rows(b: EventBatch, base: number): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < b.n; i++) {
    out.push({ seq: base + i, kg: b.kg[i]!, kind: b.kind[i]!, time: b.time[i]!, tenant: b.tenant[i]!, id: b.id[i]!, body: b.body[i] });
  }
  return out;
}

async function readAll(log: EventLog, after = 0, page = 1000): Promise<Row[]> {
  const out: Row[] = [];
  for (;;) {
    const b = await log.read(after, page);
    if (!b) return out;
    const got = rows(b, 0).map((r, i) => ({ ...r, seq: b.seq[i]! }));
    out.push(...got);
    after = got[got.length - 1]!.seq;
  }
}

/** Resolves with how long `p` took to reject, and the reason; fails if it resolves. */
async function rejection(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
  throw new Error('expected a rejection');
}

async function stopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    // /proc/<pid>/stat: "pid (comm) state ..."; T = stopped by a signal.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (/\) T /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

function expectUnavailable(err: unknown): void {
  expect(err).toBeInstanceOf(VigilError);
  expect((err as VigilError).code).toBe(ErrorCode.StoreUnavailable);
  expect((err as VigilError).cause).toBeDefined();
}

describe('JetStreamEventLog durability', () => {
  const nats = useNats();
  const open: EventLog[] = [];
  const make = async (stream: string, prefix: string): Promise<JetStreamEventLog> => {
    const log = await JetStreamEventLog.open({ servers: nats().url, stream, subjectPrefix: prefix });
    open.push(log);
    return log;
  };
  afterEach(async () => {
    // A test that failed while the server was down must not leave it down for the next one.
    if (!nats().running) await nats().restart();
    for (const log of open.splice(0)) await log.close();
  });

  it('appended batches survive a restart: the same log reconnects, a new one binds to the stream', async () => {
    const id = unique();
    const log = await make(`DUR_${id}`, `dur.${id}`);
    const sent: Row[] = [];
    for (const [i, n] of [100, 1, 37, 2048].entries()) {
      const b = batch(n, `r${i}`);
      const base = await log.append(b, i % 2 ? `dur-${id}-${i}` : undefined);
      sent.push(...rows(b, base));
    }
    const head = await log.head();
    expect(head).toBe(sent[sent.length - 1]!.seq);

    await nats().restart();

    // The same instance: the client reconnects on its own; calls meanwhile are bounded.
    expect(await readAll(log)).toEqual(sent);
    expect(await log.head()).toBe(head);
    // A new instance (another process after a crash) sees the same log.
    const again = await make(`DUR_${id}`, `dur.${id}`);
    expect(await again.head()).toBe(head);
    expect(await readAll(again, 0, 333)).toEqual(sent);
    // And both keep appending above everything before the restart.
    const more = batch(5, 'after');
    const base = await again.append(more);
    expect(base).toBeGreaterThan(head);
    expect(await readAll(log, head)).toEqual(rows(more, base));
  });

  it('survives SIGKILL of the broker followed by a restart', async () => {
    const id = unique();
    const log = await make(`KILL_${id}`, `kill.${id}`);
    const sent: Row[] = [];
    for (let i = 0; i < 20; i++) {
      const b = batch(100, `k${i}`);
      sent.push(...rows(b, await log.append(b, `kill-${id}-${i}`)));
    }
    nats().kill('SIGKILL');
    await nats().restart();
    expect(await readAll(log)).toEqual(sent);
  });

  it('dedups a retried append across a reconnect, within the window', async () => {
    const id = unique();
    const log = await make(`DEDUP_${id}`, `dedup.${id}`);
    const first = batch(10, 'first');
    const base = await log.append(first, `dedup-${id}`);
    const head = await log.head();

    await nats().restart();

    // The retry may be a rebuilt batch: the log keeps what it has.
    expect(await log.append(batch(10, 'retry'), `dedup-${id}`)).toBe(base);
    const other = await make(`DEDUP_${id}`, `dedup.${id}`);
    expect(await other.append(first, `dedup-${id}`)).toBe(base);
    expect(await log.head()).toBe(head);
    expect(await readAll(other)).toEqual(rows(first, base));
  });

  it('an append while the broker is down rejects with store_unavailable within 5 s; its retry lands once', async () => {
    const id = unique();
    const log = await make(`DOWN_${id}`, `down.${id}`);
    const before = batch(3, 'before');
    const beforeBase = await log.append(before);

    nats().kill('SIGKILL');
    const down = batch(4, 'down');
    const { ms, err } = await rejection(log.append(down, `down-${id}`));
    expectUnavailable(err);
    expect(ms).toBeLessThan(5000);
    // Reads and head are bounded the same way.
    const readFail = await rejection(log.read(0, 10));
    expectUnavailable(readFail.err);
    expect(readFail.ms).toBeLessThan(5000);
    expectUnavailable((await rejection(log.head())).err);

    await nats().restart();
    // The client may have flushed the timed-out publish on reconnect: the retry with the same
    // dedupId stores it at most once either way.
    const base = await log.append(down, `down-${id}`);
    expect(base).toBeGreaterThan(beforeBase);
    expect(await readAll(log)).toEqual([...rows(before, beforeBase), ...rows(down, base)]);
  });

  it('an append to a hung (SIGSTOPped) broker rejects within 5 s', async () => {
    const id = unique();
    const log = await make(`HUNG_${id}`, `hung.${id}`);
    await log.append(batch(2, 'ok'));
    nats().kill('SIGSTOP');
    // kill() does not wait: on a multi-core box the broker's threads may still answer for a
    // moment, so wait until the kernel reports the process stopped.
    await stopped(nats().pid);
    try {
      const { ms, err } = await rejection(log.append(batch(2, 'hung'), `hung-${id}`));
      expectUnavailable(err);
      expect(ms).toBeLessThan(5000);
    } finally {
      await nats().restart(); // SIGCONT + SIGTERM, then start again
    }
    expect((await readAll(log)).length).toBeGreaterThanOrEqual(2);
  });

  it('open fails with store_unavailable, within its timeout, when nothing listens', async () => {
    const url = nats().url;
    nats().kill('SIGKILL');
    const { ms, err } = await rejection(
      JetStreamEventLog.open({ servers: url, stream: `NONE_${unique()}`, subjectPrefix: 'none', timeoutMs: 1000 }),
    );
    expectUnavailable(err);
    expect(ms).toBeLessThan(5000);
  });
});
