// `vigil load` (SPEC.md §4): many WebSocket connections driven open loop. Frames are due at fixed
// times from the rate, whatever the server does; latency is measured from that *intended* time,
// so a server that stalls shows up as latency instead of silently slowing the client down
// (coordinated omission). A frame due while its connection's credit is used up waits in a queue
// and is counted as delayed, never dropped. Every ack is checked against what each event should
// get (accepted, duplicate, too_late, the invalid event's code), and the report keeps the oracle:
// which event ids each actor accepted. See load-report.ts for the report's shape.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CLASS_NAMES, EventClass, LoadEvents, type FrameRecord } from './load-events.js';
import { latencyStats, round3, type LoadReport, type LoadRunSettings, type OracleActor, type TimelinePoint } from './load-report.js';
import { repoRoot } from './paths.js';
import { renderHtml } from './report-html.js';
import { WsClient } from './ws-client.js';

const fraction = z.number().min(0).max(1);

/** A scenario file: any of these keys; command-line flags override them. */
export const scenarioSchema = z
  .object({
    name: z.string().optional(),
    description: z.string().optional(),
    url: z.string().optional(),
    tenant: z.string().min(1).optional(),
    rate: z.number().positive().optional(),
    duration: z.number().positive().optional(),
    connections: z.number().int().min(1).max(1024).optional(),
    batch: z.number().int().min(1).max(1000).optional(),
    patients: z.number().int().min(1).optional(),
    procedures: z.number().int().min(0).optional(),
    mix: z.object({ telemetry: z.number().min(0), vitals: z.number().min(0), biometric: z.number().min(0) }).partial().strict().optional(),
    late: fraction.optional(),
    duplicate: fraction.optional(),
    invalid: fraction.optional(),
    seed: z.number().int().optional(),
    lateByMs: z.number().int().positive().optional(),
    drainSeconds: z.number().positive().optional(),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;

export interface LoadOptions extends LoadRunSettings {
  name: string;
  description: string;
  scenarioFile: string | null;
  token: string;
  actorPrefix: string | null;
  oracleIdLimit: number;
}

export const DEFAULTS = {
  url: 'ws://127.0.0.1:8080',
  tenant: 'demo',
  rate: 1000,
  duration: 10,
  connections: 4,
  batch: 10,
  patients: 100,
  procedures: 20,
  mix: { telemetry: 0.75, vitals: 0.2, biometric: 0.05 },
  late: 0,
  duplicate: 0,
  invalid: 0,
  seed: 1,
  // Beyond both default allowed latenesses (patient 5 min, procedure 60 s).
  lateByMs: 10 * 60_000,
  drainSeconds: 30,
  oracleIdLimit: 2_000_000,
} as const;

export class LoadUsageError extends Error {
  override name = 'LoadUsageError';
}

/** `--scenario NAME` finds load/scenarios/NAME.json when NAME is not a file. */
export function resolveScenario(name: string): string {
  const candidates = [resolve(name), `${repoRoot()}load/scenarios/${name}`, `${repoRoot()}load/scenarios/${name}.json`];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new LoadUsageError(`scenario ${name}: no such file (looked in ${candidates.join(', ')})`);
  return found;
}

export function readScenario(file: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new LoadUsageError(`scenario ${file}: ${(err as Error).message}`);
  }
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new LoadUsageError(`scenario ${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

const FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  tenant: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  connections: { type: 'string' },
  batch: { type: 'string' },
  patients: { type: 'string' },
  procedures: { type: 'string' },
  mix: { type: 'string' },
  late: { type: 'string' },
  duplicate: { type: 'string' },
  invalid: { type: 'string' },
  seed: { type: 'string' },
  'late-by-ms': { type: 'string' },
  drain: { type: 'string' },
  'actor-prefix': { type: 'string' },
  'oracle-ids': { type: 'string' },
  scenario: { type: 'string' },
  json: { type: 'string' },
  html: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const LOAD_USAGE = `usage: vigil load [--scenario FILE|NAME] [options]

  --url ws://HOST:PORT      node to load (default ${DEFAULTS.url}; path /v1/stream)
  --token T                 tenant token (default $VIGIL_DEMO_TOKEN)
  --tenant T                tenant id in the envelopes (default ${DEFAULTS.tenant})
  --rate N                  events per second, all connections together (open loop)
  --duration S              seconds of schedule (then up to --drain S for the last acks)
  --connections N           WebSocket connections
  --batch N                 events per frame
  --patients N --procedures N
  --mix telemetry=W,vitals=W,biometric=W
  --late F --duplicate F --invalid F
                            fractions 0..1 of late (-> too_late), duplicate (resent ids)
                            and invalid events (-> their rejection code)
  --seed N                  choices are reproducible for a seed
  --scenario FILE|NAME      JSON scenario (load/scenarios/NAME.json); flags override it
  --json FILE               write the JSON report
  --html FILE               write the HTML report (charts of throughput and latency)
  --quiet                   no per-second progress`;

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new LoadUsageError(`--${flag}: not a number: ${JSON.stringify(v)}`);
  return n;
}

function parseMix(v: string): Partial<LoadOptions['mix']> {
  const out: Record<string, number> = {};
  for (const part of v.split(',')) {
    const [k, w] = part.split('=');
    if (k !== 'telemetry' && k !== 'vitals' && k !== 'biometric') throw new LoadUsageError(`--mix: unknown event kind ${JSON.stringify(k)} (telemetry, vitals, biometric)`);
    out[k] = num('mix', w)!;
  }
  return out;
}

export interface ParsedLoadArgs {
  options: LoadOptions;
  json: string | null;
  html: string | null;
  quiet: boolean;
  help: boolean;
}

/** Flags over the scenario file over the defaults, validated (errors name the setting). */
export function parseLoadArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedLoadArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true }));
  } catch (err) {
    throw new LoadUsageError((err as Error).message);
  }
  const file = values.scenario ? resolveScenario(values.scenario) : null;
  const sc: Scenario = file ? readScenario(file) : {};
  const flagMix = values.mix ? parseMix(values.mix) : undefined;
  const flags: Scenario = {
    url: values.url, tenant: values.tenant, rate: num('rate', values.rate), duration: num('duration', values.duration),
    connections: num('connections', values.connections), batch: num('batch', values.batch), patients: num('patients', values.patients),
    procedures: num('procedures', values.procedures), late: num('late', values.late), duplicate: num('duplicate', values.duplicate),
    invalid: num('invalid', values.invalid), seed: num('seed', values.seed), lateByMs: num('late-by-ms', values['late-by-ms']),
    drainSeconds: num('drain', values.drain),
  };
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as Scenario;
  const checked = scenarioSchema.safeParse({ ...sc, ...defined, ...(flagMix ? { mix: { ...sc.mix, ...flagMix } } : {}) });
  if (!checked.success) {
    const i = checked.error.issues[0]!;
    throw new LoadUsageError(`--${String(i.path[0] ?? '')}: ${i.message}`);
  }
  const m = checked.data;
  const mixGiven = m.mix !== undefined;
  const mix = mixGiven ? { telemetry: m.mix!.telemetry ?? 0, vitals: m.mix!.vitals ?? 0, biometric: m.mix!.biometric ?? 0 } : { ...DEFAULTS.mix };
  const options: LoadOptions = {
    name: m.name ?? (file ? file.split('/').pop()!.replace(/\.json$/, '') : 'ad hoc'),
    description: m.description ?? '',
    scenarioFile: file,
    url: m.url ?? DEFAULTS.url,
    token: values.token ?? env.VIGIL_DEMO_TOKEN ?? '',
    tenant: m.tenant ?? DEFAULTS.tenant,
    rate: m.rate ?? DEFAULTS.rate,
    duration: m.duration ?? DEFAULTS.duration,
    connections: m.connections ?? DEFAULTS.connections,
    batch: m.batch ?? DEFAULTS.batch,
    patients: m.patients ?? DEFAULTS.patients,
    procedures: m.procedures ?? (mixGiven && mix.telemetry === 0 ? 0 : DEFAULTS.procedures),
    mix,
    late: m.late ?? DEFAULTS.late,
    duplicate: m.duplicate ?? DEFAULTS.duplicate,
    invalid: m.invalid ?? DEFAULTS.invalid,
    seed: m.seed ?? DEFAULTS.seed,
    lateByMs: m.lateByMs ?? DEFAULTS.lateByMs,
    drainSeconds: m.drainSeconds ?? DEFAULTS.drainSeconds,
    actorPrefix: values['actor-prefix'] ?? null,
    oracleIdLimit: num('oracle-ids', values['oracle-ids']) ?? DEFAULTS.oracleIdLimit,
  };
  if (!values.help) validate(options);
  return { options, json: values.json ?? null, html: values.html ?? null, quiet: values.quiet, help: values.help };
}

export function validate(o: LoadOptions): void {
  if (!o.token) throw new LoadUsageError('a tenant token is required: --token or VIGIL_DEMO_TOKEN');
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new LoadUsageError(`--url: not a URL: ${o.url}`);
  }
  if (u.protocol !== 'ws:') throw new LoadUsageError(`--url: only ws:// is supported, got ${u.protocol}//`);
  if (o.late + o.duplicate + o.invalid > 1) throw new LoadUsageError('--late + --duplicate + --invalid must be at most 1');
  const w = o.mix.telemetry + o.mix.vitals + o.mix.biometric;
  if (!(w > 0)) throw new LoadUsageError('--mix: at least one event kind needs a weight above 0');
  if (o.mix.telemetry > 0 && o.procedures < 1) throw new LoadUsageError('--procedures: telemetry in the mix needs at least one procedure');
  if (o.rate / o.batch > 200_000) throw new LoadUsageError('--rate / --batch: more than 200000 frames per second');
}

// ------------------------------------------------------------------------------ the run

/** A FIFO with O(1) shift (backlogs can grow long while a server stalls). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

interface Conn {
  ws: WsClient;
  /** Frames the server lets us have un-acked; 1 until the first ack says. */
  credit: number;
  inFlight: Queue<FrameRecord>;
  backlog: Queue<number>;
  closed: boolean;
}

interface Bucket {
  sent: number;
  acked: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  delayedFrames: number;
  lat: number[];
}

interface Ack {
  type?: string;
  batch_id?: string | null;
  accepted?: number;
  duplicates?: number;
  rejected?: { index: number | null; event_id?: string | null; code: string; message?: string }[];
  credit?: number;
}

export interface LoadHooks {
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Fault injection for the CI gate's self-test: one valid event is recorded and acked as accepted but never sent. */
  injectDrop?: boolean;
}

function probeCredit(c: Conn, batchId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ack to an empty frame within 10 s')), 10_000);
    c.ws.onClose = (code, reason) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code} ${reason} before acking an empty frame`));
    };
    c.ws.onMessage = (text) => {
      const ack = JSON.parse(text) as Ack;
      if (ack.type !== 'ack') return;
      clearTimeout(timer);
      if (ack.batch_id !== batchId || (ack.rejected ?? []).length > 0) return reject(new Error(`unexpected answer to an empty frame: ${text.slice(0, 200)}`));
      if (typeof ack.credit === 'number' && ack.credit > 0) c.credit = ack.credit;
      resolve();
    };
    c.ws.send(`{"batch_id":"${batchId}","events":[]}`);
  });
}

function newRunId(): string {
  return `ld${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function executeLoad(o: LoadOptions, hooks: LoadHooks = {}): Promise<LoadReport> {
  validate(o);
  const log = hooks.log ?? (() => undefined);
  const url = new URL(o.url);
  const path = url.pathname === '/' || url.pathname === '' ? '/v1/stream' : `${url.pathname}${url.search}`;
  const runId = newRunId();
  const gen = new LoadEvents({
    tenant: o.tenant, patients: o.patients, procedures: o.procedures, mix: o.mix, late: o.late, duplicate: o.duplicate, invalid: o.invalid,
    seed: o.seed, lateByMs: o.lateByMs, runId, actorPrefix: o.actorPrefix ?? `${runId}-`, oracleIdLimit: o.oracleIdLimit,
  });
  const startedAt = new Date().toISOString();
  const closes: { code: number; reason: string }[] = [];
  const errors: string[] = [];
  const mismatchSamples: string[] = [];
  let mismatches = 0;
  const mismatch = (m: string): void => {
    mismatches++;
    if (mismatchSamples.length < 20) mismatchSamples.push(m);
  };

  const conns: Conn[] = [];
  const opened = await Promise.allSettled(
    Array.from({ length: o.connections }, () =>
      WsClient.open({ host: url.hostname, port: Number(url.port || 80), path, headers: { authorization: `Bearer ${o.token}` }, timeoutMs: 10_000 }),
    ),
  );
  for (const r of opened) {
    if (r.status === 'fulfilled') conns.push({ ws: r.value, credit: 1, inFlight: new Queue(), backlog: new Queue(), closed: false });
    else errors.push(`connect: ${(r.reason as Error).message}`);
  }
  if (conns.length === 0) throw new Error(`vigil load: no connection to ${o.url}: ${errors[0] ?? 'unknown error'}`);
  // An empty frame per connection before the clock starts: its ack tells the credit.
  await Promise.all(conns.map((c, i) => probeCredit(c, `${runId}-probe${i}`).catch((err: unknown) => {
    errors.push(`probe: ${(err as Error).message}`);
    c.closed = true;
    c.ws.destroy();
  })));
  if (conns.every((c) => c.closed)) throw new Error(`vigil load: no usable connection to ${o.url}: ${errors.join('; ')}`);

  const frameMs = (o.batch / o.rate) * 1000;
  const planned = Math.max(1, Math.floor((o.duration * o.rate) / o.batch));
  const lat: number[] = [];
  const svc: number[] = [];
  const lag: number[] = [];
  const buckets: Bucket[] = [];
  const rejectedByCode: Record<string, number> = {};
  const frameByCode: Record<string, number> = {};
  const faults: LoadReport['faults'] = [];
  let framesSent = 0, framesAcked = 0, framesDelayed = 0, framesRejected = 0, framesLost = 0;
  let eventsSent = 0, eventsAcked = 0, accepted = 0, duplicates = 0, rejected = 0;
  let next = 0;
  let frameNo = 0;
  let lastAck = 0;
  let drainTimedOut = false;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let progress: NodeJS.Timeout | undefined = undefined;
  const t0 = performance.now() + 20;
  const bucket = (now: number): Bucket => {
    const i = Math.max(0, Math.floor((now - t0) / 1000));
    for (let j = buckets.length; j <= i; j++) buckets.push({ sent: 0, acked: 0, accepted: 0, duplicates: 0, rejected: 0, delayedFrames: 0, lat: [] });
    return buckets[i]!;
  };

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    clearTimeout(drainTimer);
    clearInterval(progress);
    resolveDone();
  };
  const checkDone = (): void => {
    if (next < planned) return;
    if (conns.every((c) => c.closed || (c.inFlight.size === 0 && c.backlog.size === 0))) finish();
  };

  const send = (c: Conn, intended: number, now: number): void => {
    const drop = hooks.injectDrop === true && faults.length === 0 && next >= planned / 4;
    const { rec, text } = gen.frame(frameNo++, o.batch, Date.now(), intended, drop);
    if (rec.dropped >= 0) {
      const a = rec.actor[rec.dropped]!;
      faults.push({ type: 'drop-acked-event', actor: `${gen.actorKind(a)}/${gen.actorId(a)}`, eventId: `${gen.eventIdPrefix}${rec.seq[rec.dropped]!}` });
    }
    rec.sentAt = now;
    c.inFlight.push(rec);
    c.ws.send(text);
    framesSent++;
    eventsSent += rec.cls.length;
    bucket(now).sent += rec.cls.length;
    lag.push(now - intended);
  };

  const pump = (c: Conn, now: number): void => {
    while (!c.closed && c.backlog.size > 0 && c.inFlight.size < c.credit) send(c, c.backlog.shift()!, now);
  };

  const onAck = (c: Conn, text: string): void => {
    const now = performance.now();
    let ack: Ack;
    try {
      ack = JSON.parse(text) as Ack;
    } catch {
      errors.push(`unreadable message: ${text.slice(0, 200)}`);
      return;
    }
    if (ack.type !== 'ack') return;
    const rec = c.inFlight.shift();
    if (!rec) {
      errors.push(`ack seq ${String((ack as { seq?: unknown }).seq)} without a frame in flight`);
      return;
    }
    framesAcked++;
    lastAck = now;
    if (typeof ack.credit === 'number' && ack.credit > 0) c.credit = ack.credit;
    const n = rec.cls.length;
    const l = now - rec.intended;
    lat.push(l);
    svc.push(now - rec.sentAt);
    const b = bucket(now);
    b.lat.push(l);
    b.acked += n;
    eventsAcked += n;
    if (ack.batch_id !== rec.batchId) mismatch(`ack for batch ${String(ack.batch_id)} arrived for frame ${rec.batchId} (acks out of order?)`);
    const rej = ack.rejected ?? [];
    const frameLevel = rej.find((r) => r.index === null);
    if (frameLevel) {
      framesRejected++;
      frameByCode[frameLevel.code] = (frameByCode[frameLevel.code] ?? 0) + 1;
      mismatch(`frame ${rec.batchId} refused as a whole: ${frameLevel.code}: ${frameLevel.message ?? ''}`);
    } else {
      const got = new Map<number, string>();
      for (const r of rej) {
        let i = r.index!;
        if (rec.dropped >= 0 && i >= rec.dropped) i++; // the wire frame lacked the dropped event
        got.set(i, r.code);
        rejectedByCode[r.code] = (rejectedByCode[r.code] ?? 0) + 1;
      }
      rejected += rej.length;
      b.rejected += rej.length;
      let ok = 0, dup = 0;
      for (let i = 0; i < n; i++) {
        const cls = rec.cls[i]!;
        const code = got.get(i);
        const want = rec.code[i];
        if (want) {
          if (code !== want) mismatch(`event ${gen.eventIdPrefix}${rec.seq[i]!} (${CLASS_NAMES[cls]}): expected ${want}, got ${code ?? 'not rejected'}`);
        } else if (code !== undefined) {
          mismatch(`event ${gen.eventIdPrefix}${rec.seq[i]!} (${CLASS_NAMES[cls]}): expected ${cls === EventClass.Ok ? 'accepted' : 'duplicate'}, got ${code}`);
        } else if (cls === EventClass.Ok) ok++;
        else dup++;
      }
      const ackAccepted = (ack.accepted ?? 0) + (rec.dropped >= 0 ? 1 : 0); // the injected fault: "acked" but never sent
      const ackDuplicates = ack.duplicates ?? 0;
      accepted += ackAccepted;
      duplicates += ackDuplicates;
      b.accepted += ackAccepted;
      b.duplicates += ackDuplicates;
      if (ackAccepted !== ok || ackDuplicates !== dup) {
        mismatch(`frame ${rec.batchId}: ack says accepted ${ackAccepted}, duplicates ${ackDuplicates}; expected ${ok} and ${dup}`);
      } else {
        for (let i = 0; i < n; i++) if (rec.cls[i] === EventClass.Ok && !got.has(i)) gen.accepted(rec, i);
      }
    }
    pump(c, now);
    checkDone();
  };

  for (const c of conns) {
    c.ws.onMessage = (text) => onAck(c, text);
    c.ws.onClose = (code, reason) => {
      c.closed = true;
      if (finished) return;
      closes.push({ code, reason });
      if (conns.every((x) => x.closed)) finish();
      else checkDone();
    };
  }

  const tick = (): void => {
    if (finished) return;
    const now = performance.now();
    while (next < planned) {
      const intended = t0 + next * frameMs;
      if (intended > now) break;
      const c = conns[next % conns.length]!;
      next++;
      if (c.closed) {
        framesLost++;
        continue;
      }
      if (c.backlog.size === 0 && c.inFlight.size < c.credit) send(c, intended, now);
      else {
        c.backlog.push(intended);
        framesDelayed++;
        bucket(intended).delayedFrames++;
      }
    }
    if (next < planned) {
      timer = setTimeout(tick, Math.max(0, t0 + next * frameMs - performance.now()));
    } else {
      drainTimer = setTimeout(() => {
        drainTimedOut = true;
        finish();
      }, o.drainSeconds * 1000);
      checkDone();
    }
  };
  let lastLogged = 0;
  const logProgress = (upTo: number): void => {
    for (; lastLogged <= upTo && lastLogged < buckets.length; lastLogged++) {
      const b = buckets[lastLogged]!;
      const s = b.lat.length ? latencyStats(b.lat.slice()) : null;
      log(`t=${lastLogged}s sent ${b.sent} ev, acked ${b.acked} ev (rejected ${b.rejected}, duplicates ${b.duplicates}), delayed frames ${b.delayedFrames}` +
        (s ? `, latency p50 ${s.p50} ms p99 ${s.p99} ms` : ''));
    }
  };
  progress = setInterval(() => logProgress(Math.floor((performance.now() - t0) / 1000) - 1), 1000);
  timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
  await done;
  logProgress(buckets.length - 1);

  let unacked = 0;
  let unsent = framesLost + (planned - next);
  for (const c of conns) {
    unacked += c.inFlight.size;
    unsent += c.backlog.size;
    c.ws.onClose = () => undefined;
    c.ws.close();
  }
  const elapsed = Math.max(o.duration, ((lastAck || performance.now()) - t0) / 1000);
  const timeline: TimelinePoint[] = buckets.map((b, t) => {
    const s = b.lat.length ? latencyStats(b.lat) : null;
    return {
      t, sent: b.sent, acked: b.acked, accepted: b.accepted, duplicates: b.duplicates, rejected: b.rejected, delayedFrames: b.delayedFrames,
      latencyMs: s ? { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max } : null,
    };
  });
  const actors: OracleActor[] = [];
  for (let a = 0; a < gen.actorCount; a++) {
    actors.push({ kind: gen.actorKind(a), id: gen.actorId(a), accepted: gen.acceptedCount[a]!, eventIds: (gen.acceptedIds[a] ?? []).sort((x, y) => x - y) });
  }
  const latency = latencyStats(lat);
  return {
    report: 'vigil load',
    version: 1,
    scenario: { name: o.name, description: o.description, file: o.scenarioFile },
    options: {
      url: o.url, tenant: o.tenant, rate: o.rate, duration: o.duration, connections: o.connections, batch: o.batch, patients: o.patients,
      procedures: o.procedures, mix: o.mix, late: o.late, duplicate: o.duplicate, invalid: o.invalid, seed: o.seed, lateByMs: o.lateByMs,
      drainSeconds: o.drainSeconds,
    },
    run: { id: runId, startedAt, finishedAt: new Date().toISOString(), node: process.version, elapsedSeconds: round3(elapsed), drainTimedOut },
    frames: { planned, sent: framesSent, acked: framesAcked, delayed: framesDelayed, unsent, unacked, rejected: framesRejected },
    events: { sent: eventsSent, acked: eventsAcked, accepted, duplicates, rejected },
    eventsPerSecond: Math.round(eventsAcked / elapsed),
    sentPerSecond: Math.round(eventsSent / elapsed),
    latencyMs: latency,
    serviceLatencyMs: latencyStats(svc),
    sendLagMs: latencyStats(lag),
    rejected: { byCode: sortKeys(rejectedByCode), frameByCode: sortKeys(frameByCode) },
    expected: {
      sentByClass: { ok: gen.sentByClass[0]!, duplicate: gen.sentByClass[1]!, late: gen.sentByClass[2]!, invalid: gen.sentByClass[3]! },
      rejectedByCode: sortKeys(gen.expectedRejected),
      duplicates: gen.sentByClass[EventClass.Duplicate]!,
      fallbacks: gen.fallbacks,
    },
    mismatches: { count: mismatches, samples: mismatchSamples },
    connections: { opened: conns.length, closes, errors },
    timeline,
    oracle: { eventIdPrefix: gen.eventIdPrefix, eventIdsComplete: gen.idsComplete, actors },
    faults,
  };
}

function sortKeys(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function summaryLines(r: LoadReport): string[] {
  const codes = Object.entries(r.rejected.byCode).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `scenario ${r.scenario.name}: ${r.options.rate} ev/s offered for ${r.options.duration} s over ${r.options.connections} connections, ${r.options.batch} events/frame`,
    `events: sent ${r.events.sent}, acked ${r.events.acked} (accepted ${r.events.accepted}, duplicates ${r.events.duplicates}, rejected ${r.events.rejected}: ${codes})`,
    `frames: planned ${r.frames.planned}, sent ${r.frames.sent}, acked ${r.frames.acked}, delayed ${r.frames.delayed}, unsent ${r.frames.unsent}, unacked ${r.frames.unacked}, refused ${r.frames.rejected}`,
    `throughput: ${r.eventsPerSecond} ev/s acked (${r.sentPerSecond} ev/s sent)`,
    `ack latency from intended send: p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms` +
      ` (from actual send: p99 ${r.serviceLatencyMs.p99} ms)`,
    `expected outcomes: ${r.mismatches.count === 0 ? 'all acks as expected' : `${r.mismatches.count} mismatches, e.g. ${r.mismatches.samples[0]}`}`,
    ...(r.connections.closes.length || r.connections.errors.length
      ? [`connections: ${r.connections.closes.map((c) => `closed ${c.code} ${c.reason}`).concat(r.connections.errors).join('; ')}`]
      : []),
  ];
}

/** The report as indented JSON, with one line per timeline point and per oracle actor (their id lists stay on one line). */
export function formatReport(r: LoadReport): string {
  // Placeholders no JSON string can produce unescaped (a value with a quote in it is escaped).
  const skeleton = JSON.stringify({ ...r, timeline: '<timeline>', oracle: { ...r.oracle, actors: '<actors>' } }, null, 2);
  const lines = (xs: unknown[], indent: string): string => (xs.length ? `[\n${xs.map((x) => indent + JSON.stringify(x)).join(',\n')}\n${indent.slice(2)}]` : '[]');
  const out = skeleton
    .replace('"timeline": "<timeline>"', () => `"timeline": ${lines(r.timeline, '    ')}`)
    .replace('"actors": "<actors>"', () => `"actors": ${lines(r.oracle.actors, '      ')}`);
  return `${out}\n`;
}

export function writeReport(r: LoadReport, json: string | null, html: string | null): void {
  if (json) {
    mkdirSync(dirname(resolve(json)), { recursive: true });
    writeFileSync(json, formatReport(r));
  }
  if (html) {
    mkdirSync(dirname(resolve(html)), { recursive: true });
    writeFileSync(html, renderHtml(r));
  }
}

/** `vigil load ...`: runs the load, prints a summary, writes the reports; non-zero when frames went unacked or connections broke. */
export async function runLoad(argv: string[]): Promise<number> {
  let parsed: ParsedLoadArgs;
  try {
    parsed = parseLoadArgs(argv);
  } catch (err) {
    if (err instanceof LoadUsageError) {
      console.error(`vigil load: ${err.message}\n\n${LOAD_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    console.log(LOAD_USAGE);
    return 0;
  }
  const o = parsed.options;
  console.log(`vigil load: ${o.name}: ${o.rate} ev/s for ${o.duration} s to ${o.url} (${o.connections} connections, ${o.batch} events/frame)`);
  let report: LoadReport;
  try {
    report = await executeLoad(o, { log: parsed.quiet ? undefined : (l) => console.log(l) });
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  for (const l of summaryLines(report)) console.log(l);
  writeReport(report, parsed.json, parsed.html);
  if (parsed.json) console.log(`report: ${parsed.json}`);
  if (parsed.html) console.log(`html report: ${parsed.html}`);
  const broken = report.frames.unacked > 0 || report.frames.unsent > 0 || report.connections.closes.length > 0 || report.connections.errors.length > 0;
  return broken ? 1 : 0;
}
