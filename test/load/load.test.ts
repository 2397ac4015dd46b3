// `vigil load`: flags over scenario files, the open-loop schedule measured without coordinated
// omission (a server that stalls shows as latency and delayed frames, nothing is dropped), the
// event generator's expected outcomes, and the self-contained HTML report.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadUws } from '../../adapters/uws/binding.js';
import { EventClass, LoadEvents } from '../../load/load-events.js';
import { LoadUsageError, executeLoad, formatReport, parseLoadArgs, readScenario } from '../../load/load.js';
import type { LoadReport } from '../../load/load-report.js';
import { repoRoot } from '../../load/paths.js';
import { renderHtml } from '../../load/report-html.js';

describe('arguments and scenarios', () => {
  it('every scenario in load/scenarios parses, and the required ones exist', () => {
    const dir = `${repoRoot()}load/scenarios`;
    const names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(names).toEqual(expect.arrayContaining(['ci-gate.json', 'mixed.json', 'operating-room.json', 'ward.json']));
    for (const n of names) expect(() => readScenario(`${dir}/${n}`), n).not.toThrow();
    const mixed = readScenario(`${dir}/mixed.json`);
    expect(mixed.late! > 0 && mixed.duplicate! > 0 && mixed.invalid! > 0).toBe(true);
    const gate = readScenario(`${dir}/ci-gate.json`);
    expect(gate.duration).toBeLessThanOrEqual(10);
  });

  it('flags override the scenario, which overrides the defaults', () => {
    const { options } = parseLoadArgs(['--scenario', 'ward', '--rate', '50', '--duration', '2', '--url', 'ws://127.0.0.1:9'], { VIGIL_DEMO_TOKEN: 'tok-123456' });
    expect(options).toMatchObject({
      name: 'ward', rate: 50, duration: 2, url: 'ws://127.0.0.1:9', token: 'tok-123456', tenant: 'demo',
      patients: 2000, procedures: 0, batch: 20, mix: { telemetry: 0, vitals: 0.95, biometric: 0.05 },
    });
    const p = parseLoadArgs(['--mix', 'telemetry=1,vitals=0,biometric=0', '--token', 't', '--late', '0.1'], {});
    expect(p.options).toMatchObject({ token: 't', late: 0.1, mix: { telemetry: 1, vitals: 0, biometric: 0 }, url: 'ws://127.0.0.1:8080' });
  });

  it('refuses bad settings with a message naming them', () => {
    const bad = (args: string[], re: RegExp): void => {
      let err: unknown;
      try {
        parseLoadArgs(args, { VIGIL_DEMO_TOKEN: 'tok' });
      } catch (e) {
        err = e;
      }
      expect(err, args.join(' ')).toBeInstanceOf(LoadUsageError);
      expect((err as Error).message).toMatch(re);
    };
    bad(['--rate', 'fast'], /--rate: not a number/);
    bad(['--rate=-1'], /--rate: /);
    bad(['--late', '1.5'], /--late: /);
    bad(['--late', '0.5', '--invalid', '0.6'], /at most 1/);
    bad(['--batch', '5000'], /--batch: /);
    bad(['--mix', 'ekg=1'], /--mix: unknown event kind/);
    bad(['--procedures', '0'], /telemetry in the mix needs at least one procedure/);
    bad(['--url', 'http://x:1'], /only ws:\/\//);
    bad(['--scenario', 'no-such-scenario'], /no such file/);
    expect(() => parseLoadArgs([], {})).toThrow(/token is required/);
  });
});

describe('the event generator', () => {
  it('late and duplicate events appear only once an event was acked to base them on, with the outcome each needs', () => {
    const g = new LoadEvents({
      tenant: 'demo', patients: 2, procedures: 2, mix: { telemetry: 1, vitals: 1, biometric: 1 }, late: 0.2, duplicate: 0.2, invalid: 0.2,
      seed: 7, lateByMs: 600_000, runId: 'r', actorPrefix: '', oracleIdLimit: 100,
    });
    const now = Date.now();
    const first = g.frame(0, 50, now, 0);
    expect([...first.rec.cls].filter((c) => c === EventClass.Late || c === EventClass.Duplicate)).toEqual([]);
    expect(g.fallbacks).toBeGreaterThan(0);
    const events = JSON.parse(first.text) as { batch_id: string; events: { event_id: string }[] };
    expect(events.batch_id).toBe('r-f0');
    expect(events.events).toHaveLength(50);
    for (let i = 0; i < 50; i++) if (first.rec.cls[i] === EventClass.Ok) g.accepted(first.rec, i);
    const second = g.frame(1, 200, now + 1000, 0);
    const parsed = (JSON.parse(second.text) as { events: { event_id: string; event_time: number | string }[] }).events;
    const firstIds = new Set(events.events.map((e) => e.event_id));
    let late = 0, dup = 0;
    for (let i = 0; i < 200; i++) {
      if (second.rec.cls[i] === EventClass.Late) {
        late++;
        expect(second.rec.code[i]).toBe('too_late');
        expect(parsed[i]!.event_time).toBe(now - 600_000);
      }
      if (second.rec.cls[i] === EventClass.Duplicate) {
        dup++;
        expect(firstIds.has(parsed[i]!.event_id)).toBe(true);
      }
    }
    expect(late).toBeGreaterThan(10);
    expect(dup).toBeGreaterThan(10);
    expect(g.actorId(0)).toBe('pat-0');
    expect(g.actorId(2)).toBe('proc-0');
  });
});

// ------------------------------------------------------------------------------ coordinated omission

/** A uWS server that acks like the node (same shape, credit 4) but holds every ack during a stall. */
function stallingServer(stallFromMs: number, stallMs: number): Promise<{ port: number; close: () => void }> {
  const uws = loadUws();
  const app = uws.App();
  let firstAt = 0;
  const held: { send: () => void }[] = [];
  let releasing = false;
  app.ws<{ seq: number }>('/v1/stream', {
    maxPayloadLength: 1024 * 1024,
    upgrade: (res, req, ctx) => res.upgrade({ seq: 0 }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx),
    message: (ws, ab) => {
      const body = JSON.parse(Buffer.from(ab).toString('utf8')) as { batch_id: string; events: unknown[] };
      const u = ws.getUserData();
      const text = `{"type":"ack","seq":${++u.seq},"batch_id":"${body.batch_id}","accepted":${body.events.length},"duplicates":0,"rejected":[],"credit":4}`;
      const now = performance.now();
      if (body.events.length > 0 && firstAt === 0) firstAt = now;
      const stalled = firstAt > 0 && now >= firstAt + stallFromMs && now < firstAt + stallFromMs + stallMs;
      if (stalled || held.length > 0) {
        held.push({ send: () => ws.send(text) });
        if (!releasing) {
          releasing = true;
          setTimeout(() => {
            for (const h of held.splice(0)) h.send();
            releasing = false;
          }, firstAt + stallFromMs + stallMs - now);
        }
      } else ws.send(text);
    },
  });
  return new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (sock) => {
      if (!sock) return reject(new Error('cannot listen'));
      resolve({ port: uws.us_socket_local_port(sock as never), close: () => uws.us_listen_socket_close(sock) });
    }),
  );
}

describe('open loop: a stalled server shows up as latency, frames wait and are not dropped', () => {
  let server: { port: number; close: () => void };
  let report: LoadReport;
  beforeAll(async () => {
    server = await stallingServer(800, 1000);
    const { options } = parseLoadArgs(['--url', `ws://127.0.0.1:${server.port}`, '--token', 'x', '--rate', '1000', '--batch', '10', '--connections', '2', '--duration', '3'], {});
    report = await executeLoad(options);
  }, 30_000);
  afterAll(() => server?.close());

  it('every planned frame is sent and acked; the ones due during the stall are counted as delayed', () => {
    expect(report.frames).toMatchObject({ planned: 300, sent: 300, acked: 300, unsent: 0, unacked: 0, rejected: 0 });
    expect(report.events).toMatchObject({ sent: 3000, acked: 3000, accepted: 3000 });
    // ~100 frames are due in the 1 s stall; the 4 per connection in flight wait for acks, the rest wait for credit.
    expect(report.frames.delayed).toBeGreaterThan(70);
    expect(report.timeline.some((p) => p.delayedFrames > 0)).toBe(true);
    expect(report.mismatches.count).toBe(0);
  });

  it('latency from the intended send time shows the stall; latency from the actual send hides most of it', () => {
    // About a third of the frames were due during the stall and waited up to a second.
    expect(report.latencyMs.max).toBeGreaterThan(900);
    expect(report.latencyMs.p90).toBeGreaterThan(300);
    // A closed-loop measurement only sees the few frames that were in flight when the stall began.
    expect(report.serviceLatencyMs.p90).toBeLessThan(100);
    expect(report.serviceLatencyMs.p90).toBeLessThan(report.latencyMs.p90 / 3);
    // Keys shared with `vigil bench` results.
    expect(Object.keys(report.latencyMs)).toEqual(expect.arrayContaining(['p50', 'p90', 'p99', 'max']));
    expect(report.eventsPerSecond).toBeGreaterThan(0);
  });

  it('has the same shape for any scenario, and flags acks that disagree with what was sent', async () => {
    // The stalling server accepts everything, so the invalid and late events it "accepts" are mismatches.
    const { options } = parseLoadArgs(['--scenario', 'mixed', '--url', `ws://127.0.0.1:${server.port}`, '--token', 'x', '--rate', '500', '--duration', '1'], {});
    const mixed = await executeLoad(options);
    const shape = (x: unknown): unknown =>
      x === null || typeof x === 'string' ? 'string or null' : Array.isArray(x) ? 'array' : typeof x === 'object'
        ? Object.fromEntries(Object.entries(x).filter(([k]) => !['byCode', 'frameByCode', 'rejectedByCode'].includes(k)).map(([k, v]) => [k, shape(v)]))
        : typeof x;
    expect(shape(mixed)).toEqual(shape(report));
    expect(mixed.expected.sentByClass.invalid).toBeGreaterThan(0);
    expect(mixed.mismatches.count).toBeGreaterThanOrEqual(mixed.expected.sentByClass.invalid);
    expect(mixed.mismatches.samples[0]).toMatch(/expected (missing_field|invalid_value|out_of_range|unknown_event_type|invalid_enum|invalid_event_time|too_late), got not rejected|ack says accepted/);
    expect(JSON.parse(formatReport(mixed))).toEqual(mixed);
  }, 30_000);

  it('renders a self-contained HTML report with throughput and latency charts', () => {
    const html = renderHtml(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)?.length).toBe(3); // throughput, latency, delayed frames
    expect(html).toContain('Throughput (events per second)');
    expect(html).toContain('Ack latency from intended send time');
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|@import|url\(/i);
    // The only URL is the SVG namespace (never fetched).
    expect([...html.matchAll(/https?:\/\/[^\s"'<)]+/g)].map((m) => m[0])).toEqual(Array(3).fill('http://www.w3.org/2000/svg'));
  });
});
