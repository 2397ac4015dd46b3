// The compose stack without Docker: the real servers the compose file and the manifests name
// (nats-server with JetStream, redis-server, clickhouse-server, from the Debian packages, via
// test/harness), and the built node started with *the compose file's own environment* for each
// node service (`vigil`, `vigil-2`), only hosts, ports, the data dir and the advertised address
// rewritten; they must form one cluster, split the slots, forward reads to each other and hand
// the slots over on SIGTERM. Then the health checks the
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
import { keyGroupOf } from '../../runtime/keygroups.js';
import { slotOfKeyGroup } from '../../runtime/cluster.js';
import { environment, healthcheckCommand, hostPathOf, loadCompose, nodeServices, service } from './compose-model.js';
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

interface RunningNode {
  service: string;
  proc: ChildProcess;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  out(): string;
}

async function stopNode(n: RunningNode): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
  const exited = new Promise((r) => n.proc.once('exit', r));
  n.proc.kill('SIGTERM');
  await exited;
}

interface ClusterStatus {
  node: string;
  members: { node: string; url: string }[];
  slots: number;
  key_groups: number;
  owned: number[];
  owners: ({ node: string; url: string } | null)[];
  unowned: number;
  suspended: boolean;
}

describe('the compose environment against real servers', () => {
  const nats = useNats();
  const redis = useRedis();
  const ch = useClickHouse();
  const nodes: RunningNode[] = [];
  // The first node, `vigil`: the checks below that concern one node use it.
  let out = '';
  let port = 0;
  let env: Record<string, string> = {};

  /** Starts one compose node service with its own environment, rewritten only where Docker's network differs. */
  async function startComposeNode(name: string): Promise<RunningNode> {
    const ce = environment(compose, name).env;
    const nodePort = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), `vigil-stack-${name}-`));
    const configDir = hostPathOf(compose, name, ce['VIGIL_CONFIG_DIR']!);
    const nodeEnv: Record<string, string> = {
      ...ce,
      VIGIL_PORT: String(nodePort),
      VIGIL_DATA_DIR: dataDir,
      VIGIL_CONFIG_DIR: repoPath(configDir!),
      VIGIL_NATS_URL: retarget(ce['VIGIL_NATS_URL']!, new URL(nats().url).host),
      VIGIL_REDIS_URL: retarget(ce['VIGIL_REDIS_URL']!, new URL(redis().url).host),
      VIGIL_CLICKHOUSE_URL: retarget(ce['VIGIL_CLICKHOUSE_URL']!, `127.0.0.1:${ch().httpPort}`),
      // Compose's service name only resolves inside Docker's network (the unit test checks it names the service).
      ...(ce['VIGIL_ADVERTISE_URL'] ? { VIGIL_ADVERTISE_URL: retarget(ce['VIGIL_ADVERTISE_URL'], `127.0.0.1:${nodePort}`) } : {}),
    };
    let text = '';
    // Only the compose variables (and PATH), so nothing from the test's own environment leaks in.
    const proc = spawn(process.execPath, ['bin/vigil.js', 'start'], { cwd: REPO, env: { PATH: process.env['PATH'] ?? '', ...nodeEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    const n: RunningNode = { service: name, proc, port: nodePort, dataDir, env: nodeEnv, out: () => text };
    nodes.push(n);
    const end = Date.now() + 90_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${name}: vigil start exited ${proc.exitCode}:\n${text}`);
      try {
        if ((await fetch(`http://127.0.0.1:${nodePort}/readyz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error(`${name}: not ready in 90 s:\n${text}`);
      await sleep(200);
    }
    return n;
  }

  async function clusterOf(n: RunningNode): Promise<ClusterStatus> {
    const r = await fetch(`http://127.0.0.1:${n.port}/admin/cluster`, { headers: { authorization: `Bearer ${n.env['VIGIL_ADMIN_TOKEN']}` } });
    expect(r.status, `${n.service}: GET /admin/cluster`).toBe(200);
    return (await r.json()) as ClusterStatus;
  }

  async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    // One after the other, as a first `docker compose up` would get them (the first one creates
    // the analytics schema).
    for (const name of nodeServices(compose)) await startComposeNode(name);
    const first = nodes[0]!;
    ({ port, env } = first);
    out = first.out();
  });

  afterAll(async () => {
    for (const n of [...nodes].reverse()) await stopNode(n);
    for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
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

  it('runs its nodes as one cluster: every node a member, the slots split evenly, none unowned', async () => {
    expect(nodes.map((n) => n.service)).toEqual(['vigil', 'vigil-2']);
    const ids = nodes.map((n) => n.env['VIGIL_NODE_ID']!);
    for (const n of nodes) {
      const st = await until(`${n.service}: /admin/cluster`, () => clusterOf(n), (c) => c.members.length === nodes.length && c.unowned === 0 && !c.suspended);
      expect(st.node).toBe(n.env['VIGIL_NODE_ID']);
      expect(st.members.map((m) => m.node).sort()).toEqual([...ids].sort());
      expect(st.slots).toBe(Number(n.env['VIGIL_CLUSTER_SLOTS']));
      for (const m of st.members) expect(m.url).toBe(nodes.find((x) => x.env['VIGIL_NODE_ID'] === m.node)!.env['VIGIL_ADVERTISE_URL']);
    }
    // Fair share: shares differ by at most one (64 over two nodes: 32 each), once the hand-over settled.
    const shares = await until('even shares', async () => Promise.all(nodes.map(async (n) => (await clusterOf(n)).owned.length)), (v) => v.reduce((a, b) => a + b, 0) === 64 && Math.max(...v) - Math.min(...v) <= 1);
    expect(shares).toEqual([32, 32]);
    const metrics = await (await fetch(`http://127.0.0.1:${nodes[1]!.port}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_cluster_members 2$/m);
    expect(metrics).toMatch(/^vigil_cluster_slots_owned 32$/m);
  });

  it('takes events on either node and answers reads of any patient on both (forwarded to the owner)', async () => {
    const [a, b] = nodes as [RunningNode, RunningNode];
    const token = b.env['VIGIL_DEMO_TOKEN']!;
    const ids = Array.from({ length: 16 }, (_, i) => `stack-cluster-p${i}`);
    const r = await fetch(`http://127.0.0.1:${b.port}/v1/events:batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(ids.map((id, i) => ({ event_id: `stack-cluster-${i}`, tenant_id: 'demo', event_type: 'vitals.observation', schema_version: 1, event_time: new Date().toISOString(), payload: { patient_id: id, heart_rate: 70 + i } }))),
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { accepted?: number }).accepted).toBe(ids.length);
    // Who owns each patient, by the cluster's own map: both nodes must own some of them.
    const st = await clusterOf(a);
    const ownerOf = (id: string) => st.owners[slotOfKeyGroup(keyGroupOf('demo', 'patient', id, st.key_groups), st.slots, st.key_groups)]!.node;
    expect(new Set(ids.map(ownerOf)).size).toBe(2);
    for (const id of ids) {
      for (const n of nodes) {
        const got = await until(`${n.service}: risk-summary of ${id} (owner ${ownerOf(id)})`, async () => {
          const res = await fetch(`http://127.0.0.1:${n.port}/v1/patients/${id}/risk-summary`, { headers: { authorization: `Bearer ${token}` } });
          return { status: res.status, body: (await res.json()) as { patient_id?: string } };
        }, (v) => v.status === 200, 15_000);
        expect(got.body.patient_id).toBe(id);
      }
    }
  });

  it('a node stopped with SIGTERM exits cleanly and the other takes every slot', async () => {
    const [a, b] = nodes as [RunningNode, RunningNode];
    await stopNode(b);
    expect(b.proc.exitCode, b.out()).toBe(0);
    const st = await until('vigil owns every slot', () => clusterOf(a), (c) => c.members.length === 1 && c.owned.length === 64 && c.unowned === 0, 20_000);
    expect(st.members.map((m) => m.node)).toEqual([a.env['VIGIL_NODE_ID']]);
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_cluster_slots_owned 64$/m);
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
