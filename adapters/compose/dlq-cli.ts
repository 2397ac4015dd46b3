// `vigil dlq list | replay`: the tenant's dead letters over the node's HTTP API (GET /v1/dlq,
// POST /v1/dlq:replay), with a tenant token as `vigil import` takes it. Failures are one line
// naming the URL or option (cli-errors.ts); exit 2 for usage, 1 for the rest.
import { parseArgs } from 'node:util';
import { CliError, isFetchFailure, unreachableNode } from './cli-errors.js';

export const DLQ_USAGE = `usage: vigil dlq list [--code C] [--since T] [--limit N] [--cursor X] [--json] [--url URL] [--token TOKEN]
       vigil dlq replay --code C --since T [--limit N] [--url URL] [--token TOKEN]

The tenant's dead letters: every event the node refused, with its code, message and the event
as received (GET /v1/dlq, newest first). Once the cause is fixed (the tenant's configuration, a
producer), replay submits them again through the tenant's current contracts and dedup, as
POST /v1/events:batch would (POST /v1/dlq:replay, oldest first).

A replay takes each letter at most once: letters an earlier replay took are skipped, and so are
letters rejected after the replay started. An event still invalid goes back to the DLQ as one
new letter (source "replay"); a later replay may take that one. An event accepted is applied
once (dedup by event_id). Frames refused whole and events over the size limits hold no whole
event and are never replayed (counted as not_replayable).

  --code C                  a rejection code (unknown_event_type, out_of_range, ...); replay: required
  --since T                 rejected at or after T (RFC 3339 or epoch ms); replay: required
  --limit N                 list: letters to show (1-1000, default 50);
                            replay: letters per call (1-10000, default 1000; "more" says if others wait)
  --cursor X                list: the page after a previous list (its "next")
  --json                    list: print the answer as JSON (replay always does)
  --url URL                 the node (default http://127.0.0.1:$VIGIL_PORT, port 8080)
  --token TOKEN             the tenant's token (default $VIGIL_TOKEN, then $VIGIL_DEMO_TOKEN)`;

interface Letter {
  letter_id: string;
  event_id: string | null;
  code: string;
  message: string;
  source: string;
  rejected_at: string;
  replay: { at: string; outcome: string } | null;
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (isFetchFailure(err)) throw unreachableNode(new URL(url).origin, err);
    throw err;
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not ours (a proxy's page): named by status below.
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const why = e && typeof e.code === 'string' ? `${e.code}: ${String(e.message)}` : text.replace(/\s+/g, ' ').slice(0, 300);
    throw new CliError(`${init.method ?? 'GET'} ${url.replace(/\?.*$/, '')} answered HTTP ${res.status} ${why}`);
  }
  if (body === null) throw new CliError(`${url.replace(/\?.*$/, '')} answered something that is not JSON`);
  return body;
}

function intOption(name: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > max) throw new CliError(`--${name} ${v}: a whole number from 1 to ${max} (vigil dlq --help for usage)`, 2);
  return n;
}

export async function runDlq(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      code: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
      json: { type: 'boolean' }, url: { type: 'string' }, token: { type: 'string' },
    },
  });
  const [sub, extra] = positionals;
  if (sub !== 'list' && sub !== 'replay') throw new CliError(`${sub === undefined ? 'a subcommand is required' : `unknown subcommand ${JSON.stringify(sub)}`}: list or replay (vigil dlq --help for usage)`, 2);
  if (extra !== undefined) throw new CliError(`unexpected argument ${JSON.stringify(extra)} (vigil dlq --help for usage)`, 2);
  const url = (values.url ?? `http://127.0.0.1:${process.env.VIGIL_PORT ?? 8080}`).replace(/\/+$/, '');
  try {
    new URL(url);
  } catch {
    throw new CliError(`--url ${url}: not a URL (e.g. http://127.0.0.1:8080)`, 2);
  }
  const token = values.token ?? process.env.VIGIL_TOKEN ?? process.env.VIGIL_DEMO_TOKEN;
  if (!token) throw new CliError('a tenant token is required (--token or VIGIL_TOKEN)', 2);
  const headers = { authorization: `Bearer ${token}` };

  if (sub === 'replay') {
    if (!values.code || !values.since) throw new CliError('--code and --since are required: replay is always of one code over a time range (vigil dlq --help for usage)', 2);
    if (values.cursor !== undefined || values.json !== undefined) throw new CliError('--cursor and --json are list options (vigil dlq --help for usage)', 2);
    const limit = intOption('limit', values.limit, 10_000);
    const since = /^\d+$/.test(values.since) ? Number(values.since) : values.since;
    const r = (await call(`${url}/v1/dlq:replay`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ code: values.code, since, ...(limit === undefined ? {} : { limit }) }),
    })) as { replayed: number; rejected: number; more: boolean };
    console.log(JSON.stringify(r, null, 2));
    if (r.more) console.error('vigil dlq replay: more letters wait in this range; run the same command again to replay them');
    // Every letter refused again is a failed replay, as an import with every row refused is.
    if (r.replayed > 0 && r.rejected === r.replayed) {
      console.error(`vigil dlq replay: all ${r.replayed} replayed letters were rejected again (now new letters; vigil dlq list --since ${new Date().toISOString()} shows why)`);
      return 1;
    }
    return 0;
  }

  const limit = intOption('limit', values.limit, 1000);
  const q = new URLSearchParams();
  if (values.code) q.set('code', values.code);
  if (values.since) q.set('since', values.since);
  if (limit !== undefined) q.set('limit', String(limit));
  if (values.cursor) q.set('cursor', values.cursor);
  const page = (await call(`${url}/v1/dlq${q.size > 0 ? `?${q}` : ''}`, { headers })) as { dead_letters: Letter[]; next: string | null };
  if (values.json) {
    console.log(JSON.stringify(page, null, 2));
    return 0;
  }
  if (page.dead_letters.length === 0) {
    console.log('no dead letters');
    return 0;
  }
  for (const l of page.dead_letters) {
    const replay = l.replay === null ? '-' : `replayed ${l.replay.outcome}`;
    console.log(`${l.rejected_at}  ${l.code}  ${l.event_id ?? '(no event id)'}  ${l.source}  ${replay}  ${l.message}`);
  }
  if (page.next !== null) console.log(`more: vigil dlq list --cursor ${page.next}${values.code ? ` --code ${values.code}` : ''}${values.since ? ` --since ${values.since}` : ''}`);
  return 0;
}
