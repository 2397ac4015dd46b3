// Renders a `vigil load` JSON report as one self-contained HTML file: inline CSS and SVG charts
// (throughput and ack latency over time), no scripts, no external resources, so it opens from
// disk on a machine without network access.
//   node dist/load/report-html.js REPORT.json [OUT.html]     (default: REPORT.html)
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadReport } from './load-report.js';

function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 10 || x === 0) return x.toFixed(0);
  if (a >= 1) return x.toFixed(1);
  return x.toFixed(2);
}

export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
  dashed?: boolean;
}

const W = 880, H = 280, L = 64, R = 16, T = 34, B = 36;

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** A line chart over seconds 0..n-1; `log` uses a log10 y axis (latency spans decades when a server stalls). */
export function lineChart(title: string, unit: string, series: Series[], log = false): string {
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const pw = W - L - R, ph = H - T - B;
  const x = (i: number): number => L + (n <= 1 ? pw / 2 : (i / (n - 1)) * pw);
  let y: (v: number) => number;
  const yTicks: number[] = [];
  if (log) {
    const pos = all.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(pos.length ? Math.min(...pos) : 0.1));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(pos.length ? Math.max(...pos) : 1)));
    y = (v) => T + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * ph;
    for (let e = lo; e <= hi; e++) yTicks.push(10 ** e);
  } else {
    const max = all.length ? Math.max(...all) : 1;
    const step = niceStep(max > 0 ? max : 1, 5);
    const top = Math.max(step, Math.ceil((max > 0 ? max : 1) / step) * step);
    y = (v) => T + ph - (v / top) * ph;
    for (let v = 0; v <= top + step / 2; v += step) yTicks.push(v);
  }
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`);
  parts.push(`<text x="${L}" y="18" class="ttl">${esc(title)}</text>`);
  for (const v of yTicks) {
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" class="grid"/><text x="${L - 6}" y="${yy}" class="yl">${fmt(v)}</text>`);
  }
  parts.push(`<text x="14" y="${T + ph / 2}" class="unit" transform="rotate(-90 14 ${T + ph / 2})">${esc(unit)}</text>`);
  const xStep = Math.max(1, niceStep(Math.max(1, n - 1), 10));
  for (let i = 0; i < n; i += xStep) {
    parts.push(`<line x1="${x(i).toFixed(1)}" x2="${x(i).toFixed(1)}" y1="${T + ph}" y2="${T + ph + 4}" class="axis"/><text x="${x(i).toFixed(1)}" y="${T + ph + 18}" class="xl">${i}s</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}" class="axis"/><line x1="${L}" x2="${L}" y1="${T}" y2="${T + ph}" class="axis"/>`);
  let lx = W - R;
  for (const s of [...series].reverse()) {
    lx -= 12 + s.name.length * 7 + 22;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="14" y2="14" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${lx + 22}" y="18" class="lg">${esc(s.name)}</text>`);
  }
  for (const s of series) {
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${run.join(' ')}"/>`);
      else if (run.length === 1) {
        const [px, py] = run[0]!.split(',');
        parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${s.color}"/>`);
      }
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return flush();
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    flush();
    if (s.values.length <= 600) {
      s.values.forEach((v, i) => {
        if (v !== null && Number.isFinite(v)) parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="6" class="hit"><title>${esc(s.name)} at ${i}s: ${fmt(v)} ${esc(unit)}</title></circle>`);
      });
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

function table(rows: [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:920px;color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 12px}table{border-collapse:collapse;margin:6px 0}th,td{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#3a4254}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#137333}.bad{color:#b3261e;font-weight:600}
svg{display:block;margin:8px 0;background:#fbfcfe;border:1px solid #e3e7ee;border-radius:4px;max-width:100%;height:auto}
svg .ttl{font-size:14px;font-weight:600;fill:#1d2330}svg .grid{stroke:#e6e9ef}svg .axis{stroke:#9aa3b2}
svg .yl{font-size:11px;fill:#5b6475;text-anchor:end;dominant-baseline:middle}svg .xl{font-size:11px;fill:#5b6475;text-anchor:middle}
svg .unit{font-size:11px;fill:#5b6475;text-anchor:middle}svg .lg{font-size:12px;fill:#3a4254}svg .hit{fill:transparent}
code{background:#f1f3f7;padding:1px 4px;border-radius:3px}.note{color:#5b6475;font-size:13px}`;

export function renderHtml(r: LoadReport): string {
  const tl = r.timeline;
  const o = r.options;
  const throughput = lineChart('Throughput (events per second)', 'events/s', [
    { name: 'sent', color: '#8a94a6', values: tl.map((p) => p.sent), dashed: true },
    { name: 'acked', color: '#1a73e8', values: tl.map((p) => p.acked) },
    { name: 'accepted', color: '#137333', values: tl.map((p) => p.accepted) },
    { name: 'rejected', color: '#b3261e', values: tl.map((p) => p.rejected) },
  ]);
  const lats = tl.flatMap((p) => (p.latencyMs ? [p.latencyMs.p50, p.latencyMs.max] : [])).filter((v) => v > 0);
  const logY = lats.length > 0 && Math.max(...lats) / Math.max(0.01, Math.min(...lats)) > 30;
  const latency = lineChart(`Ack latency from intended send time (ms${logY ? ', log scale' : ''})`, 'ms', [
    { name: 'p50', color: '#1a73e8', values: tl.map((p) => p.latencyMs?.p50 ?? null) },
    { name: 'p99', color: '#e37400', values: tl.map((p) => p.latencyMs?.p99 ?? null) },
    { name: 'max', color: '#b3261e', values: tl.map((p) => p.latencyMs?.max ?? null), dashed: true },
  ], logY);
  const delayed = tl.some((p) => p.delayedFrames > 0)
    ? lineChart('Frames delayed by exhausted credit (per second)', 'frames', [{ name: 'delayed', color: '#b3261e', values: tl.map((p) => p.delayedFrames) }])
    : '<p class="note">No frame had to wait for credit: the node kept up with the schedule.</p>';
  const codes = [...new Set([...Object.keys(r.rejected.byCode), ...Object.keys(r.expected.rejectedByCode)])].sort();
  const codeRows = codes.map((c) => {
    const got = r.rejected.byCode[c] ?? 0, want = r.expected.rejectedByCode[c] ?? 0;
    return `<tr><td><code>${esc(c)}</code></td><td class="n">${got}</td><td class="n">${want}</td><td class="${got === want ? 'ok' : 'bad'}">${got === want ? '✓' : '≠'}</td></tr>`;
  }).join('');
  const lat = (k: 'latencyMs' | 'serviceLatencyMs' | 'sendLagMs', label: string): string => {
    const s = r[k];
    return `<tr><th>${esc(label)}</th>${[s.p50, s.p90, s.p99, s.p999, s.max, s.mean].map((v) => `<td class="n">${v}</td>`).join('')}<td class="n">${s.count}</td></tr>`;
  };
  const healthy = r.mismatches.count === 0 && r.frames.unacked === 0 && r.frames.unsent === 0 && r.connections.closes.length === 0 && r.connections.errors.length === 0;
  const accepted = r.oracle.actors.filter((a) => a.accepted > 0).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>vigil load: ${esc(r.scenario.name)}</title><style>${CSS}</style></head><body>
<h1>vigil load: ${esc(r.scenario.name)}</h1>
<p class="sub">${esc(r.scenario.description)}${r.scenario.description ? ' · ' : ''}run <code>${esc(r.run.id)}</code> · ${esc(r.run.startedAt)} · Node ${esc(r.run.node)}</p>
<p class="${healthy ? 'ok' : 'bad'}">${healthy ? 'Every frame was acked and every ack matched what its events should get.' : `Problems: ${[
    r.mismatches.count ? `${r.mismatches.count} unexpected ack outcomes` : '', r.frames.unacked ? `${r.frames.unacked} frames unacked` : '',
    r.frames.unsent ? `${r.frames.unsent} frames never sent` : '', r.connections.closes.length ? `${r.connections.closes.length} connections closed` : '',
    r.connections.errors.length ? `${r.connections.errors.length} connection errors` : '',
  ].filter(Boolean).join(', ')}`}</p>
<h2>Summary</h2>
${table([
    ['offered', `${o.rate} events/s for ${o.duration} s (open loop), ${o.connections} connections, ${o.batch} events per frame`],
    ['actors', `${o.patients} patients, ${o.procedures} procedures (${accepted} with accepted events)`],
    ['mix', `telemetry ${o.mix.telemetry}, vitals ${o.mix.vitals}, biometric ${o.mix.biometric}; late ${o.late}, duplicate ${o.duplicate}, invalid ${o.invalid}`],
    ['events', `sent ${r.events.sent}, acked ${r.events.acked}: accepted ${r.events.accepted}, duplicates ${r.events.duplicates}, rejected ${r.events.rejected}`],
    ['frames', `planned ${r.frames.planned}, sent ${r.frames.sent}, acked ${r.frames.acked}, delayed ${r.frames.delayed}, unsent ${r.frames.unsent}, unacked ${r.frames.unacked}, refused whole ${r.frames.rejected}`],
    ['throughput', `${r.eventsPerSecond} events/s acked, ${r.sentPerSecond} events/s sent, over ${r.run.elapsedSeconds} s`],
    ['node', o.url],
  ])}
<h2>Throughput over time</h2>
${throughput}
<h2>Latency over time</h2>
<p class="note">Measured from the time each frame was <em>due</em> in the open-loop schedule, not from when it could be sent, so a node that stalls shows up here (no coordinated omission).</p>
${latency}
${delayed}
<h2>Latency percentiles (ms)</h2>
<table><tr><th></th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">p99.9</th><th class="n">max</th><th class="n">mean</th><th class="n">frames</th></tr>
${lat('latencyMs', 'ack, from intended send')}${lat('serviceLatencyMs', 'ack, from actual send')}${lat('sendLagMs', 'send lag behind schedule')}</table>
<h2>Rejections by code</h2>
${codes.length ? `<table><tr><th>code</th><th class="n">rejected</th><th class="n">expected</th><th></th></tr>${codeRows}</table>` : '<p class="note">No event was rejected, and none was expected to be.</p>'}
<p class="note">Sent by class: ${Object.entries(r.expected.sentByClass).map(([k, v]) => `${esc(k)} ${v}`).join(', ')}; duplicates acked ${r.events.duplicates} of ${r.expected.duplicates} sent${r.expected.fallbacks ? `; ${r.expected.fallbacks} late/duplicate events were sent as valid ones because no acked event was there to base them on yet` : ''}.</p>
${r.mismatches.count ? `<h2>Unexpected outcomes (${r.mismatches.count})</h2><ul>${r.mismatches.samples.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>` : ''}
${r.connections.closes.length || r.connections.errors.length ? `<h2>Connections</h2><ul>${r.connections.closes.map((c) => `<li>closed ${c.code} ${esc(c.reason)}</li>`).join('')}${r.connections.errors.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : ''}
${r.faults.length ? `<h2>Injected faults</h2><ul>${r.faults.map((f) => `<li>${esc(f.type)}: ${esc(f.actor)} ${esc(f.eventId)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [input, output] = process.argv.slice(2);
  if (!input) {
    console.error('usage: node dist/load/report-html.js REPORT.json [OUT.html]');
    process.exit(2);
  }
  const out = output ?? input.replace(/\.json$/, '') + '.html';
  writeFileSync(out, renderHtml(JSON.parse(readFileSync(input, 'utf8')) as LoadReport));
  console.log(out);
}
