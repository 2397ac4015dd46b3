// The CI load gate: a short mixed scenario against a real node, checked for correctness, not
// speed. It starts `vigil start` as a child process (embedded mode, fixed tokens, a free port, a
// temporary data folder), runs load/scenarios/ci-gate.json through the load generator, reads every
// actor's `events` from the HTTP API, stops the node, and fails when:
//   - one acked-accepted event is missing from its actor's state (or an actor has more),
//   - the rejections by code differ from the late and invalid events sent, or duplicates differ,
//   - any ack disagreed with the expected outcome of an event, a frame went unacked or unsent,
//   - the node's output has an error line, or the node did not stop cleanly.
//   node dist/load/ci-gate.js [--duration S] [--json FILE] [--html FILE] [--inject-drop]
// --inject-drop is the gate's own test: one valid event is recorded as acked but never sent, so
// the gate must fail naming that actor.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { executeLoad, parseLoadArgs, summaryLines, writeReport } from './load.js';
import type { LoadReport } from './load-report.js';
import { repoRoot } from './paths.js';

const TOKEN = 'ci-gate-demo-token-0001';
const ADMIN = 'ci-gate-admin-token-0001';

/** Lines of node output that mean something went wrong. */
export const ERROR_LINE = /actor failed|shard host \S+ replaced|uncaught|unhandled|\bfatal\b|\berror\b|[A-Za-z]*Error\b|\bpanic\b/i;

export interface GateResult {
  ok: boolean;
  failures: string[];
  /** Actors compared, and acked-accepted events accounted for. */
  actors: number;
  events: number;
}

function diffCodes(got: Record<string, number>, want: Record<string, number>): string[] {
  const out: string[] = [];
  for (const c of [...new Set([...Object.keys(got), ...Object.keys(want)])].sort()) {
    const g = got[c] ?? 0, w = want[c] ?? 0;
    if (g !== w) out.push(`${c}: ${g} rejected, ${w} expected`);
  }
  return out;
}

/**
 * The gate's verdict, a pure function of the load report, each actor's `events` as the node
 * reports it (key `kind/id`; a missing key means it could not be read) and the node's output.
 */
export function checkGate(report: LoadReport, actorCounts: ReadonlyMap<string, number> | Record<string, number>, logText: string): GateResult {
  const counts = actorCounts instanceof Map ? actorCounts : new Map(Object.entries(actorCounts));
  const failures: string[] = [];
  const missing: string[] = [];
  let events = 0;
  for (const a of report.oracle.actors) {
    const key = `${a.kind}/${a.id}`;
    events += a.accepted;
    const have = counts.get(key);
    if (have === undefined) failures.push(`${key}: its state was not read (${a.accepted} acked-accepted events unchecked)`);
    else if (have < a.accepted) missing.push(`${key}: actor state has ${have} events, the load acked ${a.accepted} as accepted: ${a.accepted - have} acked event(s) missing from actor state`);
    else if (have > a.accepted) missing.push(`${key}: actor state has ${have} events, the load acked only ${a.accepted} as accepted: ${have - a.accepted} event(s) applied that were not acked as accepted`);
    if (report.oracle.eventIdsComplete) {
      if (a.eventIds.length !== a.accepted) failures.push(`${key}: the report lists ${a.eventIds.length} accepted event ids for ${a.accepted} accepted events`);
      else if (new Set(a.eventIds).size !== a.eventIds.length) failures.push(`${key}: the report lists an accepted event id twice`);
    }
  }
  if (missing.length) failures.push(...missing.slice(0, 20), ...(missing.length > 20 ? [`... and ${missing.length - 20} more actors differ`] : []));
  if (events !== report.events.accepted) failures.push(`the oracle holds ${events} accepted events but the acks accepted ${report.events.accepted}`);
  if (report.events.accepted === 0) failures.push('no event was accepted: the gate checked nothing');
  const codes = diffCodes(report.rejected.byCode, report.expected.rejectedByCode);
  if (codes.length) failures.push(`rejections by code differ from the late and invalid events sent: ${codes.join('; ')}`);
  if (report.events.duplicates !== report.expected.duplicates) failures.push(`duplicates: ${report.events.duplicates} acked as duplicates, ${report.expected.duplicates} sent`);
  const sent = report.expected.sentByClass;
  for (const [cls, fraction] of [['late', report.options.late], ['duplicate', report.options.duplicate], ['invalid', report.options.invalid]] as const) {
    if (fraction > 0 && sent[cls] === 0) failures.push(`the scenario asks for ${cls} events but none was sent`);
  }
  if (report.mismatches.count > 0) failures.push(`${report.mismatches.count} acks disagreed with the expected outcome, e.g. ${report.mismatches.samples.slice(0, 3).join(' | ')}`);
  if (report.frames.unacked > 0) failures.push(`${report.frames.unacked} frames were never acked`);
  if (report.frames.unsent > 0) failures.push(`${report.frames.unsent} frames were never sent`);
  if (report.frames.rejected > 0) failures.push(`${report.frames.rejected} frames were refused as a whole: ${JSON.stringify(report.rejected.frameByCode)}`);
  if (report.connections.closes.length) failures.push(`connections closed during the run: ${report.connections.closes.map((c) => `${c.code} ${c.reason}`).join(', ')}`);
  if (report.connections.errors.length) failures.push(`connection errors: ${report.connections.errors.join('; ')}`);
  const bad = logText.split('\n').filter((l) => ERROR_LINE.test(l));
  if (bad.length) failures.push(`the node logged ${bad.length} error line(s): ${bad.slice(0, 5).join(' | ')}`);
  return { ok: failures.length === 0, failures, actors: report.oracle.actors.length, events };
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Each actor's `events` from GET /v1/{patients|procedures}/{id}/risk-summary (404 = 0), a few requests at a time. */
export async function readActorCounts(baseUrl: string, token: string, actors: readonly { kind: string; id: string }[]): Promise<{ counts: Map<string, number>; errors: string[] }> {
  const counts = new Map<string, number>();
  const errors: string[] = [];
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < actors.length) {
      const a = actors[i++]!;
      const path = `/v1/${a.kind === 'patient' ? 'patients' : 'procedures'}/${encodeURIComponent(a.id)}/risk-summary`;
      try {
        const r = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
        const text = await r.text();
        if (r.status === 404) counts.set(`${a.kind}/${a.id}`, 0);
        else if (!r.ok) errors.push(`GET ${path}: HTTP ${r.status} ${text.slice(0, 200)}`);
        else {
          const ev = (JSON.parse(text) as { events?: unknown }).events;
          if (typeof ev !== 'number') errors.push(`GET ${path}: no numeric "events" in ${text.slice(0, 200)}`);
          else counts.set(`${a.kind}/${a.id}`, ev);
        }
      } catch (err) {
        errors.push(`GET ${path}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { counts, errors };
}

export interface GateOptions {
  scenario?: string;
  /** Overrides the scenario's duration (seconds). */
  duration?: number;
  json?: string | null;
  html?: string | null;
  injectDrop?: boolean;
  log?: (line: string) => void;
}

export interface GateRun extends GateResult {
  report: LoadReport;
  counts: Map<string, number>;
  nodeLog: string;
  seconds: number;
}

/** Starts a node, runs the scenario, checks. Never throws for a failed check (see `ok`), only for a broken set-up. */
export async function runGate(g: GateOptions = {}): Promise<GateRun> {
  const started = performance.now();
  const log = g.log ?? (() => undefined);
  const root = repoRoot();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ci-gate-'));
  // Embedded mode whatever the caller's environment says: drop every VIGIL_* setting.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_')));
  Object.assign(env, { VIGIL_HOST: '127.0.0.1', VIGIL_PORT: String(port), VIGIL_DEMO_TOKEN: TOKEN, VIGIL_ADMIN_TOKEN: ADMIN, VIGIL_DATA_DIR: dataDir });
  const proc = spawn(process.execPath, [join(root, 'bin/vigil.js'), 'start'], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, signal) => r(code ?? signal ?? 'unknown')));
  const base = `http://127.0.0.1:${port}`;
  let stopping: Promise<string | null> | null = null;
  const stop = (): Promise<string | null> =>
    (stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const how = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 20_000)))]);
      clearTimeout(timer);
      if (how === null) {
        proc.kill('SIGKILL');
        await exited;
        return 'the node did not stop within 20 s of SIGTERM';
      }
      return how === 0 ? null : `the node exited with ${how} after SIGTERM`;
    })());
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`vigil start exited ${proc.exitCode}:\n${out}`);
      const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`vigil start not ready within 30 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`node ready on ${base} (pid ${proc.pid}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const args = ['--scenario', g.scenario ?? 'ci-gate', '--url', `ws://127.0.0.1:${port}`, '--token', TOKEN];
    if (g.duration !== undefined) args.push('--duration', String(g.duration));
    const { options } = parseLoadArgs(args, {});
    const report = await executeLoad(options, { injectDrop: g.injectDrop === true });
    for (const l of summaryLines(report)) log(l);
    writeReport(report, g.json ?? null, g.html ?? null);
    const read = await readActorCounts(base, TOKEN, report.oracle.actors);
    const stopProblem = await stop();
    const result = checkGate(report, read.counts, out);
    for (const e of read.errors.slice(0, 10)) result.failures.push(`reading actor state: ${e}`);
    if (stopProblem) result.failures.push(stopProblem);
    result.ok = result.failures.length === 0;
    return { ...result, report, counts: read.counts, nodeLog: out, seconds: (performance.now() - started) / 1000 };
  } finally {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string' }, duration: { type: 'string' }, json: { type: 'string' }, html: { type: 'string' },
      'inject-drop': { type: 'boolean', default: false },
    },
  });
  const r = await runGate({
    scenario: values.scenario, duration: values.duration === undefined ? undefined : Number(values.duration),
    json: values.json ?? null, html: values.html ?? null, injectDrop: values['inject-drop'], log: (l) => console.log(l),
  });
  if (r.ok) {
    console.log(`load gate passed in ${r.seconds.toFixed(1)} s: ${r.actors} actors hold exactly the ${r.events} acked-accepted events; ` +
      `rejections by code match the late and invalid events sent (${JSON.stringify(r.report.rejected.byCode)}); ${r.report.events.duplicates} duplicates; no error in the node's log`);
    return 0;
  }
  console.error(`load gate FAILED (${r.seconds.toFixed(1)} s):`);
  for (const f of r.failures) console.error(`  - ${f}`);
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`load gate: ${(err as Error)?.stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
