// The Kubernetes manifests (deploy/k8s/*.json, JSON so that no YAML library is needed; `kubectl
// apply -f deploy/k8s/` reads them), checked without a cluster: object shape, selectors and
// governing services, the node's environment resolved the way the kubelet does it for each pod
// of the StatefulSet (envFrom, secretKeyRef, downward-API fieldRef, $(VAR) expansion) and parsed
// with the configuration schema, every URL followed to a Service and on to a container port, the
// pods forming one cluster (node id = pod name, advertised on the governing headless Service,
// time to hand over on SIGTERM), probes on the node's port, resources, storage.
// Each check returns problems and is shown to fail on a broken copy.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNodeEnv, clone, clusterAgreementProblems, DRAIN_SECONDS, handoverGraceSeconds, parseDockerfile, portOf, readRepo, repoPath, execForm } from './support.js';
import type { NodeConfig } from '../../adapters/compose/config.js';

const DIR = 'deploy/k8s';
const SECRET_DIR = 'deploy/k8s/secret';
/** The namespace deploy/k8s/README.md creates, and another: nothing may depend on which. */
const NAMESPACES = ['vigil', 'ward-b'];

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
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
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

/** The pod a container's environment is resolved for (the downward API's metadata.name / namespace). */
interface Pod {
  name: string;
  namespace: string;
}

/** The pods a StatefulSet runs: <name>-0 .. <name>-(replicas-1). */
function podsOf(w: K8sObject, namespace = NAMESPACES[0]!): Pod[] {
  const replicas = typeof w['spec']?.replicas === 'number' ? (w['spec'].replicas as number) : 1;
  return Array.from({ length: Math.max(0, replicas) }, (_, i) => ({ name: `${w.metadata?.name}-${i}`, namespace }));
}

/** Downward-API fields (env valueFrom.fieldRef) and what they give the pod. */
const FIELD_REFS: Record<string, (pod: Pod) => string> = {
  'metadata.name': (pod) => pod.name,
  'metadata.namespace': (pod) => pod.namespace,
  'metadata.uid': () => '00000000-0000-0000-0000-000000000000',
  'spec.nodeName': () => 'worker-1',
  'spec.serviceAccountName': () => 'default',
  'status.podIP': () => '10.0.0.10',
  'status.hostIP': () => '192.168.0.10',
};

/** The container's environment as the kubelet builds it: envFrom first, then env in order with $(VAR) expansion. */
function resolveEnv(m: Manifests, c: Container, where: string, pod: Pod = { name: 'pod-0', namespace: NAMESPACES[0]! }): { env: Record<string, string>; problems: string[] } {
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
    } else if (e.valueFrom?.fieldRef) {
      const f = FIELD_REFS[e.valueFrom.fieldRef.fieldPath];
      if (!f) problems.push(`${where}: ${e.name} reads fieldRef ${e.valueFrom.fieldRef.fieldPath}, which the downward API does not give env (one of ${Object.keys(FIELD_REFS).join(', ')})`);
      else env[e.name] = f(pod);
    } else {
      problems.push(`${where}: ${e.name} has neither a value nor a valueFrom this check knows`);
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

/** The node configuration of one pod of StatefulSet vigil (the first by default). */
function nodeConfig(m: Manifests, pod?: Pod): NodeConfig | null {
  const c = vigilContainer(m);
  const w = vigilWorkload(m);
  if (!c || !w) return null;
  const p = pod ?? podsOf(w)[0] ?? { name: `${w.metadata?.name}-0`, namespace: NAMESPACES[0]! };
  return checkNodeEnv(resolveEnv(m, c, p.name, p).env, p.name).config;
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
  const replicas = w['spec']?.replicas as unknown;
  if (!Number.isSafeInteger(replicas) || (replicas as number) < 2) p.push(`StatefulSet/vigil: replicas ${String(replicas)}; run at least 2 (with one pod nobody takes its slots over while it is down)`);
  if (!/Add or remove a node/.test(w.metadata?.annotations?.['vigil/replicas'] ?? '')) p.push('StatefulSet/vigil: the vigil/replicas annotation must point to docs/runbook.md "Add or remove a node"');
  if (!vigilContainer(m)) p.push('StatefulSet/vigil: no container');
  return p;
}

function nodeEnvProblems(m: Manifests): string[] {
  const c = vigilContainer(m);
  const w = vigilWorkload(m);
  if (!c || !w) return ['no vigil container'];
  const pod = podsOf(w)[0] ?? { name: 'vigil-0', namespace: NAMESPACES[0]! };
  const { env, problems } = resolveEnv(m, c, 'StatefulSet/vigil', pod);
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

/**
 * The pods are nodes of one cluster (runtime/cluster.ts): each pod's VIGIL_NODE_ID is its own
 * name (unique, and the same after a restart, so the pod takes back its membership), its
 * VIGIL_ADVERTISE_URL is its DNS name under the governing headless Service in whatever namespace
 * it runs, on the port it listens on; every other setting the same; time to hand over on SIGTERM;
 * one pod started, stopped or evicted at a time, spread over machines.
 */
function clusterProblems(m: Manifests): string[] {
  const w = vigilWorkload(m);
  const c = vigilContainer(m);
  if (!w || !c) return ['no StatefulSet vigil with a container'];
  const p: string[] = [];
  const gov = named(m, 'Service', w['spec']?.serviceName);
  const labels = podLabels(w);
  for (const namespace of NAMESPACES) {
    const pods = podsOf(w, namespace);
    const configs: [string, NodeConfig][] = [];
    for (const pod of pods) {
      const where = `pod ${pod.name} (namespace ${namespace})`;
      const config = checkNodeEnv(resolveEnv(m, c, where, pod).env, where).config;
      if (!config) {
        p.push(`${where}: the node configuration does not parse (see the nodeEnv check)`);
        continue;
      }
      configs.push([where, config]);
      if (!config.nodeId) p.push(`${where}: VIGIL_NODE_ID is not set (pods without it would each take every key group, without leases)`);
      else if (config.nodeId !== pod.name) p.push(`${where}: VIGIL_NODE_ID is ${config.nodeId}, not the pod name (fieldRef metadata.name): unique per pod and kept across restarts`);
      if (!config.adminToken) p.push(`${where}: VIGIL_ADMIN_TOKEN is not set (a node of several refuses to start without it)`);
      if (!config.advertiseUrl) {
        p.push(`${where}: VIGIL_ADVERTISE_URL is not set (the default http://${config.host}:${config.port} does not reach the pod from another)`);
        continue;
      }
      const u = new URL(config.advertiseUrl);
      const svc = w['spec']?.serviceName as string | undefined;
      const dns = [`${pod.name}.${svc}`, `${pod.name}.${svc}.${namespace}`, `${pod.name}.${svc}.${namespace}.svc`, `${pod.name}.${svc}.${namespace}.svc.cluster.local`];
      if (u.protocol !== 'http:') p.push(`${where}: VIGIL_ADVERTISE_URL=${config.advertiseUrl}: the node serves plain http`);
      if (!dns.includes(u.hostname)) p.push(`${where}: VIGIL_ADVERTISE_URL=${config.advertiseUrl} is not the pod's DNS name under its governing Service (${dns[2]})`);
      if (portOf(u) !== config.port) p.push(`${where}: VIGIL_ADVERTISE_URL=${config.advertiseUrl} names port ${portOf(u)}, but the node listens on VIGIL_PORT=${config.port} (a pod's DNS name reaches the pod itself, no Service port in between)`);
    }
    if (namespace === NAMESPACES[0]) p.push(...clusterAgreementProblems(configs));
  }
  // Pod DNS names exist under a headless Service that governs the StatefulSet, also for pods
  // that are not ready (a node that owns slots but fails /readyz must still answer forwarded reads).
  if (!gov) p.push(`StatefulSet/vigil: serviceName ${w['spec']?.serviceName} is not a Service, so its pods have no DNS names`);
  else {
    if (gov['spec']?.clusterIP !== 'None') p.push(`Service/${gov.metadata?.name}: not headless, so the pods have no DNS names of their own`);
    if (gov['spec']?.publishNotReadyAddresses !== true) p.push(`Service/${gov.metadata?.name}: publishNotReadyAddresses is not true: a node failing /readyz still owns slots and must be reachable for forwarded reads`);
    if (!selects(gov['spec']?.selector, labels)) p.push(`Service/${gov.metadata?.name}: does not select the vigil pods`);
  }
  // Settings fixed for the life of a cluster are written down, not left to defaults.
  const cm = (c.envFrom ?? []).map((src) => (src.configMapRef ? named(m, 'ConfigMap', src.configMapRef.name) : undefined)).find((x) => x !== undefined);
  for (const k of ['VIGIL_LEASE_MS', 'VIGIL_CLUSTER_SLOTS', 'VIGIL_KEY_GROUPS']) {
    if (cm?.['data']?.[k] === undefined) p.push(`ConfigMap/${cm?.metadata?.name ?? '(none)'}: ${k} is not set; it must be the same on every node for the life of the cluster, so write it down`);
  }
  // SIGTERM: the slots are handed over, then the node drains.
  const config = nodeConfig(m);
  const grace = podSpec(w) && (w['spec'].template.spec.terminationGracePeriodSeconds as number | undefined);
  const need = handoverGraceSeconds(config?.leaseMs ?? 3000);
  if (grace === undefined || grace < need) p.push(`StatefulSet/vigil: terminationGracePeriodSeconds ${grace} < ${need}: hand-over (up to ${need - DRAIN_SECONDS} s) plus drain (${DRAIN_SECONDS} s) on SIGTERM`);
  // One at a time: a scale-down never hands slots to a pod that is leaving too.
  const policy = (w['spec']?.podManagementPolicy as string | undefined) ?? 'OrderedReady';
  if (policy !== 'OrderedReady') p.push(`StatefulSet/vigil: podManagementPolicy ${policy}; OrderedReady stops pods one at a time, so each hand-over goes to a pod that stays`);
  const pdb = ofKind(m, 'PodDisruptionBudget').find((b) => selects(b['spec']?.selector?.matchLabels, labels));
  if (!pdb) p.push('no PodDisruptionBudget selects the vigil pods: a drain could evict several nodes at once');
  else if (pdb['spec']?.maxUnavailable !== 1) p.push(`PodDisruptionBudget/${pdb.metadata?.name}: maxUnavailable ${String(pdb['spec']?.maxUnavailable)}, expected 1`);
  // Spread over machines: losing one machine must not take every node.
  type Term = { topologyKey?: string; labelSelector?: { matchLabels?: Record<string, string> } };
  const anti = (podSpec(w) as { affinity?: { podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: Term[]; preferredDuringSchedulingIgnoredDuringExecution?: { podAffinityTerm?: Term }[] } } } | undefined)?.affinity?.podAntiAffinity;
  const terms: (Term | undefined)[] = [
    ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
    ...(anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((x) => x.podAffinityTerm),
  ];
  if (!terms.some((t) => t?.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector?.matchLabels, labels))) {
    p.push('StatefulSet/vigil: no podAntiAffinity on kubernetes.io/hostname selecting its own pods (the nodes could all land on one machine)');
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
  cluster: clusterProblems,
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

  it('gives each pod its own node id and an advertise URL on its own DNS name', () => {
    const w = vigilWorkload(m)!;
    expect(w['spec'].replicas).toBe(3);
    const configs = podsOf(w).map((pod) => nodeConfig(m, pod)!);
    expect(configs.map((c) => c.nodeId)).toEqual(['vigil-0', 'vigil-1', 'vigil-2']);
    expect(configs.map((c) => c.advertiseUrl)).toEqual([0, 1, 2].map((i) => `http://vigil-${i}.vigil-headless.vigil.svc:8080`));
    expect(nodeConfig(m, { name: 'vigil-1', namespace: 'ward-b' })!.advertiseUrl).toBe('http://vigil-1.vigil-headless.ward-b.svc:8080');
    expect(new Set(configs.map((c) => c.adminToken)).size).toBe(1);
    expect(configs[0]!.leaseMs).toBe(3000);
    expect(configs[0]!.clusterSlots).toBe(64);
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
const envVar = (m: Manifests, name: string): any => node(m).env.find((e: { name: string }) => e.name === name);
/* eslint-enable @typescript-eslint/no-explicit-any */

const MUTATIONS: Mutation[] = [
  ['a namespace hard-coded', 'shape', /hard-codes namespace/, (m) => (svc(m, 'vigil').metadata.namespace = 'prod')],
  ['a selector that misses its pods', 'shape', /spec\.selector does not match/, (m) => (sts(m, 'redis').spec.selector.matchLabels['app.kubernetes.io/name'] = 'redis-x')],
  ['a governing service that is not headless', 'shape', /not headless/, (m) => delete svc(m, 'vigil-headless').spec.clusterIP],
  ['a Service targeting an undeclared port', 'shape', /targetPort metrics, which no container/, (m) => (svc(m, 'vigil').spec.ports[0].targetPort = 'metrics')],
  ['one replica', 'nodeWorkload', /replicas 1; run at least 2/, (m) => (sts(m, 'vigil').spec.replicas = 1)],
  ['the scaling note gone', 'nodeWorkload', /vigil\/replicas annotation/, (m) => (sts(m, 'vigil').metadata.annotations['vigil/replicas'] = 'Keep replicas at 1.')],
  ['a misspelt name in the ConfigMap', 'nodeEnv', /VIGIL_SHARD is not a setting/, (m) => (cm(m)['VIGIL_SHARD'] = '4')],
  ['a non-VIGIL key in the ConfigMap', 'nodeEnv', /NATS_URL is not a VIGIL_\* setting/, (m) => (cm(m)['NATS_URL'] = 'nats://nats:4222')],
  ['a value the schema refuses', 'nodeEnv', /invalid setting credit \(VIGIL_CREDIT\)/, (m) => (cm(m)['VIGIL_CREDIT'] = '0')],
  ['loopback host', 'nodeEnv', /must listen on 0\.0\.0\.0/, (m) => delete cm(m)['VIGIL_HOST']],
  ['Redis URL dropped', 'nodeEnv', /both VIGIL_NATS_URL and VIGIL_REDIS_URL/, (m) => delete cm(m)['VIGIL_REDIS_URL']],
  ['a token from a key the Secret lacks', 'nodeEnv', /Secret vigil-secrets key ADMIN_TOKEN, which is not defined/, (m) => (envVar(m, 'VIGIL_ADMIN_TOKEN').valueFrom.secretKeyRef.key = 'ADMIN_TOKEN')],
  ['$(VAR) used before it is defined', 'nodeEnv', /references \$\(CLICKHOUSE_PASSWORD\)/, (m) => node(m).env.reverse()],
  ['a fieldRef the downward API lacks', 'nodeEnv', /POD_NAME reads fieldRef metadata\.podName/, (m) => (envVar(m, 'POD_NAME').valueFrom.fieldRef.fieldPath = 'metadata.podName')],
  ['the namespace defined after the URL using it', 'nodeEnv', /VIGIL_ADVERTISE_URL references \$\(POD_NAMESPACE\), which is not defined before it/, (m) => {
    const env = node(m).env as { name: string }[];
    const i = env.findIndex((e) => e.name === 'POD_NAMESPACE');
    env.push(...env.splice(i, 1));
  }],
  ['no node id', 'cluster', /pod vigil-1 \(namespace vigil\): VIGIL_NODE_ID is not set/, (m) => (node(m).env = node(m).env.filter((e: { name: string }) => e.name !== 'VIGIL_NODE_ID'))],
  ['one node id for every pod', 'cluster', /pod vigil-2 \(namespace vigil\): VIGIL_NODE_ID is vigil, not the pod name/, (m) => (envVar(m, 'VIGIL_NODE_ID').valueFrom.fieldRef.fieldPath = 'metadata.namespace')],
  ['the node id from the ConfigMap', 'cluster', /VIGIL_NODE_ID is node-a, not the pod name/, (m) => {
    node(m).env = node(m).env.filter((e: { name: string }) => e.name !== 'VIGIL_NODE_ID');
    cm(m)['VIGIL_NODE_ID'] = 'node-a';
  }],
  ['no advertise URL', 'cluster', /VIGIL_ADVERTISE_URL is not set \(the default http:\/\/0\.0\.0\.0:8080/, (m) => (node(m).env = node(m).env.filter((e: { name: string }) => e.name !== 'VIGIL_ADVERTISE_URL'))],
  ['advertising the ClusterIP Service', 'cluster', /VIGIL_ADVERTISE_URL=http:\/\/vigil\.vigil\.svc:8080 is not the pod's DNS name/, (m) => (envVar(m, 'VIGIL_ADVERTISE_URL').value = 'http://vigil.$(POD_NAMESPACE).svc:$(VIGIL_PORT)')],
  ['a hard-coded namespace', 'cluster', /pod vigil-0 \(namespace ward-b\): VIGIL_ADVERTISE_URL=http:\/\/vigil-0\.vigil-headless\.vigil\.svc:8080 is not the pod's DNS name/, (m) => (envVar(m, 'VIGIL_ADVERTISE_URL').value = 'http://$(POD_NAME).vigil-headless.vigil.svc:$(VIGIL_PORT)')],
  ['advertising another port', 'cluster', /names port 80, but the node listens on VIGIL_PORT=8080/, (m) => (envVar(m, 'VIGIL_ADVERTISE_URL').value = 'http://$(POD_NAME).vigil-headless.$(POD_NAMESPACE).svc')],
  ['a governing Service that is not the headless one', 'cluster', /is not the pod's DNS name under its governing Service \(vigil-0\.vigil\.vigil\.svc\)[\s\S]*Service\/vigil: not headless/, (m) => (sts(m, 'vigil').spec.serviceName = 'vigil')],
  ['not-ready pods unpublished', 'cluster', /publishNotReadyAddresses is not true/, (m) => delete svc(m, 'vigil-headless').spec.publishNotReadyAddresses],
  ['no admin token', 'cluster', /VIGIL_ADMIN_TOKEN is not set/, (m) => (node(m).env = node(m).env.filter((e: { name: string }) => e.name !== 'VIGIL_ADMIN_TOKEN'))],
  ['the lease time left to the default', 'cluster', /VIGIL_LEASE_MS is not set/, (m) => delete cm(m)['VIGIL_LEASE_MS']],
  ['the slot count left to the default', 'cluster', /VIGIL_CLUSTER_SLOTS is not set/, (m) => delete cm(m)['VIGIL_CLUSTER_SLOTS']],
  ['a grace period too short to hand over', 'cluster', /terminationGracePeriodSeconds 30 < 38/, (m) => (sts(m, 'vigil').spec.template.spec.terminationGracePeriodSeconds = 30)],
  ['a longer lease needs a longer grace', 'cluster', /terminationGracePeriodSeconds 90 < 95/, (m) => (cm(m)['VIGIL_LEASE_MS'] = '60000')],
  ['pods started and stopped in parallel', 'cluster', /podManagementPolicy Parallel/, (m) => (sts(m, 'vigil').spec.podManagementPolicy = 'Parallel')],
  ['no disruption budget', 'cluster', /no PodDisruptionBudget selects the vigil pods/, (m) => (m.applied = m.applied.filter((l) => l.obj.kind !== 'PodDisruptionBudget'))],
  ['a disruption budget of two', 'cluster', /maxUnavailable 2, expected 1/, (m) => (named(m, 'PodDisruptionBudget', 'vigil')!['spec'].maxUnavailable = 2)],
  ['no spreading over machines', 'cluster', /no podAntiAffinity on kubernetes\.io\/hostname/, (m) => delete sts(m, 'vigil').spec.template.spec.affinity],
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
