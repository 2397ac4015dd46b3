// The dead-letter API without a store or node: request checks (GET /v1/dlq parameters, the
// replay body), and how a replay cuts letters into frames, reads the ack back onto each letter
// and marks them, and runs one replay at a time. The store is a stub answering the two reads;
// the SQL itself runs on both engines in test/analytics/dlq-replay.integration.test.ts.
import { describe, expect, it } from 'vitest';
import type { FrameOutcome } from '../../actors/ingest.js';
import type { AnalyticsStore } from '../../adapters/clickhouse/store.js';
import { createDlqApi, type ReplayIngest } from '../../adapters/compose/dlq.js';
import { parseDlqQuery, parseReplayBody, REPLAY_MAX_LIMIT } from '../../adapters/http/dlq.js';
import { ApiError } from '../../adapters/http/errors.js';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiError) return `${e.status} ${e.code}`;
    throw e;
  }
  return 'no error';
};

describe('GET /v1/dlq parameters', () => {
  it('reads code, since (RFC 3339 or epoch ms) and cursor; absent or empty is open', () => {
    expect(parseDlqQuery(new URLSearchParams(''))).toEqual({ code: null, since: null, cursor: null });
    expect(parseDlqQuery(new URLSearchParams('code=&since=&cursor='))).toEqual({ code: null, since: null, cursor: null });
    expect(parseDlqQuery(new URLSearchParams('code=unknown_event_type&since=2026-12-03T10:00:00Z&cursor=1764756000000.123'))).toEqual({
      code: 'unknown_event_type', since: Date.UTC(2026, 11, 3, 10), cursor: { ms: 1764756000000, id: '123' },
    });
    expect(parseDlqQuery(new URLSearchParams('since=1764756000000')).since).toBe(1764756000000);
  });

  it.each(['code=Unknown', "code='x'", 'code=a%20b', `code=${'a'.repeat(65)}`, 'since=yesterday', 'since=9e15', `since=${'9'.repeat(20)}`, 'cursor=abc', 'cursor=1.2.3', 'cursor=1.x'])(
    '%s is 400 invalid_parameter', (q) => {
      expect(codeOf(() => parseDlqQuery(new URLSearchParams(q)))).toBe('400 invalid_parameter');
    },
  );
});

describe('POST /v1/dlq:replay body', () => {
  it('takes code and since (string or epoch ms), limit defaulting to 1000', () => {
    expect(parseReplayBody('{"code":"out_of_range","since":"2026-12-03T10:00:00Z"}')).toEqual({ code: 'out_of_range', since: Date.UTC(2026, 11, 3, 10), limit: 1000 });
    expect(parseReplayBody(`{"code":"x","since":0,"limit":${REPLAY_MAX_LIMIT}}`)).toEqual({ code: 'x', since: 0, limit: REPLAY_MAX_LIMIT });
  });

  it.each([
    ['', '400 invalid_json'], ['[]', '400 invalid_json'], ['null', '400 invalid_json'], ['{"code":"x"', '400 invalid_json'],
    ['{"since":0}', '400 invalid_parameter'], ['{"code":"x"}', '400 invalid_parameter'], ['{"code":"","since":0}', '400 invalid_parameter'],
    ['{"code":1,"since":0}', '400 invalid_parameter'], ['{"code":"x","since":true}', '400 invalid_parameter'], ['{"code":"x","since":"soon"}', '400 invalid_parameter'],
    ['{"code":"x","since":0,"limit":0}', '400 invalid_parameter'], ['{"code":"x","since":0,"limit":1.5}', '400 invalid_parameter'],
    [`{"code":"x","since":0,"limit":${REPLAY_MAX_LIMIT + 1}}`, '400 invalid_parameter'], ['{"code":"x","since":0,"until":1}', '400 invalid_field'],
  ])('%s is %s', (body, want) => {
    expect(codeOf(() => parseReplayBody(body))).toBe(want);
  });
});

/** A store answering readReplayable's two queries and recording markReplayed's inserts. */
function stubStore(letters: { letter_id: string; event: string }[]): AnalyticsStore & { inserts: string[]; queries: string[] } {
  const inserts: string[] = [];
  const queries: string[] = [];
  return {
    kind: 'chdb', database: 'stub', inserts, queries,
    async command(sql: string) {
      inserts.push(sql);
    },
    async query<T>(sql: string): Promise<T[]> {
      queries.push(sql);
      if (sql.includes('countIf')) return [{ not_replayable: '2', already: '5' }] as T[];
      const limit = Number(/LIMIT (\d+)\s*$/.exec(sql)![1]);
      return letters.slice(0, limit) as T[];
    },
    insert: async () => undefined, insertRaw: async () => undefined, ping: async () => true, close: async () => undefined,
  };
}

/** Ingest that refuses events whose event_id starts with "bad", counts ids starting "dup" as duplicates. */
function stubIngest(): ReplayIngest & { frames: { tenant: string; source: string; text: string }[] } {
  const frames: { tenant: string; source: string; text: string }[] = [];
  return {
    frames,
    writable: () => true,
    whenWritable: async () => undefined,
    submitFrame(_lane, tenant, source, bytes, done: (o: FrameOutcome) => void) {
      const text = new TextDecoder().decode(bytes);
      frames.push({ tenant, source, text });
      const f = JSON.parse(text) as { batch_id: string; events: { event_id: string }[] };
      const rejected = f.events.flatMap((e, index) => (e.event_id.startsWith('bad') ? [{ index, event_id: e.event_id, code: 'out_of_range', message: 'm' }] : []));
      const duplicates = f.events.filter((e) => e.event_id.startsWith('dup')).length;
      // Answered later, as the real pipeline does.
      setTimeout(() => done({ ack: { batch_id: f.batch_id, accepted: f.events.length - rejected.length - duplicates, duplicates, rejected }, status: 0, unavailable: false, items: f.events.length }), 5);
    },
  };
}

const letter = (id: string, pad = 0) => ({ letter_id: `L${id}`, event: JSON.stringify({ event_id: id, tenant_id: 't', pad: 'x'.repeat(pad) }) });

describe('replay', () => {
  it('cuts letters into frames of at most maxBatchEvents, submits them as source replay, marks each with its own outcome', async () => {
    const letters = [letter('ok-1'), letter('bad-1'), letter('dup-1'), letter('ok-2'), letter('bad-2')];
    const store = stubStore(letters);
    const ingest = stubIngest();
    const audit: unknown[] = [];
    const api = createDlqApi({ store, ingest, maxBatchEvents: 2, maxFrameBytes: 1 << 20, now: () => 1_764_756_000_000, audit: (r) => audit.push(r) });
    const r = await api.replay('t', { code: 'unknown_event_type', since: 0, limit: 1000 });
    expect(r).toEqual({ replayed: 5, accepted: 2, duplicates: 1, rejected: 2, already_replayed: 5, not_replayable: 2, more: false, until: '2025-12-03T10:00:00.000Z' });
    expect(ingest.frames.map((f) => [f.tenant, f.source, (JSON.parse(f.text) as { events: { event_id: string }[] }).events.map((e) => e.event_id)])).toEqual([
      ['t', 'replay', ['ok-1', 'bad-1']], ['t', 'replay', ['dup-1', 'ok-2']], ['t', 'replay', ['bad-2']],
    ]);
    // The events go as stored, byte for byte.
    expect(ingest.frames[0]!.text).toContain(letters[0]!.event);
    const marked = store.inserts.join('\n');
    expect(store.inserts).toHaveLength(3);
    for (const [id, outcome] of [['Lok-1', 'accepted'], ['Lbad-1', 'rejected'], ['Ldup-1', 'accepted'], ['Lok-2', 'accepted'], ['Lbad-2', 'rejected']]) {
      expect(marked).toContain(`('t', '${id}', '${outcome}', `);
    }
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({ tenant_id: 't', source: 'replay', input_rows: 2, output_rows: 1, dlq_rows: 1, status: 'partial' });
    // Only letters rejected at or before the replay's start are read.
    expect(store.queries[0]).toContain('rejected_at_ms <= 1764756000000');
  });

  it('keeps a frame under maxFrameBytes, and says more when the range holds over limit letters', async () => {
    const store = stubStore([letter('a', 400), letter('b', 400), letter('c', 400)]);
    const ingest = stubIngest();
    const api = createDlqApi({ store, ingest, maxBatchEvents: 1000, maxFrameBytes: 1000 });
    const r = await api.replay('t', { code: 'x', since: 0, limit: 2 });
    expect(r).toMatchObject({ replayed: 2, more: true });
    expect(ingest.frames).toHaveLength(2);
    for (const f of ingest.frames) expect(Buffer.byteLength(f.text)).toBeLessThanOrEqual(1000);
  });

  it('runs one replay at a time', async () => {
    const store = stubStore([letter('a')]);
    const ingest = stubIngest();
    let active = 0;
    let most = 0;
    const inner = ingest.submitFrame.bind(ingest);
    ingest.submitFrame = (lane, tenant, source, bytes, done) => {
      most = Math.max(most, ++active);
      inner(lane, tenant, source, bytes, (o) => {
        active--;
        done(o);
      });
    };
    const api = createDlqApi({ store, ingest, maxBatchEvents: 10, maxFrameBytes: 1 << 20 });
    await Promise.all([1, 2, 3].map(() => api.replay('t', { code: 'x', since: 0, limit: 10 })));
    expect(ingest.frames).toHaveLength(3);
    expect(most).toBe(1);
  });

  it('a node that does not take the events stops the replay with 503 unavailable, marking nothing of that frame', async () => {
    const store = stubStore([letter('a'), letter('b')]);
    const ingest = stubIngest();
    ingest.submitFrame = (_l, _t, _s, _b, done) => done({ ack: { batch_id: null, accepted: 0, duplicates: 0, rejected: [{ index: null as unknown as number, event_id: null, code: 'unavailable', message: 'events not taken: closing' }] }, status: 503, unavailable: true, items: 0 });
    const api = createDlqApi({ store, ingest, maxBatchEvents: 1, maxFrameBytes: 1 << 20 });
    const err = await api.replay('t', { code: 'x', since: 0, limit: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect([(err as ApiError).status, (err as ApiError).message]).toEqual([503, 'replay stopped after 0 letters (they are marked; call again to go on): events not taken: closing']);
    expect(store.inserts).toEqual([]);
    // The queue goes on after a failure.
    ingest.submitFrame = stubIngest().submitFrame;
    await expect(api.replay('t', { code: 'x', since: 0, limit: 10 })).resolves.toMatchObject({ replayed: 2 });
  });
});
