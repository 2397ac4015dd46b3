// docker-compose.yml, checked without Docker (there is no engine on the build machines): parsed
// with the YAML-subset reader, then cross-checked against the code and the other deployment
// files. Every check is a function returning problems; the last block breaks a copy of the file
// once per check and expects that check to complain, so none of them can pass vacuously.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTenantConfigDir } from '../../actors/contracts/load.js';
import { command, COMPOSE, environment, hasService, healthcheckText, hostPathOf, loadCompose, mounts, nodeServices, portMappings, service, servedPorts, services, type Read } from './compose-model.js';
import { analyticsDatabase, checkNodeEnv, clone, clusterAgreementProblems, copyOf, DRAIN_SECONDS, durationSeconds, envOf, execForm, exists, handoverGraceSeconds, interpolate, parseDockerfile, portOf, readRepo, repoPath } from './support.js';
import { asList, asMap, asString, asStrings, isMap, parseYamlSubset, type YamlMap, type YamlValue } from './yaml-subset.js';
import type { NodeConfig } from '../../adapters/compose/config.js';

/** A node service's parsed configuration (null when it does not parse: see the environment check). */
function nodeConfig(c: YamlMap, name = 'vigil'): NodeConfig | null {
  return checkNodeEnv(environment(c, name).env, `services.${name}.environment`).config;
}

// ---------------------------------------------------------------------------------------------
// The checks

const TOP_LEVEL = new Set(['name', 'services', 'volumes', 'networks', 'secrets', 'configs']);
const REQUIRED_SERVICES = ['vigil', 'vigil-2', 'nats', 'redis', 'clickhouse', 'superset', 'prometheus', 'grafana'];
/** Non-VIGIL names the node's container may carry. */
const NODE_OTHER_ENV = new Set(['NODE_OPTIONS', 'TZ']);

function shapeProblems(c: YamlMap): string[] {
  const p: string[] = [];
  for (const k of Object.keys(c)) if (!TOP_LEVEL.has(k)) p.push(`top-level key "${k}" is not part of the compose file format${k === 'version' ? ' any more (obsolete)' : ''}`);
  if (!isMap(c['services'])) return [...p, 'no services'];
  for (const [name, s] of Object.entries(services(c))) {
    if (!isMap(s)) p.push(`services.${name}: not a map`);
    else if (s['image'] === undefined && s['build'] === undefined) p.push(`services.${name}: neither image nor build`);
  }
  return p;
}

function requiredServiceProblems(c: YamlMap): string[] {
  return REQUIRED_SERVICES.filter((s) => !hasService(c, s)).map((s) => `service "${s}" is missing`);
}

/** Every node service; each node check runs on each of them. */
function eachNode(c: YamlMap, check: (name: string) => string[]): string[] {
  const nodes = nodeServices(c);
  if (nodes.length === 0) return ['no node service (built from Dockerfile)'];
  return nodes.flatMap(check);
}

function nodeEnvProblems(c: YamlMap): string[] {
  return eachNode(c, (name) => {
    const { env, problems } = environment(c, name);
    for (const k of Object.keys(env)) if (!k.startsWith('VIGIL_') && !NODE_OTHER_ENV.has(k)) problems.push(`services.${name}.environment.${k}: not a VIGIL_* setting`);
    return [...problems, ...checkNodeEnv(env, `services.${name}.environment`).problems];
  });
}

/** Each URL a node is given names a service, with the right scheme, on a port it serves, started first. */
function nodeUrlProblems(c: YamlMap): string[] {
  return eachNode(c, (name) => nodeUrlProblemsOf(c, name));
}

function nodeUrlProblemsOf(c: YamlMap, node: string): string[] {
  const config = nodeConfig(c, node);
  if (!config) return [`services.${node}: the node configuration does not parse (see the environment check)`];
  const p: string[] = [];
  const dependsOn = service(c, node)['depends_on'];
  const urls: [string, string | undefined, string][] = [
    ['VIGIL_NATS_URL', config.natsUrl, 'nats:'],
    ['VIGIL_REDIS_URL', config.redisUrl, 'redis:'],
    ['VIGIL_CLICKHOUSE_URL', config.clickhouseUrl, 'http:'],
  ];
  for (const [name, value, scheme] of urls) {
    if (!value) {
      p.push(`services.${node}: ${name} is not set`);
      continue;
    }
    const u = new URL(value);
    if (u.protocol !== scheme) p.push(`services.${node}: ${name}=${value}: expected a ${scheme}// URL`);
    if (!hasService(c, u.hostname)) {
      p.push(`services.${node}: ${name}=${value}: "${u.hostname}" is not a service of the compose file`);
      continue;
    }
    const port = portOf(u);
    const served = servedPorts(c, u.hostname);
    if (!served.has(port)) p.push(`services.${node}: ${name}=${value}: service ${u.hostname} serves ports [${[...served].join(', ')}], not ${port}`);
    const dep = isMap(dependsOn) ? dependsOn[u.hostname] : undefined;
    if (!isMap(dep) || dep['condition'] !== 'service_healthy') p.push(`services.${node}.depends_on.${u.hostname}: must be condition: service_healthy (the node connects at start)`);
    if (healthcheckText(c, u.hostname) === null) p.push(`services.${u.hostname}: no healthcheck, so service_healthy can never hold`);
  }
  return p;
}

function natsProblems(c: YamlMap): string[] {
  if (!hasService(c, 'nats')) return ['no nats service'];
  const cmd = command(c, 'nats');
  const p: string[] = [];
  if (!cmd.includes('-js') && !cmd.includes('--jetstream')) p.push(`services.nats.command: JetStream is not enabled (-js): ${JSON.stringify(cmd)}`);
  const sd = cmd.indexOf('-sd');
  const dir = sd >= 0 ? cmd[sd + 1] : undefined;
  if (!dir) p.push('services.nats.command: no JetStream storage dir (-sd DIR)');
  else if (!mounts(c, 'nats').some((m) => !m.bind && m.target === dir)) p.push(`services.nats: the JetStream dir ${dir} is not on a named volume`);
  return p;
}

function redisProblems(c: YamlMap): string[] {
  if (!hasService(c, 'redis')) return ['no redis service'];
  const cmd = command(c, 'redis');
  const p: string[] = [];
  const ao = cmd.indexOf('--appendonly');
  if (ao < 0 || cmd[ao + 1] !== 'yes') p.push('services.redis.command: --appendonly yes is missing (snapshots would not survive a restart)');
  const d = cmd.indexOf('--dir');
  const dir = d >= 0 ? cmd[d + 1] : '/data';
  if (!mounts(c, 'redis').some((m) => !m.bind && m.target === dir)) p.push(`services.redis: the data dir ${dir} is not on a named volume`);
  return p;
}

function clickhouseProblems(c: YamlMap): string[] {
  if (!hasService(c, 'clickhouse')) return ['no clickhouse service'];
  return mounts(c, 'clickhouse').some((m) => !m.bind && m.target === '/var/lib/clickhouse') ? [] : ['services.clickhouse: /var/lib/clickhouse is not on a named volume'];
}

function nodePortProblems(c: YamlMap, read: Read): string[] {
  return eachNode(c, (name) => nodePortProblemsOf(c, name, read));
}

function nodePortProblemsOf(c: YamlMap, name: string, read: Read): string[] {
  const config = nodeConfig(c, name);
  if (!config) return [`services.${name}: the node configuration does not parse`];
  const p: string[] = [];
  const maps = portMappings(c, name);
  if (!maps.some((m) => m.container === config.port)) p.push(`services.${name}.ports: no mapping to the container port VIGIL_PORT=${config.port}: ${JSON.stringify(maps)}`);
  const hc = healthcheckText(c, name);
  const m = hc ? /127\.0\.0\.1:(\d+)\/readyz\b/.exec(hc) : null;
  if (!m) p.push(`services.${name}.healthcheck: does not GET http://127.0.0.1:<VIGIL_PORT>/readyz`);
  else if (Number(m[1]) !== config.port) p.push(`services.${name}.healthcheck: probes port ${m[1]}, the node listens on ${config.port}`);
  const build = service(c, name)['build'];
  if (build === undefined) return p; // runs the image another node service builds
  const dockerfile = isMap(build) ? String(build['dockerfile'] ?? 'Dockerfile') : null;
  if (!dockerfile || !exists(dockerfile)) p.push(`services.${name}.build: Dockerfile ${dockerfile} not found`);
  else {
    const runtime = parseDockerfile(read(dockerfile)).stages.at(-1)!;
    const exposed = runtime.instructions.filter((i) => i.cmd === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((x) => Number(x.replace(/\/tcp$/, '')));
    if (!exposed.includes(config.port)) p.push(`${dockerfile}: EXPOSE ${exposed.join(' ')} does not include VIGIL_PORT=${config.port}`);
  }
  return p;
}

function nodeVolumeProblems(c: YamlMap): string[] {
  return eachNode(c, (name) => {
    const config = nodeConfig(c, name);
    if (!config) return [`services.${name}: the node configuration does not parse`];
    const p: string[] = [];
    if (!mounts(c, name).some((m) => !m.bind && m.target === config.dataDir)) p.push(`services.${name}: VIGIL_DATA_DIR=${config.dataDir} (ClickHouse spool) is not on a named volume`);
    if (config.configDir) {
      const host = hostPathOf(c, name, config.configDir);
      if (!host) p.push(`services.${name}: VIGIL_CONFIG_DIR=${config.configDir} is not bind-mounted from the repository`);
      else if (!exists(host)) p.push(`services.${name}: VIGIL_CONFIG_DIR=${config.configDir} comes from ${host}, which does not exist`);
    }
    return p;
  });
}

/**
 * The node services are nodes of one cluster (runtime/cluster.ts): each with its own
 * VIGIL_NODE_ID and data volume, each advertising the address the others reach it at (its
 * service name and container port), every other setting the same, and time to hand its slots
 * over when stopped.
 */
function clusterProblems(c: YamlMap): string[] {
  const nodes = nodeServices(c);
  const p: string[] = [];
  if (nodes.length < 2) p.push(`${nodes.length} node service(s) (${nodes.join(', ')}); the compose file runs two nodes of one cluster`);
  const parsed: [string, NodeConfig][] = [];
  const ids = new Map<string, string>();
  const dataVolumes = new Map<string, string>();
  const configSources = new Map<string, string>();
  for (const name of nodes) {
    const config = nodeConfig(c, name);
    if (!config) {
      p.push(`services.${name}: the node configuration does not parse (see the environment check)`);
      continue;
    }
    parsed.push([`services.${name}`, config]);
    if (!config.nodeId) p.push(`services.${name}: VIGIL_NODE_ID is not set (a node without it owns every key group without a lease, next to the others)`);
    else if (ids.has(config.nodeId)) p.push(`services.${name} and services.${ids.get(config.nodeId)} have the same VIGIL_NODE_ID ${config.nodeId}`);
    else ids.set(config.nodeId, name);
    if (!config.adminToken) p.push(`services.${name}: VIGIL_ADMIN_TOKEN is not set (a node of several refuses to start without it)`);
    if (!config.advertiseUrl) {
      p.push(`services.${name}: VIGIL_ADVERTISE_URL is not set (the default http://${config.host}:${config.port} does not reach this container from another)`);
    } else {
      const u = new URL(config.advertiseUrl);
      if (u.protocol !== 'http:') p.push(`services.${name}: VIGIL_ADVERTISE_URL=${config.advertiseUrl}: the node serves plain http`);
      if (u.hostname !== name) p.push(`services.${name}: VIGIL_ADVERTISE_URL=${config.advertiseUrl} is not the service's own name "${name}" (the other nodes forward reads there)`);
      else if (portOf(u) !== config.port) p.push(`services.${name}: VIGIL_ADVERTISE_URL=${config.advertiseUrl} names port ${portOf(u)}, but the node listens on VIGIL_PORT=${config.port} (other containers reach the container port, not the published one)`);
    }
    const vol = mounts(c, name).find((m) => !m.bind && m.target === config.dataDir)?.source;
    if (vol !== undefined) {
      if (dataVolumes.has(vol)) p.push(`services.${name} and services.${dataVolumes.get(vol)} both keep VIGIL_DATA_DIR on volume ${vol}; each node needs its own (its ClickHouse spool)`);
      else dataVolumes.set(vol, name);
    }
    if (config.configDir) configSources.set(name, hostPathOf(c, name, config.configDir) ?? '(not mounted)');
    const grace = service(c, name)['stop_grace_period'];
    const need = handoverGraceSeconds(config.leaseMs);
    if (typeof grace !== 'string') p.push(`services.${name}.stop_grace_period is not set (compose's 10 s default cuts the hand-over short; needs ${need}s)`);
    else {
      let seconds = NaN;
      try {
        seconds = durationSeconds(grace);
      } catch (err) {
        p.push(`services.${name}.stop_grace_period: ${(err as Error).message}`);
      }
      if (seconds < need) p.push(`services.${name}.stop_grace_period ${grace} < ${need}s: hand-over (up to ${need - DRAIN_SECONDS} s) plus drain (${DRAIN_SECONDS} s)`);
    }
  }
  p.push(...clusterAgreementProblems(parsed));
  // Same tenants: the same folder behind VIGIL_CONFIG_DIR.
  const sources = new Set(configSources.values());
  if (sources.size > 1) p.push(`the nodes load their tenants from different folders (${[...configSources].map(([n, s]) => `${n}: ${s}`).join(', ')}); any node accepts any tenant's events, so they must be the same`);
  return p;
}

function volumeProblems(c: YamlMap): string[] {
  const p: string[] = [];
  const declared = new Set(Object.keys(isMap(c['volumes']) ? c['volumes'] : {}));
  const used = new Set<string>();
  for (const name of Object.keys(services(c))) {
    for (const m of mounts(c, name)) {
      if (m.bind) {
        if (!exists(m.source)) p.push(`services.${name}.volumes: bind source ${m.source} does not exist`);
        if (!m.readOnly) p.push(`services.${name}.volumes: bind mount ${m.source} should be read-only (:ro)`);
      } else {
        used.add(m.source);
        if (!declared.has(m.source)) p.push(`services.${name}.volumes: named volume ${m.source} is not declared under top-level volumes`);
      }
    }
  }
  for (const d of declared) if (!used.has(d)) p.push(`volume ${d} is declared but not used`);
  return p;
}

function publishedPortProblems(c: YamlMap): string[] {
  const p: string[] = [];
  const taken = new Map<number, string>();
  for (const name of Object.keys(services(c))) {
    for (const m of portMappings(c, name)) {
      if (m.hostIp !== '127.0.0.1') p.push(`services.${name}.ports: ${m.host}:${m.container} is published on every interface; bind it to 127.0.0.1`);
      if (m.host === null) continue;
      if (taken.has(m.host)) p.push(`services.${name}.ports: host port ${m.host} is already published by services.${taken.get(m.host)}`);
      else taken.set(m.host, name);
    }
  }
  return p;
}

const SUPERSET_DOCKERFILE_DEFAULT = 'deploy/superset/Dockerfile';

function supersetProblems(c: YamlMap, read: Read): string[] {
  if (!hasService(c, 'superset')) return ['no superset service'];
  const p: string[] = [];
  const config = nodeConfig(c);
  const s = service(c, 'superset');
  const build = asMap(s['build'], 'services.superset.build');
  const dockerfile = String(build['dockerfile'] ?? SUPERSET_DOCKERFILE_DEFAULT);
  if (!exists(dockerfile)) return [`services.superset.build: ${dockerfile} not found`];
  const args = isMap(build['args']) ? build['args'] : {};
  const uri = typeof args['SUPERSET_CLICKHOUSE_URI'] === 'string' ? interpolate(args['SUPERSET_CLICKHOUSE_URI'], {}).value : null;
  if (!uri) p.push('services.superset.build.args.SUPERSET_CLICKHOUSE_URI is not set (the bundle would point at the wrong database)');
  else {
    const u = new URL(uri);
    if (u.protocol !== 'clickhousedb:') p.push(`SUPERSET_CLICKHOUSE_URI=${uri}: expected the clickhousedb:// dialect (clickhouse-connect)`);
    if (!hasService(c, u.hostname)) p.push(`SUPERSET_CLICKHOUSE_URI=${uri}: "${u.hostname}" is not a service`);
    else if (!servedPorts(c, u.hostname).has(portOf(u))) p.push(`SUPERSET_CLICKHOUSE_URI=${uri}: ${u.hostname} does not serve port ${portOf(u)}`);
    const db = u.pathname.replace(/^\//, '');
    if (config && db !== analyticsDatabase(config.cluster)) p.push(`SUPERSET_CLICKHOUSE_URI=${uri}: database ${db}, but the node writes to ${analyticsDatabase(config.cluster)} (vigil_<VIGIL_CLUSTER>)`);
  }

  // The image: driver installed, bundle built by build-zip.sh and copied where the init finds it.
  const df = parseDockerfile(read(dockerfile));
  const final = df.stages.at(-1)!;
  const runs = (st: typeof final) => st.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join('\n');
  if (!/pip install[^\n]*clickhouse-connect/.test(runs(final))) p.push(`${dockerfile}: the final stage does not pip install clickhouse-connect (the clickhousedb:// dialect)`);
  const zipStage = df.stages.find((st) => /dashboards\/superset\/build-zip\.sh\s+(\S+)/.test(runs(st)));
  if (!zipStage) return [...p, `${dockerfile}: no stage runs dashboards/superset/build-zip.sh`];
  if (!/SUPERSET_CLICKHOUSE_URI/.test(runs(zipStage)) || !zipStage.instructions.some((i) => i.cmd === 'ARG' && i.args.startsWith('SUPERSET_CLICKHOUSE_URI'))) {
    p.push(`${dockerfile}: build-zip.sh does not get the SUPERSET_CLICKHOUSE_URI build arg`);
  }
  const zipOut = /build-zip\.sh\s+(\S+)/.exec(runs(zipStage))![1]!;
  const copies = final.instructions.filter((i) => i.cmd === 'COPY').map(copyOf);
  const zipCopy = copies.find((cp) => cp.from === zipStage.name && cp.sources.includes(zipOut));
  if (!zipCopy) p.push(`${dockerfile}: the final stage does not copy ${zipOut} from stage ${zipStage.name}`);
  const bundle = zipCopy?.dest;
  const finalEnv = Object.assign({}, ...final.instructions.filter((i) => i.cmd === 'ENV').map(envOf)) as Record<string, string>;
  if (bundle && finalEnv['VIGIL_SUPERSET_BUNDLE'] !== bundle) p.push(`${dockerfile}: VIGIL_SUPERSET_BUNDLE=${finalEnv['VIGIL_SUPERSET_BUNDLE']} but the bundle is copied to ${bundle}`);

  // The init script: the service runs the copy the image holds, and it does the four steps in order.
  const initCopy = copies.find((cp) => cp.from === null && cp.sources.some((src) => src.endsWith('init.sh')));
  if (!initCopy) return [...p, `${dockerfile}: init.sh is not copied into the image`];
  const cmd = command(c, 'superset');
  if (cmd[0] !== initCopy.dest) p.push(`services.superset.command: starts with ${cmd[0]}, not the init script ${initCopy.dest}`);
  const init = read(initCopy.sources.find((src) => src.endsWith('init.sh'))!);
  const steps = ['superset db upgrade', 'superset fab create-admin', 'superset init', 'superset import-dashboards -p "${bundle}"'];
  let at = -1;
  for (const step of steps) {
    const i = init.indexOf(step, at + 1);
    if (i < 0) p.push(`init.sh: "${step}" missing or out of order`);
    else at = i;
  }
  if (bundle && !init.includes(`bundle="\${VIGIL_SUPERSET_BUNDLE:-${bundle}}"`)) p.push(`init.sh: the default bundle path is not ${bundle}`);

  // Variables the init script and superset_config.py require are set by the compose file.
  const { env, problems } = environment(c, 'superset');
  p.push(...problems);
  const required = [...init.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!);
  const cfgCopy = copies.find((cp) => cp.from === null && cp.sources.some((src) => src.endsWith('superset_config.py')));
  if (!cfgCopy || finalEnv['SUPERSET_CONFIG_PATH'] !== cfgCopy.dest) p.push(`${dockerfile}: SUPERSET_CONFIG_PATH does not name the copied superset_config.py`);
  if (cfgCopy) required.push(...[...read(cfgCopy.sources[0]!).matchAll(/os\.environ\["(\w+)"\]/g)].map((m) => m[1]!));
  for (const r of required) if (!env[r]) p.push(`services.superset.environment.${r} is required by the image and not set`);
  return p;
}

const PROMETHEUS_BASE = 'deploy/prometheus/prometheus.yml';

function scrapeTargets(prom: YamlMap, where: string): string[] {
  return asList(prom['scrape_configs'], `${where}: scrape_configs`).flatMap((sc, i) =>
    asList(asMap(sc, `${where}: scrape_configs[${i}]`)['static_configs'], `${where}: static_configs`).flatMap((st, j) =>
      asStrings(asMap(st, `${where}: static_configs[${j}]`)['targets'], `${where}: targets`)));
}

function withoutTargets(prom: YamlMap): YamlValue {
  const c = clone(prom);
  for (const sc of asList(c['scrape_configs'], 'scrape_configs')) for (const st of asList(asMap(sc, 'scrape_config')['static_configs'], 'static_configs')) asMap(st, 'static_config')['targets'] = [];
  return c;
}

function prometheusProblems(c: YamlMap, read: Read): string[] {
  if (!hasService(c, 'prometheus')) return ['no prometheus service'];
  const p: string[] = [];
  const flag = command(c, 'prometheus').find((a) => a.startsWith('--config.file='));
  if (!flag) return ['services.prometheus.command: no --config.file'];
  const inContainer = flag.slice('--config.file='.length);
  const host = hostPathOf(c, 'prometheus', inContainer);
  if (!host || !exists(host)) return [`services.prometheus: ${inContainer} is not bind-mounted from a file of the repository`];
  const prom = asMap(parseYamlSubset(read(host), host), host);
  const jobs = asList(prom['scrape_configs'], `${host}: scrape_configs`).map((sc) => asMap(sc, 'scrape_config'));
  const job = jobs.find((j) => j['job_name'] === 'vigil');
  if (!job) p.push(`${host}: no job "vigil" (the alert rules select job="vigil")`);
  else if ((job['metrics_path'] ?? '/metrics') !== '/metrics') p.push(`${host}: metrics_path is ${String(job['metrics_path'])}, the node serves /metrics`);
  const targets = scrapeTargets(prom, host);
  if (targets.length === 0) p.push(`${host}: no targets`);
  const nodes = nodeServices(c);
  for (const t of targets) {
    const [h, port] = t.split(':');
    const nodeConf = nodes.includes(h!) ? nodeConfig(c, h) : null;
    if (!hasService(c, h!)) p.push(`${host}: target ${t}: "${h}" is not a compose service`);
    else if (nodeConf && Number(port) !== nodeConf.port) p.push(`${host}: target ${t}, but the node listens on VIGIL_PORT=${nodeConf.port}`);
    else if (!servedPorts(c, h!).has(Number(port))) p.push(`${host}: target ${t}: ${h} does not serve port ${port}`);
  }
  // Every node is scraped (each exports only its own counters and its own slots).
  for (const n of nodes) if (!targets.some((t) => t.split(':')[0] === n)) p.push(`${host}: node ${n} is not a target`);
  for (const rf of asStrings(prom['rule_files'] ?? [], `${host}: rule_files`)) {
    if (!exists(path.posix.join(path.posix.dirname(host), rf))) p.push(`${host}: rule file ${rf} not found next to it`);
  }
  // Same configuration as the one test/observability checks with a real Prometheus, but the target.
  const base = asMap(parseYamlSubset(read(PROMETHEUS_BASE), PROMETHEUS_BASE), PROMETHEUS_BASE);
  if (JSON.stringify(withoutTargets(prom)) !== JSON.stringify(withoutTargets(base))) p.push(`${host} differs from ${PROMETHEUS_BASE} in more than the targets`);
  return p;
}

function grafanaProblems(c: YamlMap, read: Read): string[] {
  if (!hasService(c, 'grafana')) return ['no grafana service'];
  const p: string[] = [];
  const prov = hostPathOf(c, 'grafana', '/etc/grafana/provisioning');
  if (!prov || !exists(prov)) return ['services.grafana: /etc/grafana/provisioning is not bind-mounted from the repository'];
  const dsFile = `${prov}/datasources/prometheus.yml`;
  const ds = asList(asMap(parseYamlSubset(read(dsFile), dsFile), dsFile)['datasources'], `${dsFile}: datasources`).map((d) => asMap(d, dsFile));
  const prom = ds.find((d) => d['type'] === 'prometheus');
  if (!prom) p.push(`${dsFile}: no prometheus datasource`);
  else {
    const u = new URL(asString(prom['url'], `${dsFile}: url`));
    if (!hasService(c, u.hostname)) p.push(`${dsFile}: url ${u.href}: "${u.hostname}" is not a service`);
    else if (!servedPorts(c, u.hostname).has(portOf(u))) p.push(`${dsFile}: url ${u.href}: ${u.hostname} does not serve port ${portOf(u)}`);
    if (prom['isDefault'] !== true) p.push(`${dsFile}: the Prometheus datasource is not the default (the dashboard's datasource variable picks the default)`);
  }
  const dbFile = `${prov}/dashboards/vigil.yml`;
  const providers = asList(asMap(parseYamlSubset(read(dbFile), dbFile), dbFile)['providers'], `${dbFile}: providers`).map((x) => asMap(x, dbFile));
  for (const pr of providers) {
    const dir = asString(asMap(pr['options'], `${dbFile}: options`)['path'], `${dbFile}: options.path`);
    const host = hostPathOf(c, 'grafana', dir);
    if (!host || !exists(path.posix.join(host, 'vigil.json'))) p.push(`${dbFile}: dashboards path ${dir} is not a bind mount of the folder holding vigil.json`);
    else {
      const dash = JSON.parse(read(path.posix.join(host, 'vigil.json'))) as { templating?: { list?: { type?: string; query?: string }[] } };
      if (!dash.templating?.list?.some((v) => v.type === 'datasource' && v.query === 'prometheus')) p.push('dashboards/grafana/vigil.json: no Prometheus datasource variable to bind to the provisioned datasource');
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Tests

const CHECKS = {
  shape: (c: YamlMap) => shapeProblems(c),
  services: (c: YamlMap) => requiredServiceProblems(c),
  nodeEnv: (c: YamlMap) => nodeEnvProblems(c),
  nodeUrls: (c: YamlMap) => nodeUrlProblems(c),
  nats: (c: YamlMap) => natsProblems(c),
  redis: (c: YamlMap) => redisProblems(c),
  clickhouse: (c: YamlMap) => clickhouseProblems(c),
  nodePorts: (c: YamlMap, read: Read) => nodePortProblems(c, read),
  nodeVolumes: (c: YamlMap) => nodeVolumeProblems(c),
  cluster: (c: YamlMap) => clusterProblems(c),
  volumes: (c: YamlMap) => volumeProblems(c),
  published: (c: YamlMap) => publishedPortProblems(c),
  superset: (c: YamlMap, read: Read) => supersetProblems(c, read),
  prometheus: (c: YamlMap, read: Read) => prometheusProblems(c, read),
  grafana: (c: YamlMap, read: Read) => grafanaProblems(c, read),
} satisfies Record<string, (c: YamlMap, read: Read) => string[]>;

type CheckName = keyof typeof CHECKS;

describe('docker-compose.yml', () => {
  const compose = loadCompose();

  it.each(Object.keys(CHECKS) as CheckName[])('check %s finds no problem', (name) => {
    expect(CHECKS[name](compose, readRepo)).toEqual([]);
  });

  it("gives the node the example tenants' configuration, which loads", async () => {
    const config = nodeConfig(compose)!;
    expect(config.configDir).toBeTruthy();
    const host = hostPathOf(compose, 'vigil', config.configDir!)!;
    const loaded = await loadTenantConfigDir(repoPath(host));
    expect(Object.keys(loaded.tenants).sort()).toContain('demo');
  });

  it('runs the image the Dockerfile builds: node bin/vigil.js start', () => {
    const runtime = parseDockerfile(readRepo('Dockerfile')).stages.at(-1)!;
    const entrypoint = execForm(runtime.instructions.findLast((i) => i.cmd === 'ENTRYPOINT'));
    expect(entrypoint).toEqual(['node', 'bin/vigil.js']);
    for (const n of nodeServices(compose)) expect(command(compose, n), n).toEqual(['start']);
  });

  it('runs two nodes of one cluster, each reachable by the other at its service name', () => {
    expect(nodeServices(compose)).toEqual(['vigil', 'vigil-2']);
    const [a, b] = [nodeConfig(compose, 'vigil')!, nodeConfig(compose, 'vigil-2')!];
    expect([a.nodeId, a.advertiseUrl]).toEqual(['vigil', 'http://vigil:8080']);
    expect([b.nodeId, b.advertiseUrl]).toEqual(['vigil-2', 'http://vigil-2:8080']);
    expect(b.adminToken).toBe(a.adminToken);
    expect(a.adminToken).toBeTruthy();
    expect([a.cluster, a.leaseMs, a.clusterSlots, a.keyGroups]).toEqual([b.cluster, b.leaseMs, b.clusterSlots, b.keyGroups]);
    expect(portMappings(compose, 'vigil').map((m) => m.host)).toEqual([8080]);
    expect(portMappings(compose, 'vigil-2').map((m) => m.host)).toEqual([8081]);
  });
});

// ---------------------------------------------------------------------------------------------
// Each check fails on a broken copy

type Mutation = [label: string, check: CheckName, expected: RegExp, mutate: (c: YamlMap) => void, files?: Record<string, (text: string) => string>];

const env = (c: YamlMap) => asMap(service(c, 'vigil')['environment'], 'env');
const env2 = (c: YamlMap) => asMap(service(c, 'vigil-2')['environment'], 'env');

const MUTATIONS: Mutation[] = [
  ['a top-level version key', 'shape', /obsolete/, (c) => (c['version'] = '3.8')],
  ['the nats service removed', 'services', /"nats" is missing/, (c) => delete services(c)['nats']],
  ['grafana removed', 'services', /"grafana" is missing/, (c) => delete services(c)['grafana']],
  ['a misspelt VIGIL_ name', 'nodeEnv', /VIGIL_NAT_URL is not a setting/, (c) => {
    env(c)['VIGIL_NAT_URL'] = env(c)['VIGIL_NATS_URL']!;
    delete env(c)['VIGIL_NATS_URL'];
  }],
  ['a port the schema refuses', 'nodeEnv', /invalid setting port \(VIGIL_PORT\)/, (c) => (env(c)['VIGIL_PORT'] = '80800')],
  ['the host left at loopback', 'nodeEnv', /0\.0\.0\.0/, (c) => delete env(c)['VIGIL_HOST']],
  ['NATS without Redis', 'nodeEnv', /both VIGIL_NATS_URL and VIGIL_REDIS_URL/, (c) => delete env(c)['VIGIL_REDIS_URL']],
  ['a token without a default', 'nodeEnv', /\$\{VIGIL_ADMIN_TOKEN\} has no default/, (c) => (env(c)['VIGIL_ADMIN_TOKEN'] = '${VIGIL_ADMIN_TOKEN}')],
  ['a non-VIGIL variable on the node', 'nodeEnv', /NATS_URL: not a VIGIL_\* setting/, (c) => (env(c)['NATS_URL'] = 'nats://nats:4222')],
  ['Redis URL naming no service', 'nodeUrls', /"redis-cache" is not a service/, (c) => (env(c)['VIGIL_REDIS_URL'] = 'redis://redis-cache:6379')],
  ['ClickHouse URL on a port not served', 'nodeUrls', /serves ports \[8123, 9000\], not 8124/, (c) => (env(c)['VIGIL_CLICKHOUSE_URL'] = 'http://clickhouse:8124')],
  ['NATS URL with the wrong scheme', 'nodeUrls', /expected a nats:\/\/ URL/, (c) => (env(c)['VIGIL_NATS_URL'] = 'http://nats:4222')],
  ['no healthy-dependency on redis', 'nodeUrls', /depends_on\.redis/, (c) => delete asMap(service(c, 'vigil')['depends_on'], 'd')['redis']],
  ['NATS without JetStream', 'nats', /JetStream is not enabled/, (c) => (service(c, 'nats')['command'] = ['nats-server', '-sd', '/data'])],
  ['JetStream dir off the volume', 'nats', /not on a named volume/, (c) => (service(c, 'nats')['volumes'] = ['nats-data:/srv'])],
  ['Redis without AOF', 'redis', /--appendonly yes/, (c) => (service(c, 'redis')['command'] = ['redis-server', '--dir', '/data'])],
  ['ClickHouse data off the volume', 'clickhouse', /var\/lib\/clickhouse/, (c) => (service(c, 'clickhouse')['volumes'] = [])],
  ['published port not the node port', 'nodePorts', /no mapping to the container port VIGIL_PORT=8080/, (c) => (service(c, 'vigil')['ports'] = ['127.0.0.1:8080:8081'])],
  ['VIGIL_PORT moved, healthcheck not', 'nodePorts', /probes port 8080, the node listens on 9000/, (c) => {
    env(c)['VIGIL_PORT'] = '9000';
    service(c, 'vigil')['ports'] = ['127.0.0.1:9000:9000'];
  }],
  ['healthcheck on /healthz', 'nodePorts', /readyz/, (c) => (asMap(service(c, 'vigil')['healthcheck'], 'hc')['test'] = ['CMD', 'curl', 'http://127.0.0.1:8080/healthz'])],
  ['Dockerfile EXPOSE elsewhere', 'nodePorts', /EXPOSE 9999 does not include VIGIL_PORT=8080/, () => {}, { Dockerfile: (t) => t.replace('EXPOSE 8080', 'EXPOSE 9999') }],
  ['data dir not on a volume', 'nodeVolumes', /VIGIL_DATA_DIR=\/var\/vigil/, (c) => (env(c)['VIGIL_DATA_DIR'] = '/var/vigil')],
  ['config dir not mounted', 'nodeVolumes', /VIGIL_CONFIG_DIR=\/etc\/tenants/, (c) => (env(c)['VIGIL_CONFIG_DIR'] = '/etc/tenants')],
  ['the second node removed', 'services', /"vigil-2" is missing/, (c) => delete services(c)['vigil-2']],
  ['a misspelt name on the second node only', 'nodeEnv', /services\.vigil-2\.environment: VIGIL_LEASE_TTL is not a setting/, (c) => (env2(c)['VIGIL_LEASE_TTL'] = '3000')],
  ['the second node without a healthy-dependency on nats', 'nodeUrls', /services\.vigil-2\.depends_on\.nats/, (c) => delete asMap(service(c, 'vigil-2')['depends_on'], 'd')['nats']],
  ['the second node not publishing its port', 'nodePorts', /services\.vigil-2\.ports: no mapping/, (c) => delete service(c, 'vigil-2')['ports']],
  ['only one node left', 'cluster', /1 node service\(s\) \(vigil\)/, (c) => delete services(c)['vigil-2']],
  ['both nodes with one id', 'cluster', /services\.vigil-2 and services\.vigil have the same VIGIL_NODE_ID vigil/, (c) => (env2(c)['VIGIL_NODE_ID'] = 'vigil')],
  ['a node without an id', 'cluster', /services\.vigil-2: VIGIL_NODE_ID is not set/, (c) => delete env2(c)['VIGIL_NODE_ID']],
  ['another admin token on one node', 'cluster', /services\.vigil-2: VIGIL_ADMIN_TOKEN differs from services\.vigil;/, (c) => (env2(c)['VIGIL_ADMIN_TOKEN'] = '${VIGIL_ADMIN_TOKEN_2:-another-admin-token}')],
  ['no admin token at all', 'cluster', /services\.vigil: VIGIL_ADMIN_TOKEN is not set/, (c) => {
    delete env(c)['VIGIL_ADMIN_TOKEN'];
    delete env2(c)['VIGIL_ADMIN_TOKEN'];
  }],
  ['another cluster name on one node', 'cluster', /VIGIL_CLUSTER differs from services\.vigil \("ward-b" vs "default"\)/, (c) => (env2(c)['VIGIL_CLUSTER'] = 'ward-b')],
  ['another lease time on one node', 'cluster', /VIGIL_LEASE_MS differs/, (c) => (env2(c)['VIGIL_LEASE_MS'] = '5000')],
  ['another slot count on one node', 'cluster', /VIGIL_CLUSTER_SLOTS differs/, (c) => (env2(c)['VIGIL_CLUSTER_SLOTS'] = '128')],
  ['other tenants on one node', 'cluster', /load their tenants from different folders/, (c) => (service(c, 'vigil-2')['volumes'] = ['vigil-2-data:/data', './deploy/config/tenants:/etc/vigil:ro'])],
  ['no advertise URL', 'cluster', /services\.vigil-2: VIGIL_ADVERTISE_URL is not set \(the default http:\/\/0\.0\.0\.0:8080/, (c) => delete env2(c)['VIGIL_ADVERTISE_URL']],
  ['advertising loopback', 'cluster', /http:\/\/127\.0\.0\.1:8080 is not the service's own name "vigil-2"/, (c) => (env2(c)['VIGIL_ADVERTISE_URL'] = 'http://127.0.0.1:8080')],
  ['advertising the other node', 'cluster', /http:\/\/vigil:8080 is not the service's own name "vigil-2"/, (c) => (env2(c)['VIGIL_ADVERTISE_URL'] = 'http://vigil:8080')],
  ['advertising the published host port', 'cluster', /names port 8081, but the node listens on VIGIL_PORT=8080/, (c) => (env2(c)['VIGIL_ADVERTISE_URL'] = 'http://vigil-2:8081')],
  ['one data volume for both nodes', 'cluster', /services\.vigil-2 and services\.vigil both keep VIGIL_DATA_DIR on volume vigil-data/, (c) => (service(c, 'vigil-2')['volumes'] = ['vigil-data:/data', './deploy/config:/etc/vigil:ro'])],
  ['a stop grace too short to hand over', 'cluster', /services\.vigil-2\.stop_grace_period 20s < 38s/, (c) => (service(c, 'vigil-2')['stop_grace_period'] = '20s')],
  ['a stop grace compose cannot read', 'cluster', /services\.vigil\.stop_grace_period: not a duration: "ninety"/, (c) => (service(c, 'vigil')['stop_grace_period'] = 'ninety')],
  ['no stop grace', 'cluster', /services\.vigil\.stop_grace_period is not set/, (c) => delete service(c, 'vigil')['stop_grace_period']],
  ['an undeclared named volume', 'volumes', /grafana-state is not declared/, (c) => (service(c, 'grafana')['volumes'] = ['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './dashboards/grafana:/etc/grafana/dashboards/vigil:ro', 'grafana-state:/var/lib/grafana'])],
  ['a missing bind source', 'volumes', /\.\/deploy\/tenants does not exist/, (c) => (service(c, 'vigil')['volumes'] = ['vigil-data:/data', './deploy/tenants:/etc/vigil:ro'])],
  ['a port on every interface', 'published', /bind it to 127\.0\.0\.1/, (c) => (service(c, 'grafana')['ports'] = ['3000:3000'])],
  ['both nodes on one host port', 'published', /services\.vigil-2\.ports: host port 8080 is already published by services\.vigil/, (c) => (service(c, 'vigil-2')['ports'] = ['127.0.0.1:8080:8080'])],
  ['Superset on another database', 'superset', /database vigil, but the node writes to vigil_default/, (c) => (asMap(asMap(service(c, 'superset')['build'], 'b')['args'], 'a')['SUPERSET_CLICKHOUSE_URI'] = 'clickhousedb://default@clickhouse:8123/vigil')],
  ['the cluster renamed, Superset not', 'superset', /but the node writes to vigil_ward_a/, (c) => (env(c)['VIGIL_CLUSTER'] = 'ward-a')],
  ['Superset without the driver', 'superset', /clickhouse-connect/, () => {}, { 'deploy/superset/Dockerfile': (t) => t.replaceAll('clickhouse-connect', 'clickhouse-driver') }],
  ['init without import', 'superset', /import-dashboards/, () => {}, { 'deploy/superset/init.sh': (t) => t.replace('superset import-dashboards', 'superset import-datasources') }],
  ['Superset without its secret key', 'superset', /SUPERSET_SECRET_KEY is required/, (c) => delete asMap(service(c, 'superset')['environment'], 'e')['SUPERSET_SECRET_KEY']],
  ['scrape target on the wrong port', 'prometheus', /target vigil:8081, but the node listens on VIGIL_PORT=8080/, () => {}, { 'deploy/prometheus/prometheus.compose.yml': (t) => t.replace('vigil:8080', 'vigil:8081') }],
  ['the second node not scraped', 'prometheus', /node vigil-2 is not a target/, () => {}, { 'deploy/prometheus/prometheus.compose.yml': (t) => t.replace('          - vigil-2:8080\n', '') }],
  ['the second node scraped on its host port', 'prometheus', /target vigil-2:8081, but the node listens on VIGIL_PORT=8080/, () => {}, { 'deploy/prometheus/prometheus.compose.yml': (t) => t.replace('vigil-2:8080', 'vigil-2:8081') }],
  ['scrape config drifted from prometheus.yml', 'prometheus', /differs from deploy\/prometheus\/prometheus\.yml/, () => {}, { 'deploy/prometheus/prometheus.compose.yml': (t) => t.replace('scrape_interval: 15s', 'scrape_interval: 30s') }],
  ['Grafana datasource on the wrong port', 'grafana', /prometheus does not serve port 9091/, () => {}, { 'deploy/grafana/provisioning/datasources/prometheus.yml': (t) => t.replace('prometheus:9090', 'prometheus:9091') }],
  ['dashboards folder not mounted', 'grafana', /not a bind mount of the folder holding vigil\.json/, (c) => (service(c, 'grafana')['volumes'] = ['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', 'grafana-data:/var/lib/grafana'])],
];

describe('docker-compose.yml checks fail on a broken copy', () => {
  it.each(MUTATIONS)('%s -> %s', (_label, check, expected, mutate, files) => {
    const c = loadCompose();
    mutate(c);
    const read: Read = (rel) => {
      const t = readRepo(rel);
      const f = files?.[rel];
      return f ? f(t) : t;
    };
    if (files) for (const [rel, f] of Object.entries(files)) expect(f(readRepo(rel)), `mutation of ${rel} changed nothing`).not.toBe(readRepo(rel));
    const problems = CHECKS[check](c, read);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('the YAML reader refuses what the file must not contain', () => {
    const text = readRepo(COMPOSE);
    expect(() => loadCompose(text.replace('restart: unless-stopped', 'restart: no'))).toThrow(/ambiguous plain scalar "no"/);
    expect(() => loadCompose(text.replace('- "127.0.0.1:8080:8080"', '- 8080:8080'))).toThrow(/ambiguous plain scalar "8080:8080"/);
    expect(() => loadCompose(text.replace('name: vigil', 'name: &n vigil'))).toThrow(/anchors, aliases/);
    expect(() => loadCompose(`${text}\nname: again\n`)).toThrow(/duplicate key "name"/);
  });

  it('reads stop_grace_period as compose does', () => {
    expect(durationSeconds('90s')).toBe(90);
    expect(durationSeconds('1m30s')).toBe(90);
    expect(durationSeconds('1500ms')).toBe(1.5);
    expect(() => durationSeconds('90')).toThrow(/not a duration/);
    expect(() => durationSeconds('1m 30s')).toThrow(/not a duration/);
  });
});
