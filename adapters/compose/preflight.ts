// Checks `vigil start` and `vigil migrate` make before they open anything, so the common
// mistakes end in one line naming the setting (a missing config folder, a data dir another
// process holds, a port in use, a store that does not answer) instead of a stack trace from
// halfway through the start, after the migration already ran.
import { readFileSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { CliError, firstLine, reason, shownUrl } from './cli-errors.js';
import type { NodeConfig } from './config.js';

/** VIGIL_CONFIG_DIR must be a folder with tenants/ in it (deploy/config is an example). */
export function checkConfigDir(config: NodeConfig): void {
  const dir = config.configDir;
  if (dir === undefined) return;
  const kind = (p: string): 'dir' | 'file' | null => {
    try {
      return statSync(p).isDirectory() ? 'dir' : 'file';
    } catch {
      return null;
    }
  };
  const k = kind(dir);
  if (k === null) throw new CliError(`VIGIL_CONFIG_DIR ${dir}: no such directory`, 2);
  if (k === 'file') throw new CliError(`VIGIL_CONFIG_DIR ${dir}: a file, not a directory`, 2);
  if (kind(join(dir, 'tenants')) !== 'dir') throw new CliError(`VIGIL_CONFIG_DIR ${dir}: no tenants/ folder in it (see deploy/config for the layout)`, 2);
}

/**
 * Where chDB keeps its files when the command opens embedded analytics; null when it does not
 * (a node with VIGIL_ANALYTICS=off does not, `vigil migrate` always does without a server).
 */
export function chdbDir(config: NodeConfig, cmd: 'start' | 'migrate'): string | null {
  if (config.clickhouseUrl || (cmd === 'start' && config.analytics === 'off')) return null;
  return resolve(config.dataDir, 'chdb');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a crash the pid in `status` may since belong to something else: where /proc shows the
  // command line, only a Node process (a node, migrate, bench, a test) counts as the holder.
  try {
    return /node|vigil/i.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * The process holding the chDB data dir, if another one does. chDB writes `status` ("PID: n")
 * while it has the folder open and removes it on close; after a crash the file stays, naming a
 * process that is gone.
 */
export function chdbHolder(dir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dir, 'status'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(text)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  return alive(pid) ? pid : null;
}

/** One line for "another process has this data dir", with what to do for each command. */
export function dataDirInUse(config: NodeConfig, cmd: 'start' | 'migrate', pid: number | null): CliError {
  const who = pid === null ? 'another process' : `another process (pid ${pid}, a running node?)`;
  const head = `the data dir ${resolve(config.dataDir)} (VIGIL_DATA_DIR) is in use by ${who}: embedded analytics (chDB) opens it from one process at a time`;
  const what = cmd === 'migrate'
    ? 'a node migrates the schema itself when it starts, so nothing is needed while it runs; stop it to migrate by hand'
    : 'give this node its own VIGIL_DATA_DIR (or set VIGIL_CLICKHOUSE_URL, or VIGIL_ANALYTICS=off)';
  return new CliError(`${head}; ${what}`);
}

export function checkDataDirFree(config: NodeConfig, cmd: 'start' | 'migrate'): void {
  const dir = chdbDir(config, cmd);
  if (dir === null) return;
  const pid = chdbHolder(dir);
  if (pid !== null) throw dataDirInUse(config, cmd, pid);
}

/** Binds host:port once and lets go, so "in use" is known before anything else starts. */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', (err) => fail(new CliError(`cannot listen on ${host}:${port} (VIGIL_HOST, VIGIL_PORT): ${reason(err)}`)));
    s.listen({ host, port, exclusive: true }, () => s.close(() => done()));
  });
}

const DEFAULT_PORTS: Record<string, number> = { 'nats:': 4222, 'tls:': 4222, 'redis:': 6379, 'rediss:': 6379, 'http:': 80, 'https:': 443 };

/** Opens (and closes) a TCP connection to a store, so a store that is down is named with its URL. */
export function checkReachable(what: string, setting: string, url: string, timeoutMs = 3000): Promise<void> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol] ?? 0;
  return new Promise((done, fail) => {
    const sock = createConnection({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      fail(new CliError(`cannot reach ${what} at ${shownUrl(url)} (${setting}): no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      done();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      fail(new CliError(`cannot reach ${what} at ${shownUrl(url)} (${setting}): ${reason(err)}`));
    });
  });
}

/** Everything `vigil start` checks before it opens a store or a port. */
export async function preflightStart(config: NodeConfig): Promise<void> {
  if (Boolean(config.natsUrl) !== Boolean(config.redisUrl)) {
    // Durable state is the log and the snapshots together (startNode refuses one alone too).
    throw new CliError(`durable mode needs both VIGIL_NATS_URL and VIGIL_REDIS_URL: ${config.natsUrl ? 'VIGIL_REDIS_URL' : 'VIGIL_NATS_URL'} is not set`, 2);
  }
  checkConfigDir(config);
  checkDataDirFree(config, 'start');
  await checkPortFree(config.host, config.port);
  if (config.natsUrl) await checkReachable('NATS', 'VIGIL_NATS_URL', config.natsUrl);
  if (config.redisUrl) await checkReachable('Redis', 'VIGIL_REDIS_URL', config.redisUrl);
}

/**
 * A failure from inside startNode, said in the user's terms when it is one of the known ones
 * (they can still happen after the preflight, e.g. another process took the port meanwhile).
 */
export function explainStartError(err: unknown, config: NodeConfig, cmd: 'start' | 'migrate'): CliError | null {
  if (err instanceof CliError) return err;
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const msg = typeof e.message === 'string' ? e.message : String(err);
  // Two classes share the name (node settings, tenant files); both are the user's to fix.
  if (e.name === 'ConfigError') return new CliError(firstLine(err), 2);
  if (e.name === 'NatsError' && config.natsUrl) return new CliError(`cannot reach NATS at ${shownUrl(config.natsUrl)} (VIGIL_NATS_URL): ${reason(err)}`);
  if (/^cannot listen on /.test(msg)) return new CliError(`${firstLine(err)} (VIGIL_HOST, VIGIL_PORT): the port is in use or the address is not on this machine`);
  const chdb = chdbDir(config, cmd);
  if (chdb !== null && (/^chdb cannot open /.test(msg) || /Cannot lock file|Another server instance/.test(msg))) {
    const pid = chdbHolder(chdb);
    if (pid !== null || /lock/i.test(msg)) return dataDirInUse(config, cmd, pid);
    // chDB says only "Failed to create connection" when another process holds the folder.
    return new CliError(`cannot open the embedded analytics store in ${chdb} (VIGIL_DATA_DIR): ${firstLine(err)}; is another process using this data dir?`);
  }
  if (config.redisUrl && /\bredis\b/i.test(msg) && /reconnecting|ECONNREFUSED|connect/i.test(msg)) {
    return new CliError(`cannot reach Redis at ${shownUrl(config.redisUrl)} (VIGIL_REDIS_URL): ${firstLine(err)}`);
  }
  return null;
}
