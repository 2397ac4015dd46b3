// Each way `vigil start`, `vigil migrate`, `vigil import` and the admin commands commonly fail is
// one line on stderr naming the setting, URL or path, with a non-zero exit; and the checks that
// make it so run before anything is opened (no migration before "port in use").
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, reason, shownUrl } from '../../adapters/compose/cli-errors.js';
import { parseNodeConfig } from '../../adapters/compose/config.js';
import { startNode, type VigilNode } from '../../adapters/compose/node.js';
import { chdbHolder, explainStartError } from '../../adapters/compose/preflight.js';
import { BUILT, expectOneLine, freePort, tempDir, vigil, vigilAsync, vigilStart } from './cli-run.js';

describe.skipIf(!BUILT)('vigil start: one line per misconfiguration, nothing opened', () => {
  const cwd = tempDir('vigil-cli-start-');
  afterAll(() => cwd.remove());
  const dataDir = join(cwd.dir, 'data');
  const start = (env: Record<string, string>) => vigil(['start'], { cwd: cwd.dir, env: { VIGIL_DATA_DIR: dataDir, ...env } });

  it('NATS without Redis (and Redis without NATS) names the missing setting, exit 2', async () => {
    const port = await freePort();
    const a = start({ VIGIL_NATS_URL: `nats://127.0.0.1:${port}` });
    expect(a.status).toBe(2);
    expect(expectOneLine(a)).toBe('vigil start: durable mode needs both VIGIL_NATS_URL and VIGIL_REDIS_URL: VIGIL_REDIS_URL is not set');
    const b = start({ VIGIL_REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(b.status).toBe(2);
    expect(expectOneLine(b)).toMatch(/VIGIL_NATS_URL is not set$/);
  });

  it('a missing config directory names VIGIL_CONFIG_DIR and the path, exit 2', () => {
    const r = start({ VIGIL_CONFIG_DIR: join(cwd.dir, 'no-such-dir') });
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toBe(`vigil start: VIGIL_CONFIG_DIR ${join(cwd.dir, 'no-such-dir')}: no such directory`);
    mkdirSync(join(cwd.dir, 'empty-config'));
    const e = start({ VIGIL_CONFIG_DIR: join(cwd.dir, 'empty-config') });
    expect(e.status).toBe(2);
    expect(expectOneLine(e)).toMatch(/VIGIL_CONFIG_DIR .*empty-config: no tenants\/ folder in it/);
  });

  it('NATS refusing the connection names the URL and VIGIL_NATS_URL, exit 1', async () => {
    const [n, r] = [await freePort(), await freePort()];
    const res = start({ VIGIL_NATS_URL: `nats://127.0.0.1:${n}`, VIGIL_REDIS_URL: `redis://127.0.0.1:${r}` });
    expect(res.status).toBe(1);
    expect(expectOneLine(res)).toBe(`vigil start: cannot reach NATS at nats://127.0.0.1:${n} (VIGIL_NATS_URL): connection refused`);
  });

  it('Redis refusing the connection names its URL (password hidden) and VIGIL_REDIS_URL, exit 1', async () => {
    // A listening "NATS" is enough: the check only connects.
    const fake: Server = createServer((s) => s.destroy());
    await new Promise<void>((ok) => fake.listen(0, '127.0.0.1', ok));
    try {
      const r = await freePort();
      const res = start({ VIGIL_NATS_URL: `nats://127.0.0.1:${(fake.address() as { port: number }).port}`, VIGIL_REDIS_URL: `redis://:hunter2@127.0.0.1:${r}` });
      expect(res.status).toBe(1);
      expect(expectOneLine(res)).toBe(`vigil start: cannot reach Redis at redis://:***@127.0.0.1:${r} (VIGIL_REDIS_URL): connection refused`);
    } finally {
      fake.close();
    }
  });

  it.each([
    ['VIGIL_NATS_URL', 'http://127.0.0.1:4222', /invalid setting natsUrl \(VIGIL_NATS_URL\): a nats:\/\/ or tls:\/\/ URL is needed, not http:\/\//],
    ['VIGIL_REDIS_URL', 'http://127.0.0.1:6379', /invalid setting redisUrl \(VIGIL_REDIS_URL\): a redis:\/\/ or rediss:\/\/ URL is needed, not http:\/\//],
    ['VIGIL_CLICKHOUSE_URL', 'tcp://127.0.0.1:9000', /invalid setting clickhouseUrl \(VIGIL_CLICKHOUSE_URL\): a http:\/\/ or https:\/\/ URL is needed/],
  ])('%s=%s is refused, naming the setting (exit 2)', (name, value, message) => {
    const other: Record<string, string> = name === 'VIGIL_NATS_URL' ? { VIGIL_REDIS_URL: 'redis://127.0.0.1:1' } : name === 'VIGIL_REDIS_URL' ? { VIGIL_NATS_URL: 'nats://127.0.0.1:1' } : {};
    const r = start({ [name]: value, ...other });
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toMatch(message);
  });

  it('a port in use names host, port and the settings, before the migration runs (exit 1)', async () => {
    const busy: Server = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = start({ VIGIL_PORT: String(port) });
      expect(r.status).toBe(1);
      expect(expectOneLine(r)).toBe(`vigil start: cannot listen on 127.0.0.1:${port} (VIGIL_HOST, VIGIL_PORT): the port is in use`);
      expect(r.stdout).not.toMatch(/analytics schema/);
      expect(existsSync(join(dataDir, 'chdb'))).toBe(false);
    } finally {
      busy.close();
    }
  });
});

describe.skipIf(!BUILT)('one data dir, two processes (embedded chDB)', () => {
  const cwd = tempDir('vigil-cli-datadir-');
  let node: Awaited<ReturnType<typeof vigilStart>> | undefined;
  beforeAll(async () => {
    node = await vigilStart({ VIGIL_PORT: '0', VIGIL_DEMO_TOKEN: 'demo-token-123' }, cwd.dir);
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
    cwd.remove();
  }, 60_000);

  it('vigil migrate while the node runs names the data dir and VIGIL_DATA_DIR (exit 1)', () => {
    const r = vigil(['migrate'], { cwd: cwd.dir });
    expect(r.status).toBe(1);
    const line = expectOneLine(r);
    expect(line).toContain(`the data dir ${resolve(cwd.dir, '.vigil')} (VIGIL_DATA_DIR) is in use by another process (pid ${node!.pid}`);
    expect(line).toMatch(/a node migrates the schema itself when it starts/);
  }, 30_000);

  it('a second vigil start on the same data dir says to give it its own VIGIL_DATA_DIR (exit 1)', async () => {
    const r = vigil(['start'], { cwd: cwd.dir, env: { VIGIL_PORT: String(await freePort()) } });
    expect(r.status).toBe(1);
    const line = expectOneLine(r);
    expect(line).toContain(`(VIGIL_DATA_DIR) is in use by another process (pid ${node!.pid}`);
    expect(line).toMatch(/give this node its own VIGIL_DATA_DIR/);
  }, 30_000);
});

describe.skipIf(!BUILT)('vigil import and the admin commands', () => {
  const cwd = tempDir('vigil-cli-import-');
  let node: VigilNode;
  const TOKEN = 'import-demo-token';
  beforeAll(async () => {
    node = await startNode(parseNodeConfig({}, {}, {
      host: '127.0.0.1', port: 0, analytics: 'off', demoToken: TOKEN, adminToken: 'import-admin-token', dataDir: join(cwd.dir, 'data'),
    }), { log: () => undefined });
    writeFileSync(join(cwd.dir, 'bad.csv'), 'patient_id,biometric_type,timestamp,value,unit\np1,glucose,2026-11-21T06:00:00,abc,mg/dL\np1,glucose,2026-11-21T07:00:00,,mg/dL\n');
    writeFileSync(join(cwd.dir, 'mixed.csv'), 'patient_id,biometric_type,timestamp,value,unit\np1,glucose,2026-11-21T06:00:00,117,mg/dL\np1,glucose,2026-11-21T07:00:00,abc,mg/dL\n');
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    cwd.remove();
  });
  // The node runs in this process: the CLI must not block its event loop.
  const run = (args: string[], env: Record<string, string> = {}) => vigilAsync(args, { cwd: cwd.dir, env });

  it('every row rejected: status failed, exit 1, one line on stderr', async () => {
    const r = await run(['import', 'bad.csv', '--tenant', 'demo', '--token', TOKEN, '--url', node.url]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ input_rows: 2, output_rows: 0, dlq_rows: 2, status: 'failed' });
    expect(expectOneLine(r)).toBe('vigil import: every row of bad.csv was rejected (2 of 2; see rejected_by_code above)');
  }, 30_000);

  it('some rows rejected: status partial, exit 0; re-imported: the accepted row is a duplicate, still partial', async () => {
    const a = await run(['import', 'mixed.csv', '--tenant', 'demo', '--token', TOKEN, '--url', node.url]);
    expect(a.status).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ output_rows: 1, dlq_rows: 1, status: 'partial' });
    const b = await run(['import', 'mixed.csv', '--tenant', 'demo', '--token', TOKEN, '--url', node.url]);
    expect(b.status).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ output_rows: 0, duplicates: 1, dlq_rows: 1, status: 'partial' });
  }, 30_000);

  it('no node at the URL: names the URL it tried, exit 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['import', 'bad.csv', '--tenant', 'demo', '--token', TOKEN, '--url', url]);
    expect(r.status).toBe(1);
    expect(expectOneLine(r)).toBe(`vigil import: cannot reach the node at ${url}: connection refused`);
    const d = await run(['import', 'bad.csv', '--tenant', 'demo', '--token', TOKEN], { VIGIL_PORT: url.split(':')[2]! });
    expect(expectOneLine(d)).toBe(`vigil import: cannot reach the node at ${url}: connection refused`);
    const i = await run(['inspect', 'patient', 'p1', '--tenant', 'demo', '--token', 'x'.repeat(10), '--url', url]);
    expect([i.status, expectOneLine(i)]).toEqual([1, `vigil inspect: cannot reach the node at ${url}: connection refused`]);
    const s = await run(['shards', 'status', '--token', 'x'.repeat(10), '--url', url]);
    expect([s.status, expectOneLine(s)]).toEqual([1, `vigil shards: cannot reach the node at ${url}: connection refused`]);
  }, 30_000);

  it('a file that is not there, a wrong token, a missing token: one line each', async () => {
    const f = await run(['import', 'nope.csv', '--tenant', 'demo', '--token', TOKEN, '--url', node.url]);
    expect([f.status, expectOneLine(f)]).toEqual([1, 'vigil import: cannot read nope.csv: no such file or directory']);
    const t = await run(['import', 'bad.csv', '--tenant', 'demo', '--token', 'wrong-token-123', '--url', node.url]);
    expect(t.status).toBe(1);
    expect(expectOneLine(t)).toMatch(new RegExp(`^vigil import: import batch 0 refused by ${node.url}: HTTP 401 `));
    const m = await run(['import', 'bad.csv', '--tenant', 'demo', '--url', node.url]);
    expect([m.status, expectOneLine(m)]).toEqual([2, 'vigil import: a tenant token is required (--token or VIGIL_TOKEN)']);
  }, 30_000);
});

describe('who holds a chDB data dir (its status file)', () => {
  const d = tempDir('vigil-chdb-status-');
  afterAll(() => d.remove());
  const status = (pid: number) => writeFileSync(join(d.dir, 'status'), `PID: ${pid}\nStarted at: 2026-01-01 00:00:00\nRevision: 1\n`);

  it('no status file, this process, a process that is gone: nobody', () => {
    expect(chdbHolder(d.dir)).toBeNull();
    status(process.pid);
    expect(chdbHolder(d.dir)).toBeNull();
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    status(Number(gone.stdout.trim()));
    expect(chdbHolder(d.dir)).toBeNull();
  });

  it('a live Node process is the holder; on Linux a live pid reused by something else is not', async () => {
    const node = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    const other = existsSync('/proc/self/cmdline') ? spawn('sleep', ['20']) : null;
    try {
      status(node.pid!);
      expect(chdbHolder(d.dir)).toBe(node.pid);
      if (other) {
        status(other.pid!);
        expect(chdbHolder(d.dir)).toBeNull();
      }
    } finally {
      node.kill();
      other?.kill();
    }
  });
});

describe('failures from inside startNode, said in the user\'s terms', () => {
  const config = parseNodeConfig({}, {}, { natsUrl: 'nats://u:pw@127.0.0.1:4999', redisUrl: 'redis://127.0.0.1:6999', dataDir: '/tmp/vigil-x' });
  const explain = (err: unknown) => explainStartError(err, config, 'start');

  it('NATS errors name the URL (password hidden); port errors name the settings; config errors exit 2', () => {
    const nats = Object.assign(new Error('CONNECTION_REFUSED'), { name: 'NatsError', code: 'CONNECTION_REFUSED' });
    expect(explain(nats)?.message).toBe('cannot reach NATS at nats://u:***@127.0.0.1:4999 (VIGIL_NATS_URL): connection refused');
    expect(explain(new Error('cannot listen on 127.0.0.1:8080'))?.message).toBe('cannot listen on 127.0.0.1:8080 (VIGIL_HOST, VIGIL_PORT): the port is in use or the address is not on this machine');
    const cfg = Object.assign(new Error('/x/tenants: cannot read the tenants directory (ENOENT)'), { name: 'ConfigError' });
    expect(explain(cfg)).toMatchObject({ exitCode: 2, message: '/x/tenants: cannot read the tenants directory (ENOENT)' });
    expect(explain(new Error('something else'))).toBeNull();
  });

  it('a chDB open failure names the data dir and VIGIL_DATA_DIR', () => {
    const local = parseNodeConfig({}, {}, { dataDir: '/tmp/vigil-x' });
    const e = explainStartError(new Error('chdb cannot open /tmp/vigil-x/chdb: Failed to create connection for path'), local, 'migrate');
    expect(e).toBeInstanceOf(CliError);
    expect(e!.message).toMatch(/\/tmp\/vigil-x\/chdb \(VIGIL_DATA_DIR\)/);
  });

  it('errno codes read as words; URLs without a password are shown as given', () => {
    expect(reason(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe('connection refused');
    expect(reason(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBe('host not found');
    expect(shownUrl('nats://h:4222')).toBe('nats://h:4222');
    expect(shownUrl('http://default:secret@ch:8123')).toBe('http://default:***@ch:8123/');
  });
});
