/**
 * Real servers for integration tests: each one runs as a child process on free ports with its
 * own temp dir, so tests never depend on (or disturb) a system service and can run on any box
 * where the Debian packages are installed (see .ci/run).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export type ServerKind = 'redis' | 'nats' | 'clickhouse';

export interface RunningServer {
  readonly kind: ServerKind;
  /** Absolute path of the executable, for error messages. */
  readonly binary: string;
  readonly url: string;
  /** The port clients connect to; kept across restart(). */
  readonly port: number;
  /** Temp dir holding data, config and logs; kept across restart(), removed by stop(). */
  readonly dataDir: string;
  /** Pid of the most recently started process (changes on restart). */
  readonly pid: number;
  /** True while the current process has not exited. */
  readonly running: boolean;
  /** SIGTERM, SIGKILL after a grace period, then delete the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Send a signal without waiting, for fault tests (SIGKILL a broker, SIGSTOP to hang it). */
  kill(signal?: NodeJS.Signals): void;
  /** Stop the process (whatever state it is in), keep data and port, start again, wait ready. */
  restart(): Promise<void>;
  /** Tail of the server's output and log files. */
  logs(): string;
}

export interface RedisServer extends RunningServer {
  readonly kind: 'redis';
}

export interface NatsServer extends RunningServer {
  readonly kind: 'nats';
  readonly monitorPort: number;
}

export interface ClickHouseServer extends RunningServer {
  readonly kind: 'clickhouse';
  readonly httpPort: number;
  readonly tcpPort: number;
}

export interface StartOptions {
  /** Override the executable (absolute path or a name looked up on PATH). */
  binary?: string;
  /** Extra command-line arguments appended after the harness's own. */
  extraArgs?: string[];
  /** How long to wait for readiness. */
  startTimeoutMs?: number;
}

export interface RedisOptions extends StartOptions {
  /** Persist to an AOF in dataDir so data survives restart(); off by default for speed. */
  appendonly?: boolean;
}

/** A port nothing listens on right now. Racy by nature; start*() retries on EADDRINUSE. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * Several distinct free ports. All listeners are held open together: allocating one at a time
 * could hand the same port back twice.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => {
            const addr = srv.address();
            if (addr && typeof addr === 'object') resolve(addr.port);
            else reject(new Error('freePort: listener has no TCP address'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

// ---------------------------------------------------------------------------------------------
// Binary lookup

// Debian puts nats-server and clickhouse-server in /usr/sbin, which is not on a non-root PATH.
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function resolveBinary(nameOrPath: string, aptPackage: string): string {
  const candidates = nameOrPath.includes('/')
    ? [nameOrPath]
    : [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS].map((d) =>
        join(d, nameOrPath),
      );
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next one
    }
  }
  throw new Error(
    `${nameOrPath}: executable not found (looked in ${nameOrPath.includes('/') ? nameOrPath : 'PATH and /usr/sbin'}). ` +
      `Install it with \`apt-get install ${aptPackage}\`; .ci/run does this.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Probes. Each answers "ready?" and never throws, so the wait loop stays simple.

function redisPing(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // While an AOF is loading Redis answers -LOADING, which must count as not ready.
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function httpProbe(port: number, path: string, timeoutMs: number, accept: (status: number, body: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    // agent:false so no keep-alive socket outlives the probe and holds the event loop.
    const req = httpGet({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(accept(res.statusCode ?? 0, body)));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping

const live = new Set<ManagedServer>();
let reaperInstalled = false;

/** Synchronous because 'exit' handlers cannot await; a leaked broker would outlive CI jobs. */
function reapAll(): void {
  for (const s of live) s.reapSync();
  live.clear();
}

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.on('exit', reapAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      reapAll();
      // Our listener suppresses Node's default "die on signal"; if nobody else handles it,
      // restore the default and re-raise so the process still terminates.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

interface Spec {
  kind: ServerKind;
  binary: string;
  /** Ports to allocate; [0] is the client port. */
  portCount: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  /** Builds argv (writing config files if needed). Called again only when ports change. */
  configure(dataDir: string, ports: readonly number[]): Promise<string[]>;
  probe(ports: readonly number[]): Promise<boolean>;
  url(ports: readonly number[]): string;
  /** Server-managed log files worth showing in errors, besides captured stdout/stderr. */
  logFiles(dataDir: string): string[];
  env?: NodeJS.ProcessEnv;
  /** Output meaning the server is dead even though the process is still alive. */
  fatal?: RegExp;
}

const OUTPUT_LOG = 'harness-output.log';
// Most servers are up within ~50 ms, so start polling fast and back off for slow ones.
const POLL_FIRST_MS = 10;
const POLL_MAX_MS = 250;
const PROBE_TIMEOUT_MS = 1000;
const PORT_ATTEMPTS = 3;

function tail(text: string, maxLines: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-maxLines).join('\n');
}

function readTail(file: string, maxBytes = 16_384): string {
  try {
    const buf = readFileSync(file);
    return buf.subarray(Math.max(0, buf.length - maxBytes)).toString('utf8');
  } catch {
    return '';
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

class ManagedServer implements RunningServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private args: string[] = [];
  private ports: number[] = [];
  private lastPid = -1;
  private stopped = false;

  constructor(
    protected readonly spec: Spec,
    readonly dataDir: string,
  ) {}

  get kind(): ServerKind {
    return this.spec.kind;
  }
  get binary(): string {
    return this.spec.binary;
  }
  get url(): string {
    return this.spec.url(this.ports);
  }
  get port(): number {
    return this.portAt(0);
  }
  get pid(): number {
    return this.lastPid;
  }
  get running(): boolean {
    const c = this.child;
    // pid is undefined when spawn itself failed; such a child never ran.
    return c !== undefined && c.pid !== undefined && c.exitCode === null && c.signalCode === null;
  }

  protected portAt(i: number): number {
    const p = this.ports[i];
    if (p === undefined) throw new Error(`${this.spec.kind}: port #${i} not allocated (server not started?)`);
    return p;
  }

  /** First start: fresh ports, retried if another process grabbed one between probe and bind. */
  async launch(): Promise<void> {
    installReaper();
    live.add(this);
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) {
        // A clean slate, so output from the clashing attempt cannot be mistaken for this one's.
        await rm(this.dataDir, { recursive: true, force: true });
        await mkdir(this.dataDir, { recursive: true });
      }
      this.ports = await freePorts(this.spec.portCount);
      this.args = await this.spec.configure(this.dataDir, this.ports);
      try {
        await this.spawnAndWait();
        return;
      } catch (err) {
        const portClash = /address already in use/i.test(this.logs());
        if (!portClash || attempt >= PORT_ATTEMPTS) {
          await this.stop();
          throw err;
        }
      }
    }
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`${this.spec.kind}: restart() after stop()`);
    await this.terminate();
    await this.spawnAndWait();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate();
    live.delete(this);
    await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child?.kill(signal);
  }

  logs(): string {
    const parts = [`--- ${this.spec.binary} output (${join(this.dataDir, OUTPUT_LOG)}) ---`, tail(readTail(join(this.dataDir, OUTPUT_LOG)), 60)];
    for (const f of this.spec.logFiles(this.dataDir)) {
      if (existsSync(f)) parts.push(`--- ${f} ---`, tail(readTail(f), 40));
    }
    return parts.join('\n');
  }

  /** Called from the process 'exit' handler: no awaiting possible, so best effort. */
  reapSync(): void {
    if (this.running) this.child?.kill('SIGKILL');
    try {
      rmSync(this.dataDir, { recursive: true, force: true });
    } catch {
      // the dying server may still be writing; a leftover temp dir is harmless
    }
  }

  private async spawnAndWait(): Promise<void> {
    const { spec } = this;
    // Output goes to a file, not a pipe: nothing to drain, it survives for post-mortems, and
    // the child can be unref'd so a forgotten server never keeps a test worker alive.
    const outFile = join(this.dataDir, OUTPUT_LOG);
    const out = openSync(outFile, 'a');
    // After a restart the file still holds the previous run's output; only newer bytes count.
    const outStart = fstatSync(out).size;
    let child: ChildProcess;
    try {
      child = spawn(spec.binary, this.args, {
        cwd: this.dataDir,
        stdio: ['ignore', out, out],
        env: { ...process.env, ...spec.env },
      });
    } finally {
      closeSync(out);
    }
    this.child = child;
    child.unref();
    let spawnError: Error | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (e) => {
        spawnError = e;
        resolve();
      });
    });
    if (child.pid !== undefined) this.lastPid = child.pid;

    const deadline = Date.now() + spec.startTimeoutMs;
    const fail = async (why: string): Promise<never> => {
      await this.terminate(0);
      throw new Error(
        `${spec.binary} (${spec.kind}, port ${this.ports[0] ?? '?'}) ${why}\n` +
          `args: ${JSON.stringify(this.args)}\n${this.logs()}`,
      );
    };
    for (let pollMs = POLL_FIRST_MS; ; pollMs = Math.min(pollMs * 2, POLL_MAX_MS)) {
      if (spawnError) return fail(`could not be spawned: ${spawnError.message}`);
      if (!this.running) {
        return fail(`exited during startup (code ${child.exitCode ?? '-'}, signal ${child.signalCode ?? '-'})`);
      }
      if (await spec.probe(this.ports)) return;
      if (spec.fatal && spec.fatal.test(readFrom(outFile, outStart))) {
        return fail('reported a fatal error during startup');
      }
      if (Date.now() >= deadline) return fail(`not ready after ${spec.startTimeoutMs} ms`);
      await sleep(pollMs);
    }
  }

  /** Ends the current process, leaving data in place. graceMs 0 means SIGKILL straight away. */
  private async terminate(graceMs = this.spec.stopTimeoutMs): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.running) {
      if (graceMs > 0) {
        child.kill('SIGTERM');
        // A server paused with SIGSTOP by a fault test would never act on the SIGTERM.
        child.kill('SIGCONT');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.exited.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
        ]);
        clearTimeout(timer);
        if (timedOut && this.running) child.kill('SIGKILL');
      } else {
        child.kill('SIGKILL');
      }
    }
    await this.exited;
  }
}

async function makeDataDir(kind: ServerKind): Promise<string> {
  return mkdtemp(join(tmpdir(), `vigil-${kind}-`));
}

// ---------------------------------------------------------------------------------------------
// Redis

class RedisInstance extends ManagedServer implements RedisServer {
  override get kind(): 'redis' {
    return 'redis';
  }
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = resolveBinary(options.binary ?? 'redis-server', 'redis-server');
  const dataDir = await makeDataDir('redis');
  const server = new RedisInstance(
    {
      kind: 'redis',
      binary,
      portCount: 1,
      startTimeoutMs: options.startTimeoutMs ?? 20_000,
      stopTimeoutMs: 10_000,
      configure: async (dir, [port]) => [
        '--port', String(port),
        '--bind', '127.0.0.1',
        // Snapshots would only slow tests down and litter dataDir; the AOF is the opt-in.
        '--save', '',
        '--appendonly', options.appendonly ? 'yes' : 'no',
        '--dir', dir,
        '--daemonize', 'no',
        ...(options.extraArgs ?? []),
      ],
      probe: ([port]) => redisPing(port!, PROBE_TIMEOUT_MS),
      url: ([port]) => `redis://127.0.0.1:${port}`,
      logFiles: () => [],
    },
    dataDir,
  );
  await server.launch();
  return server;
}

// ---------------------------------------------------------------------------------------------
// NATS (with JetStream)

class NatsInstance extends ManagedServer implements NatsServer {
  override get kind(): 'nats' {
    return 'nats';
  }
  get monitorPort(): number {
    return this.portAt(1);
  }
}

export async function startNats(options: StartOptions = {}): Promise<NatsServer> {
  const binary = resolveBinary(options.binary ?? 'nats-server', 'nats-server');
  const dataDir = await makeDataDir('nats');
  const server = new NatsInstance(
    {
      kind: 'nats',
      binary,
      portCount: 2,
      startTimeoutMs: options.startTimeoutMs ?? 20_000,
      stopTimeoutMs: 10_000,
      configure: async (dir, [port, monitor]) => [
        '-js',
        '-a', '127.0.0.1',
        '-p', String(port),
        // The monitor port gives us /healthz, which (unlike the client port) only turns OK once
        // JetStream has finished recovering its store — what a restart() test needs.
        '-m', String(monitor),
        '-sd', dir,
        ...(options.extraArgs ?? []),
      ],
      probe: ([, monitor]) =>
        httpProbe(monitor!, '/healthz', PROBE_TIMEOUT_MS, (status, body) => status === 200 && body.includes('ok')),
      url: ([port]) => `nats://127.0.0.1:${port}`,
      logFiles: () => [],
    },
    dataDir,
  );
  await server.launch();
  return server;
}

// ---------------------------------------------------------------------------------------------
// ClickHouse (Debian's 18.16 build)

class ClickHouseInstance extends ManagedServer implements ClickHouseServer {
  override get kind(): 'clickhouse' {
    return 'clickhouse';
  }
  get httpPort(): number {
    return this.portAt(0);
  }
  get tcpPort(): number {
    return this.portAt(1);
  }
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/*
 * Notes on 18.16, which predates most of today's docs:
 * - the root element is <yandex>, not <clickhouse>;
 * - path settings are string-concatenated with subdirectory names, so they need a trailing '/';
 * - listen_host defaults to ::1 as well as 127.0.0.1 and startup fails where IPv6 is off;
 * - if it cannot work out the time zone it logs a Poco::Exception and then hangs instead of
 *   exiting, hence TZ=UTC, the zoneinfo pre-check and the `fatal` pattern.
 * interserver_http_port is omitted: it is only for replication, and one less port to clash.
 */
function clickHouseConfig(dir: string, httpPort: number, tcpPort: number): string {
  const p = (sub: string): string => xml(join(dir, sub) + '/');
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${xml(join(dir, 'log', 'clickhouse-server.log'))}</log>
    <errorlog>${xml(join(dir, 'log', 'clickhouse-server.err.log'))}</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${p('data')}</path>
  <tmp_path>${p('tmp')}</tmp_path>
  <user_files_path>${p('user_files')}</user_files_path>
  <format_schema_path>${p('format_schemas')}</format_schema_path>
  <users_config>${xml(join(dir, 'users.xml'))}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_concurrent_queries>100</max_concurrent_queries>
  <!-- The stock 8 GiB / 5 GiB caches are allocated lazily, but keep a test box honest. -->
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

const CLICKHOUSE_USERS = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>::/0</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;

export async function startClickHouse(options: StartOptions = {}): Promise<ClickHouseServer> {
  const binary = resolveBinary(options.binary ?? 'clickhouse-server', 'clickhouse-server');
  if (!existsSync('/usr/share/zoneinfo/UTC')) {
    throw new Error(
      `${binary}: /usr/share/zoneinfo/UTC is missing; clickhouse-server 18.16 cannot start (it hangs) ` +
        'without time zone data. Install it with `apt-get install tzdata`; .ci/run does this.',
    );
  }
  const dataDir = await makeDataDir('clickhouse');
  const server = new ClickHouseInstance(
    {
      kind: 'clickhouse',
      binary,
      portCount: 2,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      // It waits for running queries on SIGTERM (shutdown_wait_unfinished, 5 s by default).
      stopTimeoutMs: 15_000,
      configure: async (dir, [httpPort, tcpPort]) => {
        const config = join(dir, 'config.xml');
        await writeFile(config, clickHouseConfig(dir, httpPort!, tcpPort!));
        await writeFile(join(dir, 'users.xml'), CLICKHOUSE_USERS);
        return [`--config-file=${config}`, ...(options.extraArgs ?? [])];
      },
      probe: ([httpPort]) =>
        httpProbe(httpPort!, '/ping', PROBE_TIMEOUT_MS, (status, body) => status === 200 && body.trim() === 'Ok.'),
      url: ([httpPort]) => `http://127.0.0.1:${httpPort}`,
      logFiles: (dir) => [join(dir, 'log', 'clickhouse-server.err.log')],
      env: { TZ: 'UTC' },
      fatal: /Poco::Exception/,
    },
    dataDir,
  );
  await server.launch();
  return server;
}

// ---------------------------------------------------------------------------------------------
// vitest helpers

/**
 * Starts a server in beforeAll of the calling describe (or file) and stops it in afterAll.
 * Returns a getter because the server does not exist yet while the suite is being collected.
 */
export function useServer<T extends RunningServer>(start: () => Promise<T>, timeoutMs = 90_000): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  }, timeoutMs);
  afterAll(async () => {
    await server?.stop();
    server = undefined;
  }, timeoutMs);
  return () => {
    if (!server) throw new Error('server not started: call the getter inside a test or hook, not at collection time');
    return server;
  };
}

export function useRedis(options?: RedisOptions): () => RedisServer {
  return useServer(() => startRedis(options));
}

export function useNats(options?: StartOptions): () => NatsServer {
  return useServer(() => startNats(options));
}

export function useClickHouse(options?: StartOptions): () => ClickHouseServer {
  return useServer(() => startClickHouse(options));
}
