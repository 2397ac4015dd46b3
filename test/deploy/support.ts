// Shared by the deployment tests (compose, Kubernetes, Dockerfiles): the node's configuration
// schema as the reference for environment names, Docker-style interpolation, a Dockerfile
// reader and a .dockerignore matcher. Checks return lists of problems (empty = fine), so each
// test can also prove that its check fails on a broken copy of the file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_ENV, parseNodeConfig, type NodeConfig } from '../../adapters/compose/config.js';
import { kDefaultClusterOptions } from '../../runtime/cluster.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function repoPath(rel: string): string {
  return path.join(REPO, rel);
}

export function readRepo(rel: string): string {
  return readFileSync(repoPath(rel), 'utf8');
}

export function exists(rel: string): boolean {
  try {
    statSync(repoPath(rel));
    return true;
  } catch {
    return false;
  }
}

/** Every file under a repository folder (relative paths), or the file itself. */
export function filesUnder(rel: string): string[] {
  const abs = repoPath(rel);
  if (!statSync(abs).isDirectory()) return [rel];
  const out: string[] = [];
  for (const e of readdirSync(abs, { withFileTypes: true })) {
    const child = path.posix.join(rel, e.name);
    if (e.isDirectory()) out.push(...filesUnder(child));
    else out.push(child);
  }
  return out;
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

// ---------------------------------------------------------------------------------------------
// The node's environment

/** VIGIL_* names the node reads: the schema's map, plus VIGIL_CONFIG (the JSON file). */
export const NODE_ENV_NAMES: ReadonlySet<string> = new Set([...Object.keys(CONFIG_ENV), 'VIGIL_CONFIG']);

export interface NodeEnvCheck {
  problems: string[];
  config: NodeConfig | null;
}

/**
 * The environment a deployment gives the node: only known VIGIL_* names, values the schema
 * accepts, listening beyond loopback, and durable mode (NATS and Redis together).
 */
export function checkNodeEnv(env: Record<string, string>, where: string): NodeEnvCheck {
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('VIGIL_') && !NODE_ENV_NAMES.has(name)) {
      problems.push(`${where}: ${name} is not a setting of the node (adapters/compose/config.ts CONFIG_ENV)`);
    }
  }
  let config: NodeConfig | null = null;
  try {
    config = parseNodeConfig({}, env);
  } catch (err) {
    problems.push(`${where}: the node would refuse to start: ${(err as Error).message}`);
  }
  if (config) {
    if (config.host !== '0.0.0.0' && config.host !== '::') problems.push(`${where}: VIGIL_HOST is ${config.host}; in a container the node must listen on 0.0.0.0`);
    if (!config.natsUrl || !config.redisUrl) problems.push(`${where}: durable mode needs both VIGIL_NATS_URL and VIGIL_REDIS_URL`);
    if (!config.clickhouseUrl) problems.push(`${where}: VIGIL_CLICKHOUSE_URL is not set (analytics would go to chDB inside the container)`);
  }
  return { problems, config };
}

/** The environment variable behind a setting (`nodeId` -> `VIGIL_NODE_ID`). */
export function envNameOf(key: keyof NodeConfig): string {
  return Object.entries(CONFIG_ENV).find(([, k]) => k === key)?.[0] ?? key;
}

/** Settings that may differ between the nodes of one cluster; every other one must be the same. */
export const PER_NODE_SETTINGS: ReadonlySet<keyof NodeConfig> = new Set<keyof NodeConfig>(['nodeId', 'advertiseUrl', 'host', 'port', 'dataDir', 'shards', 'hosts']);

/** Settings whose values are secrets: named in problems, never printed. */
const SECRET_SETTINGS: ReadonlySet<keyof NodeConfig> = new Set<keyof NodeConfig>(['adminToken', 'demoToken', 'clickhouseUrl']);

/**
 * Nodes of one cluster must agree on everything but their own identity and sizing: the same
 * stores and VIGIL_CLUSTER (one log, one set of snapshots and leases), the same admin token (reads
 * are forwarded with it), the same tenants (any node accepts any tenant's events), the same key
 * groups, slots and lease time (fixed for the life of the cluster).
 */
export function clusterAgreementProblems(nodes: [where: string, config: NodeConfig][]): string[] {
  const p: string[] = [];
  const [first, ...rest] = nodes;
  if (!first) return p;
  for (const [where, config] of rest) {
    const keys = new Set([...Object.keys(first[1]), ...Object.keys(config)] as (keyof NodeConfig)[]);
    for (const k of keys) {
      if (PER_NODE_SETTINGS.has(k)) continue;
      const a = JSON.stringify(first[1][k]);
      const b = JSON.stringify(config[k]);
      if (a === b) continue;
      const shown = SECRET_SETTINGS.has(k) ? '' : ` (${b ?? 'unset'} vs ${a ?? 'unset'})`;
      p.push(`${where}: ${envNameOf(k)} differs from ${first[0]}${shown}; nodes of one cluster must agree on it`);
    }
  }
  return p;
}

/**
 * The shortest stop grace that lets a node leave gracefully: the hand-over (the coordinator
 * finishes the round in flight, waits up to handoverTimeoutMs for the final commit of the slots
 * it gives away, then releases the leases) plus the drain every node does on SIGTERM (snapshot
 * every actor, flush analytics), for which DRAIN_SECONDS was the bound before nodes had slots.
 */
export const DRAIN_SECONDS = 30;
export function handoverGraceSeconds(leaseMs: number): number {
  return DRAIN_SECONDS + Math.ceil((kDefaultClusterOptions.handoverTimeoutMs + leaseMs) / 1000);
}

/** A Go-style duration as compose writes it (`90s`, `1m30s`, `500ms`), in seconds. */
export function durationSeconds(d: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s|us)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(d); m; m = re.exec(d)) {
    const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 };
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== d.length) throw new Error(`not a duration: ${JSON.stringify(d)}`);
  return total;
}

/** The analytics database the node uses for a cluster (adapters/compose/analytics.ts openAnalytics). */
export function analyticsDatabase(cluster: string): string {
  return `vigil_${cluster.replace(/-/g, '_')}`;
}

export function portOf(u: URL): number {
  if (u.port) return Number(u.port);
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'nats:': 4222, 'redis:': 6379, 'clickhousedb:': 8123 };
  const p = defaults[u.protocol];
  if (p === undefined) throw new Error(`no default port for ${u.protocol}`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// ${VAR} interpolation as docker compose does it

export interface Interpolated {
  value: string;
  /** Variables referenced without a default (`${X}`, `$X`, `${X:?msg}`). */
  required: string[];
}

export function interpolate(s: string, env: Record<string, string | undefined>): Interpolated {
  const required: string[] = [];
  const value = s.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, dollar: string, name?: string, op?: string, arg?: string, bare?: string) => {
    if (dollar === '$') return '$';
    const n = (name ?? bare)!;
    const v = env[n];
    const unset = v === undefined || (op?.startsWith(':') === true && v === '');
    if (op === ':-' || op === '-') return unset ? (arg ?? '') : v!;
    if (unset) required.push(n);
    return v ?? '';
  });
  if (/\$\{/.test(value)) throw new Error(`unsupported interpolation in "${s}"`);
  return { value, required };
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles

export interface Instruction {
  /** Upper-case instruction, e.g. COPY. */
  cmd: string;
  args: string;
  line: number;
}

export interface Stage {
  index: number;
  /** The image after ARG substitution. */
  from: string;
  name: string | null;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: Instruction[] = [];
  let buf = '';
  let start = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const t = raw.trim();
    if (buf === '' && (t === '' || t.startsWith('#'))) continue;
    if (buf !== '' && t.startsWith('#')) continue; // comment inside a continuation
    if (buf === '') start = i + 1;
    if (t.endsWith('\\')) {
      buf += `${t.slice(0, -1)} `;
      continue;
    }
    buf += t;
    const m = /^(\S+)\s*(.*)$/.exec(buf)!;
    logical.push({ cmd: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buf = '';
  }
  if (buf !== '') throw new Error('Dockerfile ends inside a line continuation');
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of logical) {
    if (ins.cmd === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      const from = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_x, a?: string, b?: string) => {
        const v = globalArgs[(a ?? b)!];
        if (v === undefined) throw new Error(`line ${ins.line}: FROM uses ${a ?? b}, not a global ARG with a default`);
        return v;
      });
      stages.push({ index: stages.length, from, name: m[2] ?? null, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.cmd !== 'ARG') throw new Error(`line ${ins.line}: ${ins.cmd} before the first FROM`);
      const [k, ...v] = ins.args.split('=');
      globalArgs[k!.trim()] = v.join('=').trim();
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** Splits on whitespace, honouring "double" and 'single' quotes (quotes removed). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let cur = '';
  let last = -1;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3]!);
    if (last === m.index) cur += piece;
    else {
      if (last !== -1) out.push(cur);
      cur = piece;
    }
    last = re.lastIndex;
  }
  if (last !== -1) out.push(cur);
  return out;
}

/** `ENV A=1 B=2` (or the legacy `ENV A 1`) as a map. */
export function envOf(ins: Instruction): Record<string, string> {
  const words = shellWords(ins.args);
  if (words.length >= 1 && !words[0]!.includes('=')) return { [words[0]!]: words.slice(1).join(' ') };
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) throw new Error(`line ${ins.line}: cannot read ENV item ${w}`);
    out[w.slice(0, i)] = w.slice(i + 1);
  }
  return out;
}

export interface CopyInstruction {
  from: string | null;
  sources: string[];
  dest: string;
  line: number;
}

export function copyOf(ins: Instruction): CopyInstruction {
  const words = shellWords(ins.args);
  let from: string | null = null;
  const rest: string[] = [];
  for (const w of words) {
    if (w.startsWith('--from=')) from = w.slice('--from='.length);
    else if (w.startsWith('--')) continue; // --chown, --chmod, --link
    else rest.push(w);
  }
  if (rest.length < 2) throw new Error(`line ${ins.line}: COPY needs a source and a destination`);
  return { from, sources: rest.slice(0, -1), dest: rest.at(-1)!, line: ins.line };
}

/** JSON exec form (`["node", "x"]`) of CMD / ENTRYPOINT; null for the shell form. */
export function execForm(ins: Instruction | undefined): string[] | null {
  if (!ins || !ins.args.startsWith('[')) return null;
  return JSON.parse(ins.args) as string[];
}

// ---------------------------------------------------------------------------------------------
// .dockerignore (moby/patternmatcher semantics: last matching pattern wins, a pattern that
// matches a parent folder matches everything under it, `!` re-includes)

interface IgnorePattern {
  exclude: boolean;
  re: RegExp;
  text: string;
}

export class DockerIgnore {
  private readonly patterns: IgnorePattern[];

  constructor(text: string) {
    this.patterns = [];
    for (const raw of text.split(/\r?\n/)) {
      let t = raw.trim();
      if (t === '' || t.startsWith('#')) continue;
      const exclude = !t.startsWith('!');
      if (!exclude) t = t.slice(1).trim();
      t = path.posix.normalize(t).replace(/^\/+/, '').replace(/\/+$/, '');
      this.patterns.push({ exclude, re: globToRegExp(t), text: raw.trim() });
    }
  }

  /** True when `rel` (a path relative to the context) is left out of the build context. */
  ignores(rel: string): boolean {
    const p = path.posix.normalize(rel).replace(/^\.\//, '');
    const parts = p.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const pat of this.patterns) {
      if (prefixes.some((x) => pat.re.test(x))) excluded = pat.exclude;
    }
    return excluded;
  }
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
