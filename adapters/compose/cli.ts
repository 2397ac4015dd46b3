// `vigil`: the package's command line (SPEC.md §4).
import { parseArgs } from 'node:util';
import { ConfigError, loadNodeConfig } from './config.js';
import { startNode } from './node.js';

const USAGE = `usage: vigil <command> [options]

  start                      run a node (embedded defaults unless VIGIL_*_URL are set)
  load [--scenario FILE] [--url URL] [--rate N] [--duration S] [--json FILE] [--html FILE]
                             open-loop load generator (vigil load --help for all flags)
  bench [--json FILE] [--seconds S] [--connections N]
                             null pipeline vs runtime, 1- and 100-event frames
  import FILE --tenant T [--url URL] [--token TOKEN] [--format csv|ndjson]
                             a batch feed (CSV biometrics or NDJSON envelopes) into a running node
  migrate                    create or upgrade the analytics schema (VIGIL_CLICKHOUSE_URL, else chDB in VIGIL_DATA_DIR)
  inspect KIND ID --tenant T [--url URL] [--token ADMIN]
                             one actor's state (admin API)
  shards status | shards scale --to N [--url URL] [--token ADMIN]
                             the shard map (admin API)

Configuration: VIGIL_CONFIG (JSON file) and VIGIL_* variables; see README.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start();
    case 'load': {
      const { runLoad } = await import('../../load/load.js');
      return runLoad(rest);
    }
    case 'bench': {
      const { runBench } = await import('../../load/bench.js');
      return runBench(rest);
    }
    case 'import': {
      const { runImport } = await import('../../load/import.js');
      return runImport(rest);
    }
    case 'migrate':
      return migrateCmd();
    case 'inspect':
    case 'shards':
      return admin(cmd, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`vigil: unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
      return 2;
  }
}

async function migrateCmd(): Promise<number> {
  const config = await loadNodeConfig();
  const { openAnalytics } = await import('./analytics.js');
  const store = await openAnalytics(config);
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
  let config;
  try {
    config = await loadNodeConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`vigil start: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const node = await startNode(config);
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

async function admin(cmd: string, rest: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true,
    options: { url: { type: 'string' }, token: { type: 'string' }, tenant: { type: 'string' }, to: { type: 'string' } },
  });
  const url = values.url ?? `http://127.0.0.1:${process.env.VIGIL_PORT ?? 8080}`;
  const token = values.token ?? process.env.VIGIL_ADMIN_TOKEN;
  if (!token) {
    console.error('vigil: the admin token is required (--token or VIGIL_ADMIN_TOKEN)');
    return 2;
  }
  let path: string;
  if (cmd === 'shards') {
    path = '/admin/shards';
    if (positionals[0] === 'scale') {
      const to = Number(values.to);
      if (!Number.isSafeInteger(to) || to < 1) {
        console.error('usage: vigil shards scale --to N');
        return 2;
      }
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ count: to }) });
      console.log(await res.text());
      return res.ok ? 0 : 1;
    }
    if (positionals[0] !== 'status') {
      console.error('usage: vigil shards status | vigil shards scale --to N');
      return 2;
    }
  } else {
    const [kind, id] = positionals;
    if (!kind || !id || !values.tenant) {
      console.error('usage: vigil inspect KIND ID --tenant T');
      return 2;
    }
    path = `/admin/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id)}?tenant=${encodeURIComponent(values.tenant)}`;
  }
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  console.log(body);
  return res.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`vigil: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
