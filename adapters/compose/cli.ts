// `vigil`: the package's command line (SPEC.md §4). Every command answers --help (usage on
// stdout, exit 0, nothing started), and every failure is one line on stderr naming the setting,
// URL or path at fault (cli-errors.ts); exit 2 for usage and configuration, 1 for the rest.
import { parseArgs } from 'node:util';
import { CliError, firstLine, isFetchFailure, unreachableNode } from './cli-errors.js';
import { ConfigError, loadNodeConfig, type NodeConfig } from './config.js';
import { checkDataDirFree, checkReachable, explainStartError, preflightStart } from './preflight.js';

const CONFIG_NOTE = 'Configuration: VIGIL_CONFIG (a YAML or JSON file) and VIGIL_* variables, which win; see README.';

const USAGE = `usage: vigil <command> [options]       (vigil <command> --help for its options)

  start                      run a node (embedded defaults unless VIGIL_*_URL are set)
  load [--scenario FILE] [--url URL] [--rate N] [--duration S] [--json FILE] [--html FILE]
                             open-loop load generator
  bench [--json FILE] [--seconds S] [--connections N] [--durable]
                             the default node vs the null pipeline and a naive peer
  import FILE --tenant T [--url URL] [--token TOKEN] [--format csv|ndjson]
                             a batch feed (CSV biometrics or NDJSON envelopes) into a running node
  migrate                    create or upgrade the analytics schema (VIGIL_CLICKHOUSE_URL, else chDB in VIGIL_DATA_DIR)
  inspect KIND ID --tenant T [--url URL] [--token ADMIN]
                             one actor's state (admin API)
  shards status | shards scale --to N [--url URL] [--token ADMIN]
                             the shard map (admin API)
  dlq list [--code C] [--since T] | dlq replay --code C --since T [--url URL] [--token TOKEN]
                             the tenant's dead letters; replay them through the contracts
  help [COMMAND]             this text, or a command's

${CONFIG_NOTE}`;

const START_USAGE = `usage: vigil start

Runs a node until SIGINT or SIGTERM (then drains: actors passivate with a final snapshot).
Without VIGIL_NATS_URL and VIGIL_REDIS_URL it runs embedded (in-memory log and snapshots, one
tenant "demo"); analytics go to chDB under VIGIL_DATA_DIR unless VIGIL_CLICKHOUSE_URL is set.
Before it opens anything it checks that VIGIL_CONFIG_DIR exists, that no other process holds
the data dir, that VIGIL_HOST:VIGIL_PORT is free and that NATS and Redis answer.

${CONFIG_NOTE}`;

const MIGRATE_USAGE = `usage: vigil migrate

Creates or upgrades the analytics schema: tables, then the views of dashboards/clickhouse/views.sql,
in database vigil_<VIGIL_CLUSTER> (vigil_default by default), on VIGIL_CLICKHOUSE_URL or in chDB
under VIGIL_DATA_DIR. A node does this itself when it starts; with chDB, run it while no node
uses the data dir.

${CONFIG_NOTE}`;

const ADMIN_OPTIONS = `  --url URL                 the node (default http://127.0.0.1:$VIGIL_PORT, port 8080)
  --token ADMIN             the admin token (default $VIGIL_ADMIN_TOKEN)`;

const INSPECT_USAGE = `usage: vigil inspect KIND ID --tenant T [--url URL] [--token ADMIN]

One actor's live state through the admin API (GET /admin/actors/KIND/ID?tenant=T).
  KIND                      patient or procedure
  --tenant T                the actor's tenant
${ADMIN_OPTIONS}`;

const SHARDS_USAGE = `usage: vigil shards status [--url URL] [--token ADMIN]
       vigil shards scale --to N [--url URL] [--token ADMIN]

The shard map (GET /admin/shards), or a live rescale to N shards (POST /admin/shards; refused
when several nodes run).
${ADMIN_OPTIONS}`;

const BENCH_USAGE = `usage: vigil bench [options]

The node on its defaults (analytics on, chDB in a fresh data dir) against the null pipeline and
a naive ws + Map peer, for 100-event and 1-event frames, in one run; prints a table and writes
the JSON report.
  --json FILE               where to write the report (default load/reports/bench.json)
  --seconds S               measured seconds per run (default 8)
  --connections N           WebSocket connections (default 4)
  --window N                frames in flight per connection (default 4; x8 for 1-event frames)
  --analytics on|off        the node's analytics (default on)
  --durable                 adds the node in durable mode (JetStream and Redis)
  --nats URL --redis URL    for --durable (default $VIGIL_NATS_URL, $VIGIL_REDIS_URL, then localhost)`;

interface Command {
  usage: () => Promise<string> | string;
  run: (args: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  start: { usage: () => START_USAGE, run: (args) => noArgs('start', args).then(start) },
  load: {
    usage: async () => (await import('../../load/load.js')).LOAD_USAGE,
    run: async (args) => (await import('../../load/load.js')).runLoad(args),
  },
  bench: { usage: () => BENCH_USAGE, run: async (args) => (await import('../../load/bench.js')).runBench(args) },
  import: {
    usage: async () => (await import('../../load/import.js')).IMPORT_USAGE,
    run: async (args) => (await import('../../load/import.js')).runImport(args),
  },
  migrate: { usage: () => MIGRATE_USAGE, run: (args) => noArgs('migrate', args).then(migrateCmd) },
  inspect: { usage: () => INSPECT_USAGE, run: (args) => admin('inspect', args) },
  shards: { usage: () => SHARDS_USAGE, run: (args) => admin('shards', args) },
  dlq: {
    usage: async () => (await import('./dlq-cli.js')).DLQ_USAGE,
    run: async (args) => (await import('./dlq-cli.js')).runDlq(args),
  },
};

/** --help or -h anywhere before a `--` (which ends the options). */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

async function noArgs(cmd: string, args: string[]): Promise<void> {
  if (args.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(args[0])} (vigil ${cmd} --help for usage)`, 2);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    const name = rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
    const topic = name !== undefined ? COMMANDS[name] : undefined;
    if (name !== undefined && !topic) throw new CliError(`unknown command ${JSON.stringify(name)} (vigil help lists them)`, 2);
    console.log(topic ? await topic.usage() : USAGE);
    return 0;
  }
  const command = COMMANDS[cmd];
  if (!command) {
    console.error(`vigil: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 2;
  }
  if (wantsHelp(rest)) {
    console.log(await command.usage());
    return 0;
  }
  return command.run(rest);
}

/** The node's configuration; its errors are the user's to fix (exit 2). */
async function config(): Promise<NodeConfig> {
  try {
    return await loadNodeConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

async function migrateCmd(): Promise<number> {
  const c = await config();
  checkDataDirFree(c, 'migrate');
  if (c.clickhouseUrl) await checkReachable('ClickHouse', 'VIGIL_CLICKHOUSE_URL', c.clickhouseUrl);
  const { openAnalytics } = await import('./analytics.js');
  let store;
  try {
    store = await openAnalytics(c);
  } catch (err) {
    throw explainStartError(err, c, 'migrate') ?? err;
  }
  try {
    const { migrate } = await import('../clickhouse/schema.js');
    const r = await migrate(store);
    console.log(`schema at version ${r.version}${r.applied.length ? `; applied ${r.applied.join(', ')}` : '; nothing to do'} (${store.kind})`);
    return 0;
  } finally {
    await store.close();
  }
}

async function start(): Promise<number> {
  const c = await config();
  await preflightStart(c);
  // Loaded only here: --help and the other commands do not pay for the node's modules.
  const { startNode } = await import('./node.js');
  let node;
  try {
    node = await startNode(c);
  } catch (err) {
    throw explainStartError(err, c, 'start') ?? err;
  }
  console.log(`vigil listening on ${node.url} (WebSocket ${node.url.replace('http', 'ws')}/v1/stream)`);
  if (node.generatedTokens.demo) console.log(`demo tenant token (generated, set VIGIL_DEMO_TOKEN to fix it): ${node.generatedTokens.demo}`);
  if (node.generatedTokens.admin) console.log(`admin token (generated, set VIGIL_ADMIN_TOKEN to fix it): ${node.generatedTokens.admin}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      console.log(`${sig}: draining (actors passivate with a final snapshot)...`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await node.close();
  return 0;
}

async function adminFetch(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (isFetchFailure(err)) throw unreachableNode(new URL(url).origin, err);
    throw err;
  }
}

async function admin(cmd: 'inspect' | 'shards', rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, tenant: { type: 'string' }, to: { type: 'string' } },
  });
  const url = (values.url ?? `http://127.0.0.1:${process.env.VIGIL_PORT ?? 8080}`).replace(/\/+$/, '');
  const token = values.token ?? process.env.VIGIL_ADMIN_TOKEN;
  if (!token) throw new CliError('the admin token is required (--token or VIGIL_ADMIN_TOKEN)', 2);
  let path: string;
  if (cmd === 'shards') {
    path = '/admin/shards';
    if (positionals[0] === 'scale') {
      const to = Number(values.to);
      if (!Number.isSafeInteger(to) || to < 1) throw new CliError('--to N: a whole number of shards, at least 1 (vigil shards --help for usage)', 2);
      const res = await adminFetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ count: to }) });
      console.log(await res.text());
      return res.ok ? 0 : 1;
    }
    if (positionals[0] !== 'status') throw new CliError('status or scale --to N (vigil shards --help for usage)', 2);
  } else {
    const [kind, id] = positionals;
    if (!kind || !id || !values.tenant) throw new CliError('KIND, ID and --tenant are required (vigil inspect --help for usage)', 2);
    path = `/admin/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id)}?tenant=${encodeURIComponent(values.tenant)}`;
  }
  const res = await adminFetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  // An actor's state is read by a person: indented. Errors stay one line.
  console.log(cmd === 'inspect' && res.ok ? JSON.stringify(JSON.parse(body), null, 2) : body);
  return res.ok ? 0 : 1;
}

/** parseArgs' own errors (unknown option, missing value), without its advice about `--`. */
function usageError(err: unknown): string | null {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return null;
  return firstLine(err).replace(/\. To specify a positional argument.*$/, '');
}

function fail(cmd: string | undefined, err: unknown): number {
  const where = cmd && COMMANDS[cmd] ? `vigil ${cmd}` : 'vigil';
  const parse = usageError(err);
  if (parse !== null) {
    console.error(`${where}: ${parse} (${where} --help for usage)`);
    return 2;
  }
  if (err instanceof CliError) {
    console.error(`${where}: ${err.message}`);
    return err.exitCode;
  }
  console.error(`${where}: ${firstLine(err)}`);
  if (process.env.VIGIL_DEBUG) console.error((err as Error)?.stack ?? String(err));
  return 1;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(fail(argv[0], err)),
);
