// The Kubernetes manifests (deploy/k8s/*.json, JSON so that no YAML library is needed; `kubectl
// apply -f deploy/k8s/` reads them), checked without a cluster: object shape, selectors and
// governing services, the node's environment resolved the way the kubelet does it (envFrom,
// secretKeyRef, $(VAR) expansion) and parsed with the configuration schema, every URL followed
// to a Service and on to a container port, probes on the node's port, resources, storage.
// Each check returns problems and is shown to fail on a broken copy.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNodeEnv, clone, parseDockerfile, portOf, readRepo, repoPath, execForm } from './support.js';
import type { NodeConfig } from '../../adapters/node/config.js';

const DIR = 'deploy/k8s';
const SECRET_DIR = 'deploy/k8s/secret';

// ---------------------------------------------------------------------------------------------
// A loose model of the objects (only the fields the checks read)

/* eslint-disable @typescript-eslint/no-explicit-any */
type K8sObject = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: any };
/* eslint-enable @typescript-eslint/no-explicit-any */

interface Loaded {
  file: string;
  obj: K8sObject;
}

interface Manifests {
  /** Applied by `kubectl apply -f deploy/k8s/` (not recursive). */
  applied: Loaded[];
  /** The example Secret, applied by hand (or replaced by `kubectl create secret`). */
  examples: Loaded[];
}

function loadDir(rel: string): Loaded[] {
  const out: Loaded[] = [];
  for (const f of readdirSync(repoPath(rel)).filter((x) => x.endsWith('.json')).sort()) {
    const file = path.posix.join(rel, f);
    const doc = JSON.parse(readRepo(file)) as K8sObject;
    const items = doc.kind === 'List' ? (doc['items'] as K8sObject[]) : [doc];
    for (const obj of items) out.push({ file, obj });
  }
  return out;
}

function load(): Manifests {
  return { applied: loadDir(DIR), examples: loadDir(SECRET_DIR) };
}

const all = (m: Manifests) => [...m.applied, ...m.examples];
const named = (m: Manifests, kind: string, name: string) => all(m).find((l) => l.obj.kind === kind && l.obj.metadata?.name === name)?.obj;
const ofKind = (m: Manifests, kind: string) => all(m).filter((l) => l.obj.kind === kind).map((l) => l.obj);
const WORKLOADS = new Set(['StatefulSet', 'Deployment', 'DaemonSet']);
const workloads = (m: Manifests) => all(m).filter((l) => WORKLOADS.has(l.obj.kind ?? '')).map((l) => l.obj);

interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Probe {
  httpGet?: { path?: string; port?: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
}

const podSpec = (w: K8sObject) => w['spec']?.template?.spec as { containers?: Container[]; volumes?: { name: string }[]; securityContext?: Record<string, unknown> } | undefined;
const podLabels = (w: K8sObject) => (w['spec']?.template?.metadata?.labels ?? {}) as Record<string, string>;
const containers = (w: K8sObject): Container[] => podSpec(w)?.containers ?? [];

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The workloads a Service sends traffic to. */
function backends(m: Manifests, svc: K8sObject): K8sObject[] {
  return workloads(m).filter((w) => selects(svc['spec']?.selector, podLabels(w)));
}

function containerPort(c: Container, port: number | string | undefined): number | null {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : null;
  return c.ports?.find((p) => p.name === port)?.containerPort ?? null;
}

const secretValue = (m: Manifests, name: string, key: string): string | undefined => {
  const s = named(m, 'Secret', name);
  if (!s) return undefined;
  if (s['stringData']?.[key] !== undefined) return String(s['stringData'][key]);
  if (s['data']?.[key] !== undefined) return Buffer.from(String(s['data'][key]), 'base64').toString('utf8');
  return undefined;
};

/** The container's environment as the kubelet builds it: envFrom first, then env in order with $(VAR) expansion. */
function resolveEnv(m: Manifests, c: Container, where: string): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const src of c.envFrom ?? []) {
    if (src.configMapRef) {
      const cm = named(m, 'ConfigMap', src.configMapRef.name);
      if (!cm) problems.push(`${where}: envFrom ConfigMap ${src.configMapRef.name} is not defined`);
      else Object.assign(env, cm['data'] ?? {});
    }
    if (src.secretRef) {
      const s = named(m, 'Secret', src.secretRef.name);
      if (!s) problems.push(`${where}: envFrom Secret ${src.secretRef.name} is not defined`);
      else for (const k of Object.keys({ ...(s['data'] ?? {}), ...(s['stringData'] ?? {}) })) env[k] = secretValue(m, src.secretRef.name, k)!;
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, v?: string) => {
        if (all === '$$') return '$';
        if (env[v!] === undefined) problems.push(`${where}: ${e.name} references $(${v}), which is not defined before it`);
        return env[v!] ?? all;
      });
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const v = secretValue(m, name, key);
      if (v === undefined) problems.push(`${where}: ${e.name} reads Secret ${name} key ${key}, which is not defined`);
      else env[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const v = named(m, 'ConfigMap', name)?.['data']?.[key] as string | undefined;
      if (v === undefined) problems.push(`${where}: ${e.name} reads ConfigMap ${name} key ${key}, which is not defined`);
      else env[e.name] = v;
    }
  }
  return { env, problems };
}

function vigilWorkload(m: Manifests): K8sObject | undefined {
  return named(m, 'StatefulSet', 'vigil');
}

function vigilContainer(m: Manifests): Container | undefined {
  const w = vigilWorkload(m);
  return w ? (containers(w).find((c) => c.name === 'vigil') ?? containers(w)[0]) : undefined;
}

function nodeConfig(m: Manifests): NodeConfig | null {
  const c = vigilContainer(m);
  return c ? checkNodeEnv(resolveEnv(m, c, 'vigil').env, 'vigil').config : null;
}

// ---------------------------------------------------------------------------------------------
// The checks

const KNOWN_KINDS = new Set(['ConfigMap', 'Secret', 'Service', 'StatefulSet', 'Deployment', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceAccount']);

function shapeProblems(m: Manifests): string[] {
  const p: string[] = [];
  const seen = new Set<string>();
  for (const { file, obj } of all(m)) {
    const id = `${file}: ${obj.kind}/${obj.metadata?.name}`;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) p.push(`${id}: apiVersion, kind and metadata.name are required`);
    if (obj.kind && !KNOWN_KINDS.has(obj.kind)) p.push(`${id}: unexpected kind`);
    if (obj.metadata?.namespace) p.push(`${id}: hard-codes namespace ${obj.metadata.namespace} (apply with -n instead)`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(obj.metadata?.name ?? '')) p.push(`${id}: the name is not a DNS label`);
    const key = `${obj.kind}/${obj.metadata?.name}`;
    if (seen.has(key)) p.push(`${id}: defined twice`);
    seen.add(key);
    if (obj.kind === 'StatefulSet' && obj.apiVersion !== 'apps/v1') p.push(`${id}: apiVersion must be apps/v1`);
  }
  for (const w of workloads(m)) {
    const id = `${w.kind}/${w.metadata?.name}`;
    if (!selects(w['spec']?.selector?.matchLabels, podLabels(w))) p.push(`${id}: spec.selector does not match the pod template's labels`);
    if (w.kind === 'StatefulSet') {
      const gov = named(m, 'Service', w['spec']?.serviceName);
      if (!gov) p.push(`${id}: serviceName ${w['spec']?.serviceName} is not a Service`);
      else if (gov['spec']?.clusterIP !== 'None') p.push(`${id}: its governing Service ${gov.metadata?.name} is not headless (clusterIP: None)`);
      else if (!selects(gov['spec']?.selector, podLabels(w))) p.push(`${id}: its governing Service does not select its pods`);
    }
  }
  for (const s of ofKind(m, 'Service')) {
    const bs = backends(m, s);
    if (bs.length === 0) p.push(`Service/${s.metadata?.name}: selects no workload's pods`);
    for (const port of (s['spec']?.ports ?? []) as { port: number; targetPort?: number | string; name?: string }[]) {
      for (const b of bs) {
        if (!containers(b).some((c) => containerPort(c, port.targetPort ?? port.port) !== null)) {
          p.push(`Service/${s.metadata?.name}: port ${port.port} -> targetPort ${port.targetPort}, which no container of ${b.kind}/${b.metadata?.name} declares`);
        }
      }
    }
  }
  return p;
}

function nodeWorkloadProblems(m: Manifests): string[] {
  const w = vigilWorkload(m);
  if (!w) return ['no StatefulSet vigil'];
  const p: string[] = [];
  if (w['spec']?.replicas !== 1) p.push(`StatefulSet/vigil: replicas ${w['spec']?.replicas}; must be 1 until multi-node key-group ownership is built (issue 8)`);
  if (!/issue 8/.test(w.metadata?.annotations?.['vigil/replicas'] ?? '')) p.push('StatefulSet/vigil: the vigil/replicas annotation must say why replicas stays 1');
  if (!vigilContainer(m)) p.push('StatefulSet/vigil: no container');
  const grace = podSpec(w) && (w['spec'].template.spec.terminationGracePeriodSeconds as number | undefined);
  if (grace === undefined || grace < 30) p.push('StatefulSet/vigil: terminationGracePeriodSeconds < 30 (the node drains and snapshots on SIGTERM)');
  return p;
}

function nodeEnvProblems(m: Manifests): string[] {
  const c = vigilContainer(m);
  if (!c) return ['no vigil container'];
  const { env, problems } = resolveEnv(m, c, 'StatefulSet/vigil');
  // Names in the node's ConfigMap are all settings of the node.
  for (const src of c.envFrom ?? []) {
    const cm = src.configMapRef ? named(m, 'ConfigMap', src.configMapRef.name) : undefined;
    for (const k of Object.keys(cm?.['data'] ?? {})) if (!k.startsWith('VIGIL_')) problems.push(`ConfigMap/${cm!.metadata?.name}: ${k} is not a VIGIL_* setting`);
  }
  return [...problems, ...checkNodeEnv(env, 'StatefulSet/vigil env').problems];
}

function nodeUrlProblems(m: Manifests): string[] {
  const config = nodeConfig(m);
  if (!config) return ['the node configuration does not parse'];
  const p: string[] = [];
  const urls: [string, string | undefined, string, string][] = [
    ['VIGIL_NATS_URL', config.natsUrl, 'nats:', 'nats'],
    ['VIGIL_REDIS_URL', config.redisUrl, 'redis:', 'redis'],
    ['VIGIL_CLICKHOUSE_URL', config.clickhouseUrl, 'http:', 'clickhouse'],
  ];
  for (const [name, value, scheme] of urls) {
    if (!value) {
      p.push(`${name} is not set`);
      continue;
    }
    const u = new URL(value);
    if (u.protocol !== scheme) p.push(`${name}: expected a ${scheme}// URL`);
    const host = u.hostname.split('.')[0]!; // svc, svc.ns, svc.ns.svc.cluster.local
    const svc = named(m, 'Service', host);
    if (!svc) {
      p.push(`${name}: "${u.hostname}" is not a Service of the manifests`);
      continue;
    }
    const port = portOf(u);
    const sp = ((svc['spec']?.ports ?? []) as { port: number; targetPort?: number | string }[]).find((x) => x.port === port);
    if (!sp) {
      p.push(`${name}: Service ${host} has no port ${port}`);
      continue;
    }
    const bs = backends(m, svc);
    const served = bs.flatMap(containers).filter((c) => containerPort(c, sp.targetPort ?? sp.port) !== null);
    if (served.length === 0) p.push(`${name}: Service ${host}:${port} reaches no container port`);
    if (scheme === 'nats:' && !served.some((c) => [...(c.command ?? []), ...(c.args ?? [])].some((a) => a === '-js' || a === '--jetstream'))) {
      p.push(`${name}: the NATS server behind Service ${host} runs without JetStream (-js)`);
    }
    if (scheme === 'http:' && u.username) {
      // The ClickHouse user and password in the URL are the ones the server is created with.
      const ch = served[0];
      const chEnv = ch ? resolveEnv(m, ch, `${host}`).env : {};
      if (chEnv['CLICKHOUSE_USER'] !== decodeURIComponent(u.username)) p.push(`${name}: user ${u.username}, but the ClickHouse server creates ${chEnv['CLICKHOUSE_USER']}`);
      if (chEnv['CLICKHOUSE_PASSWORD'] !== decodeURIComponent(u.password)) p.push(`${name}: the password differs from the ClickHouse server's CLICKHOUSE_PASSWORD`);
    }
  }
  return p;
}

function probeProblems(m: Manifests): string[] {
  const config = nodeConfig(m);
  const c = vigilContainer(m);
  const w = vigilWorkload(m);
  if (!config || !c || !w) return ['no parsable vigil container'];
  const p: string[] = [];
  const declared = c.ports?.find((x) => x.containerPort === config.port);
  if (!declared) p.push(`vigil container: no containerPort ${config.port} (VIGIL_PORT)`);
  const want: [keyof Container, string][] = [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz'], ['startupProbe', '/healthz']];
  for (const [kind, pathWanted] of want) {
    const probe = c[kind] as Probe | undefined;
    if (!probe?.httpGet) {
      p.push(`vigil container: no ${kind} (httpGet ${pathWanted})`);
      continue;
    }
    if (probe.httpGet.path !== pathWanted) p.push(`vigil container: ${kind} GETs ${probe.httpGet.path}, expected ${pathWanted}`);
    const port = containerPort(c, probe.httpGet.port);
    if (port !== config.port) p.push(`vigil container: ${kind} port ${probe.httpGet.port} is ${port ?? 'not a declared port'}, the node listens on VIGIL_PORT=${config.port}`);
  }
  const ann = w['spec']?.template?.metadata?.annotations?.['prometheus.io/port'] as string | undefined;
  if (ann !== undefined && Number(ann) !== config.port) p.push(`prometheus.io/port ${ann} is not VIGIL_PORT=${config.port}`);
  for (const svcName of ['vigil', 'vigil-headless']) {
    const svc = named(m, 'Service', svcName);
    if (!svc) {
      p.push(`Service/${svcName} is missing`);
      continue;
    }
    const ports = (svc['spec']?.ports ?? []) as { targetPort?: number | string; port: number }[];
    if (!ports.some((x) => containerPort(c, x.targetPort ?? x.port) === config.port)) p.push(`Service/${svcName}: no port reaching VIGIL_PORT=${config.port}`);
  }
  if (named(m, 'Service', 'vigil')?.['spec']?.clusterIP === 'None') p.push('Service/vigil: must be a ClusterIP service (readiness-gated traffic)');
  // The image runs `node bin/vigil.js`; the container adds `start`.
  const entry = execForm(parseDockerfile(readRepo('Dockerfile')).stages.at(-1)!.instructions.findLast((i) => i.cmd === 'ENTRYPOINT'));
  if ([...(c.command ?? entry ?? []), ...(c.args ?? [])].join(' ') !== 'node bin/vigil.js start') p.push('vigil container: does not run node bin/vigil.js start');
  return p;
}

function cpu(q: string | undefined): number {
  if (q === undefined) return NaN;
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

function bytes(q: string | undefined): number {
  if (q === undefined) return NaN;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(q);
  if (!m) return NaN;
  const mult: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}

function resourceProblems(m: Manifests): string[] {
  const p: string[] = [];
  for (const w of workloads(m)) {
    for (const c of containers(w)) {
      const id = `${w.kind}/${w.metadata?.name} container ${c.name}`;
      const r = c.resources ?? {};
      if (!(cpu(r.requests?.['cpu']) > 0)) p.push(`${id}: no CPU request`);
      if (!(bytes(r.requests?.['memory']) > 0)) p.push(`${id}: no memory request`);
      if (!(bytes(r.limits?.['memory']) >= bytes(r.requests?.['memory']))) p.push(`${id}: no memory limit at or above the request`);
      if (!c.readinessProbe || !c.livenessProbe) p.push(`${id}: readiness and liveness probes are required`);
      if (!c.image || /:latest$|^[^:]+$/.test(c.image)) p.push(`${id}: image ${c.image} is not pinned to a tag`);
    }
  }
  const c = vigilContainer(m);
  if (c) {
    // Two shard hosts plus the main thread, and room for actor state (README benchmarks).
    if (cpu(c.resources?.requests?.['cpu']) < 2) p.push(`vigil container: CPU request ${c.resources?.requests?.['cpu']} < 2`);
    const mem = bytes(c.resources?.requests?.['memory']);
    if (!(mem >= 2 * 1024 ** 3)) p.push(`vigil container: memory request ${c.resources?.requests?.['memory']} < 2Gi`);
  }
  return p;
}

/** Every directory a backing store or the node writes is on a PersistentVolumeClaim template. */
function storageProblems(m: Manifests): string[] {
  const p: string[] = [];
  const config = nodeConfig(m);
  const persistent = (w: K8sObject, dir: string) => {
    const templates = ((w['spec']?.volumeClaimTemplates ?? []) as { metadata?: { name?: string }; spec?: { resources?: { requests?: { storage?: string } } } }[]);
    return containers(w).some((c) => (c.volumeMounts ?? []).some((vm) => vm.mountPath === dir && templates.some((t) => t.metadata?.name === vm.name && bytes(t.spec?.resources?.requests?.storage) > 0)));
  };
  const need: [string, string][] = [['vigil', config?.dataDir ?? '(unparsed VIGIL_DATA_DIR)'], ['redis', '/data'], ['clickhouse', '/var/lib/clickhouse']];
  const nats = named(m, 'StatefulSet', 'nats');
  const natsArgs = nats ? containers(nats).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]) : [];
  const sd = natsArgs.indexOf('-sd');
  need.push(['nats', sd >= 0 ? natsArgs[sd + 1]! : '(no -sd dir)']);
  for (const [name, dir] of need) {
    const w = named(m, 'StatefulSet', name);
    if (!w) p.push(`StatefulSet/${name} is missing`);
    else if (!persistent(w, dir)) p.push(`StatefulSet/${name}: ${dir} is not on a volumeClaimTemplate with a storage request`);
  }
  const v = vigilWorkload(m);
  const sc = v ? podSpec(v)?.securityContext : undefined;
  if (v && sc?.['runAsUser'] !== undefined && sc['fsGroup'] === undefined) p.push('StatefulSet/vigil: runs as a non-root user without fsGroup, so it cannot write its volume');
  return p;
}

/** Real tokens are never applied by `kubectl apply -f deploy/k8s/`; the example lists every key the workloads read. */
function secretProblems(m: Manifests): string[] {
  const p: string[] = [];
  for (const { file, obj } of m.applied) if (obj.kind === 'Secret') p.push(`${file}: a Secret among the applied files would overwrite the real one on every apply; keep it under ${SECRET_DIR}/`);
  const example = new Map(m.examples.filter((l) => l.obj.kind === 'Secret').map((l) => [l.obj.metadata?.name, l.obj]));
  for (const w of workloads(m)) {
    for (const c of containers(w)) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const s = example.get(ref.name);
        if (!s) p.push(`${w.kind}/${w.metadata?.name}: reads Secret ${ref.name}, which has no example under ${SECRET_DIR}/`);
        else if (s['stringData']?.[ref.key] === undefined) p.push(`${SECRET_DIR}: Secret ${ref.name} example lacks key ${ref.key}`);
      }
    }
  }
  for (const [name, s] of example) {
    for (const [k, v] of Object.entries((s?.['stringData'] ?? {}) as Record<string, string>)) {
      if (!/change-me/.test(v)) p.push(`${SECRET_DIR}: Secret ${name} key ${k} does not look like a placeholder ("change-me")`);
      if (/^[A-Za-z0-9._~-]*$/.test(v) === false) p.push(`${SECRET_DIR}: Secret ${name} key ${k} has characters that would need URL-encoding`);
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Tests

const CHECKS = {
  shape: shapeProblems,
  nodeWorkload: nodeWorkloadProblems,
  nodeEnv: nodeEnvProblems,
  nodeUrls: nodeUrlProblems,
  probes: probeProblems,
  resources: resourceProblems,
  storage: storageProblems,
  secrets: secretProblems,
} satisfies Record<string, (m: Manifests) => string[]>;

type CheckName = keyof typeof CHECKS;

describe('deploy/k8s manifests', () => {
  const m = load();

  it('hold the node, its services and the stores it needs', () => {
    const kinds = all(m).map((l) => `${l.obj.kind}/${l.obj.metadata?.name}`).sort();
    expect(kinds).toEqual(expect.arrayContaining([
      'ConfigMap/vigil-config', 'Secret/vigil-secrets', 'Service/vigil', 'Service/vigil-headless', 'StatefulSet/vigil',
      'Service/nats', 'StatefulSet/nats', 'Service/redis', 'StatefulSet/redis', 'Service/clickhouse', 'StatefulSet/clickhouse',
    ]));
  });

  it.each(Object.keys(CHECKS) as CheckName[])('check %s finds no problem', (name) => {
    expect(CHECKS[name](m)).toEqual([]);
  });

  it('resolves the ClickHouse URL from the Secret the way the kubelet does', () => {
    const config = nodeConfig(m)!;
    expect(config.clickhouseUrl).toBe(`http://vigil:${secretValue(m, 'vigil-secrets', 'CLICKHOUSE_PASSWORD')}@clickhouse:8123`);
    expect(config.cluster).toBe('default');
  });
});

type Mutation = [label: string, check: CheckName, expected: RegExp, mutate: (m: Manifests) => void];

/* eslint-disable @typescript-eslint/no-explicit-any */
const sts = (m: Manifests, name: string): any => named(m, 'StatefulSet', name)!;
const node = (m: Manifests): any => vigilContainer(m)!;
const cm = (m: Manifests): any => named(m, 'ConfigMap', 'vigil-config')!['data'];
const svc = (m: Manifests, name: string): any => named(m, 'Service', name)!;
/* eslint-enable @typescript-eslint/no-explicit-any */

const MUTATIONS: Mutation[] = [
  ['a namespace hard-coded', 'shape', /hard-codes namespace/, (m) => (svc(m, 'vigil').metadata.namespace = 'prod')],
  ['a selector that misses its pods', 'shape', /spec\.selector does not match/, (m) => (sts(m, 'redis').spec.selector.matchLabels['app.kubernetes.io/name'] = 'redis-x')],
  ['a governing service that is not headless', 'shape', /not headless/, (m) => delete svc(m, 'vigil-headless').spec.clusterIP],
  ['a Service targeting an undeclared port', 'shape', /targetPort metrics, which no container/, (m) => (svc(m, 'vigil').spec.ports[0].targetPort = 'metrics')],
  ['two replicas', 'nodeWorkload', /replicas 2; must be 1/, (m) => (sts(m, 'vigil').spec.replicas = 2)],
  ['a misspelt name in the ConfigMap', 'nodeEnv', /VIGIL_SHARD is not a setting/, (m) => (cm(m)['VIGIL_SHARD'] = '4')],
  ['a non-VIGIL key in the ConfigMap', 'nodeEnv', /NATS_URL is not a VIGIL_\* setting/, (m) => (cm(m)['NATS_URL'] = 'nats://nats:4222')],
  ['a value the schema refuses', 'nodeEnv', /invalid setting credit \(VIGIL_CREDIT\)/, (m) => (cm(m)['VIGIL_CREDIT'] = '0')],
  ['loopback host', 'nodeEnv', /must listen on 0\.0\.0\.0/, (m) => delete cm(m)['VIGIL_HOST']],
  ['Redis URL dropped', 'nodeEnv', /both VIGIL_NATS_URL and VIGIL_REDIS_URL/, (m) => delete cm(m)['VIGIL_REDIS_URL']],
  ['a token from a key the Secret lacks', 'nodeEnv', /Secret vigil-secrets key ADMIN_TOKEN, which is not defined/, (m) => (node(m).env[1].valueFrom.secretKeyRef.key = 'ADMIN_TOKEN')],
  ['$(VAR) used before it is defined', 'nodeEnv', /references \$\(CLICKHOUSE_PASSWORD\)/, (m) => node(m).env.reverse()],
  ['NATS URL to no Service', 'nodeUrls', /"nats-js" is not a Service/, (m) => (cm(m)['VIGIL_NATS_URL'] = 'nats://nats-js:4222')],
  ['Redis URL on a port the Service lacks', 'nodeUrls', /Service redis has no port 6380/, (m) => (cm(m)['VIGIL_REDIS_URL'] = 'redis://redis:6380')],
  ['a namespaced FQDN still resolves; a wrong one not', 'nodeUrls', /"cache\.vigil\.svc\.cluster\.local" is not a Service/, (m) => (cm(m)['VIGIL_REDIS_URL'] = 'redis://cache.vigil.svc.cluster.local:6379')],
  ['NATS without JetStream', 'nodeUrls', /without JetStream/, (m) => (sts(m, 'nats').spec.template.spec.containers[0].args = ['-sd', '/data', '-m', '8222'])],
  ['ClickHouse user mismatch', 'nodeUrls', /user vigil, but the ClickHouse server creates analyst/, (m) => (sts(m, 'clickhouse').spec.template.spec.containers[0].env[0].value = 'analyst')],
  ['Service port not reaching a container', 'nodeUrls', /reaches no container port/, (m) => (svc(m, 'clickhouse').spec.ports[0].targetPort = 8124)],
  ['readiness on /healthz', 'probes', /readinessProbe GETs \/healthz, expected \/readyz/, (m) => (node(m).readinessProbe.httpGet.path = '/healthz')],
  ['liveness on another port', 'probes', /livenessProbe port 9090 is not a declared port/, (m) => (node(m).livenessProbe.httpGet.port = 9090)],
  ['VIGIL_PORT moved, container port not', 'probes', /no containerPort 9000 \(VIGIL_PORT\)/, (m) => (cm(m)['VIGIL_PORT'] = '9000')],
  ['no startup probe', 'probes', /no startupProbe/, (m) => delete node(m).startupProbe],
  ['Prometheus annotation on the wrong port', 'probes', /prometheus\.io\/port 9100/, (m) => (sts(m, 'vigil').spec.template.metadata.annotations['prometheus.io/port'] = '9100')],
  ['no memory request', 'resources', /redis container redis: no memory request/, (m) => delete sts(m, 'redis').spec.template.spec.containers[0].resources.requests.memory],
  ['a node below 2 CPUs', 'resources', /CPU request 500m < 2/, (m) => (node(m).resources.requests.cpu = '500m')],
  ['an unpinned image', 'resources', /not pinned/, (m) => (sts(m, 'nats').spec.template.spec.containers[0].image = 'nats:latest')],
  ['data dir on the root filesystem', 'storage', /StatefulSet\/vigil: \/var\/vigil is not on a volumeClaimTemplate/, (m) => (cm(m)['VIGIL_DATA_DIR'] = '/var/vigil')],
  ['JetStream dir not persistent', 'storage', /StatefulSet\/nats: \/js is not on a volumeClaimTemplate/, (m) => (sts(m, 'nats').spec.template.spec.containers[0].args = ['-js', '-sd', '/js'])],
  ['the Secret among the applied files', 'secrets', /would overwrite the real one/, (m) => m.applied.push(m.examples[0]!)],
  ['a real-looking token in the example', 'secrets', /does not look like a placeholder/, (m) => (named(m, 'Secret', 'vigil-secrets')!['stringData'].VIGIL_ADMIN_TOKEN = 'a8f0c2e1d4b7')],
];

describe('deploy/k8s checks fail on a broken copy', () => {
  it.each(MUTATIONS)('%s -> %s', (_label, check, expected, mutate) => {
    const m = clone(load());
    mutate(m);
    expect(CHECKS[check](m).join('\n')).toMatch(expected);
  });
});
