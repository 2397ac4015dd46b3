// The compose stack without Docker: the real servers the compose file and the manifests name
// (nats-server with JetStream, redis-server, clickhouse-server, from the Debian packages, via
// test/harness), and the built node started with *the compose file's own environment* for the
// `vigil` service, only hosts, ports and the data dir rewritten. Then the health checks the
// deployment files declare are run as written (the node's `node -e fetch(...)` checks, the NATS
// and ClickHouse URLs of compose and Kubernetes), and the analytics database Superset is pointed
// at is checked to hold every table its datasets read. promtool checks the compose scrape config,
// and the Superset init script and config are syntax-checked.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, useClickHouse, useNats, useRedis } from '../harness/servers.js';
import { environment, healthcheckCommand, hostPathOf, loadCompose, service } from './compose-model.js';
import { asMap, asString } from './yaml-subset.js';
import { execForm, parseDockerfile, readRepo, REPO, repoPath } from './support.js';

const compose = loadCompose();
const composeEnv = environment(compose, 'vigil').env;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Replaces a URL's host and port (keeps scheme, credentials, path). */
function retarget(url: string, hostPort: string): string {
  const u = new URL(url);
  const t = new URL(`http://${hostPort}`);
  u.hostname = t.hostname;
  u.port = t.port;
  return u.href.replace(/\/$/, '');
}

describe('the compose environment against real servers', () => {
  const nats = useNats();
  const redis = useRedis();
  const ch = useClickHouse();
  let node: ChildProcess | null = null;
  let out = '';
  let port = 0;
  let dataDir = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    port = await freePort();
    dataDir = mkdtempSync(path.join(tmpdir(), 'vigil-stack-'));
    const configDir = hostPathOf(compose, 'vigil', composeEnv['VIGIL_CONFIG_DIR']!);
    env = {
      ...composeEnv,
      VIGIL_PORT: String(port),
      VIGIL_DATA_DIR: dataDir,
      VIGIL_CONFIG_DIR: repoPath(configDir!),
      VIGIL_NATS_URL: retarget(composeEnv['VIGIL_NATS_URL']!, new URL(nats().url).host),
      VIGIL_REDIS_URL: retarget(composeEnv['VIGIL_REDIS_URL']!, new URL(redis().url).host),
      VIGIL_CLICKHOUSE_URL: retarget(composeEnv['VIGIL_CLICKHOUSE_URL']!, `127.0.0.1:${ch().httpPort}`),
    };
    // Only the compose variables (and PATH), so nothing from the test's own environment leaks in.
    node = spawn(process.execPath, ['bin/vigil.js', 'start'], { cwd: REPO, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    node.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    node.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const end = Date.now() + 90_000;
    for (;;) {
      if (node.exitCode !== null) throw new Error(`vigil start exited ${node.exitCode}:\n${out}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error(`not ready in 90 s:\n${out}`);
      await sleep(200);
    }
  });

  afterAll(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((r) => node!.once('exit', r));
      node.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts in durable mode with the example tenants, listening on 0.0.0.0', () => {
    expect(env['VIGIL_HOST']).toBe('0.0.0.0');
    expect(out).toMatch(/durable mode: JetStream stream VIGIL_default/);
    expect(out).toMatch(/tenants: acme, demo/);
    expect(out).toMatch(new RegExp(`listening on http://0\\.0\\.0\\.0:${port}`));
  });

  it("passes the compose healthcheck and the image's HEALTHCHECK, run as written", () => {
    const composeCheck = healthcheckCommand(compose, 'vigil')!;
    expect(composeCheck[0]).toBe('node');
    const script = composeCheck.slice(1).map((a) => a.replace(`127.0.0.1:${composeEnv['VIGIL_PORT']}/`, `127.0.0.1:${port}/`));
    const r1 = spawnSync(process.execPath, script, { encoding: 'utf8', timeout: 10_000 });
    expect(r1.status, r1.stderr).toBe(0);

    const hc = parseDockerfile(readRepo('Dockerfile')).stages.at(-1)!.instructions.findLast((i) => i.cmd === 'HEALTHCHECK')!.args;
    const m = /CMD node -e "(.*)"$/.exec(hc);
    expect(m, hc).not.toBeNull();
    const r2 = spawnSync(process.execPath, ['-e', m![1]!], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, VIGIL_PORT: String(port) } });
    expect(r2.status, r2.stderr).toBe(0);
  });

  it('exports the readiness of both durable ports', async () => {
    // The ports are probed once a second; the first sample may not be taken yet.
    let text = '';
    for (let i = 0; i < 50 && !/vigil_port_up\{port="snapshot_store"\}/.test(text); i++) {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await sleep(100);
    }
    expect(text).toMatch(/vigil_port_up\{port="event_log"\} 1/);
    expect(text).toMatch(/vigil_port_up\{port="snapshot_store"\} 1/);
  });

  it('accepts events with the compose default demo token and the example acme token', async () => {
    const post = async (token: string, tenant: string) => {
      const r = await fetch(`http://127.0.0.1:${port}/v1/events:batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify([{ event_id: `stack-${tenant}-1`, tenant_id: tenant, event_type: 'vitals.observation', schema_version: 1, event_time: new Date().toISOString(), payload: { patient_id: 'p1', heart_rate: 80 } }]),
      });
      return { status: r.status, body: (await r.json()) as { accepted?: number } };
    };
    expect(await post(composeEnv['VIGIL_DEMO_TOKEN']!, 'demo')).toMatchObject({ status: 200, body: { accepted: 1 } });
    expect(await post('acme-example-token-change-me', 'acme')).toMatchObject({ status: 200, body: { accepted: 1 } });
  });

  it("holds, in the database Superset's bundle is pointed at, every table its datasets read", async () => {
    const args = asMap(asMap(service(compose, 'superset')['build'], 'build')['args'], 'args');
    const database = new URL(asString(args['SUPERSET_CLICKHOUSE_URI'], 'uri')).pathname.slice(1);
    const dir = repoPath('dashboards/superset/datasets/Vigil_ClickHouse');
    const tables = readdirSync(dir).map((f) => (JSON.parse(readRepo(path.posix.join('dashboards/superset/datasets/Vigil_ClickHouse', f))) as { table_name: string }).table_name);
    expect(tables.length).toBeGreaterThan(0);
    const q = `SELECT name FROM system.tables WHERE database = '${database}' FORMAT TabSeparated`;
    const r = await fetch(`http://127.0.0.1:${ch().httpPort}/?query=${encodeURIComponent(q)}`);
    const present = new Set((await r.text()).trim().split('\n'));
    expect(tables.filter((t) => !present.has(t))).toEqual([]);
  });

  it('answers the NATS and ClickHouse health URLs of compose and Kubernetes', async () => {
    const urls: { what: string; url: string }[] = [];
    for (const name of ['nats', 'clickhouse']) {
      const cmd = healthcheckCommand(compose, name)!;
      urls.push({ what: `compose ${name}`, url: cmd.find((a) => a.startsWith('http://'))! });
    }
    for (const file of ['nats.json', 'clickhouse.json']) {
      const list = JSON.parse(readRepo(`deploy/k8s/${file}`)) as { items: { kind: string; spec: { template: { spec: { containers: { ports: { name: string; containerPort: number }[]; readinessProbe: { httpGet?: { path: string; port: string } }; livenessProbe: { httpGet?: { path: string; port: string } } }[] } } } }[] };
      const c = list.items.find((i) => i.kind === 'StatefulSet')!.spec.template.spec.containers[0]!;
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        if (!probe.httpGet) continue;
        const p = c.ports.find((x) => x.name === probe.httpGet!.port)!.containerPort;
        urls.push({ what: `k8s ${file}`, url: `http://127.0.0.1:${p}${probe.httpGet.path}` });
      }
    }
    const real: Record<string, number> = { '8222': nats().monitorPort, '8123': ch().httpPort };
    for (const { what, url } of urls) {
      const u = new URL(url);
      expect(real[u.port], `${what}: ${url} is on an unexpected port`).toBeDefined();
      u.port = String(real[u.port]);
      const r = await fetch(u);
      expect(r.status, `${what}: ${url} -> ${r.status}`).toBe(200);
    }
  });
});

describe('deployment files checked by their own tools', () => {
  it('promtool accepts the compose scrape configuration', () => {
    const inContainer = loadCompose();
    const flag = asMap(asMap(inContainer['services'], 's')['prometheus'], 'p')['command'] as string[];
    const file = hostPathOf(inContainer, 'prometheus', flag.find((a) => a.startsWith('--config.file='))!.slice('--config.file='.length))!;
    const r = spawnSync('promtool', ['check', 'config', file], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.error, 'promtool is missing: apt-get install --no-install-recommends prometheus (.ci/run does)').toBeUndefined();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('the Superset init script is valid sh and its config valid Python', () => {
    const sh = spawnSync('sh', ['-n', repoPath('deploy/superset/init.sh')], { encoding: 'utf8' });
    expect(sh.status, sh.stderr).toBe(0);
    const py = spawnSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', repoPath('deploy/superset/superset_config.py')], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
  });

  it("the image's ENTRYPOINT script exists and prints the CLI's usage", () => {
    const entry = execForm(parseDockerfile(readRepo('Dockerfile')).stages.at(-1)!.instructions.findLast((i) => i.cmd === 'ENTRYPOINT'))!;
    const r = spawnSync(process.execPath, [...entry.slice(1), '--help'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(`${r.stdout}${r.stderr}`).toMatch(/usage: vigil <command>/);
  });
});
