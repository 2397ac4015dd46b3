import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { clinicalConfigSchema } from '../../actors/config.js';
import { ConfigError } from '../../runtime/errors.js';

/**
 * The node's configuration: one YAML or JSON file (VIGIL_CONFIG) plus VIGIL_* environment
 * variables, which win. Parsed once at start; an invalid setting stops the start with a message
 * naming it.
 */
export const nodeConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().default('.vigil'),
    /** Directory with tenants/, schemas/, rules/ (see deploy/config). Without it: one tenant, demo. */
    configDir: z.string().optional(),
    demoToken: z.string().min(8).optional(),
    adminToken: z.string().min(8).optional(),
    /** Names this cluster's stream, subjects and Redis keys; nodes of one cluster share it. */
    cluster: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, "_" and "-", at most 32').default('default'),
    natsUrl: z.string().url().optional(),
    redisUrl: z.string().url().optional(),
    clickhouseUrl: z.string().url().optional(),
    /** `on`: rollups, alerts, raw events, DLQ and audit go to ClickHouse (or chDB under dataDir). */
    analytics: z.enum(['on', 'off']).default('on'),
    shards: z.coerce.number().int().min(1).default(2),
    hosts: z.coerce.number().int().min(1).default(2),
    /** Ingest worker threads: frames are parsed, validated and routed there, off the uWS thread. */
    ingestWorkers: z.coerce.number().int().min(1).max(64).default(2),
    keyGroups: z.coerce.number().int().min(1).max(65535).default(4096),
    /** WebSocket frames and HTTP bodies above this are refused (1009 / 413). */
    maxFrameBytes: z.coerce.number().int().min(1024).default(1024 * 1024),
    /** Events per frame or HTTP batch. */
    maxBatchEvents: z.coerce.number().int().min(1).default(1000),
    /** Deepest nesting of one event, the event object being level 1; deeper is refused `too_deep`. */
    maxEventDepth: z.coerce.number().int().min(4).max(1000).default(32),
    /** Most entries in any one object or array of an event; more is refused `too_large`. */
    maxEventKeys: z.coerce.number().int().min(16).default(1000),
    /** Frames a WebSocket client may have un-acked. */
    credit: z.coerce.number().int().min(1).max(4096).default(64),
    idleTimeoutSec: z.coerce.number().int().min(0).max(960).default(120),
    /**
     * Set it to run as one node of several (needs durable mode and a shared admin token): key
     * groups are leased from NATS and any node accepts any event. Unique per node.
     */
    nodeId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-", at most 64').optional(),
    /** Where the other nodes reach this one (reads are forwarded there). Default http://host:port. */
    advertiseUrl: z.string().url().optional(),
    /** A node that has not renewed its leases for this long loses them to the others. */
    leaseMs: z.coerce.number().int().min(300).max(600_000).default(3000),
    /** Lease slots the key groups are split into; fixed for the life of a cluster. */
    clusterSlots: z.coerce.number().int().min(1).max(4096).default(64),
    /** Clinical thresholds (actors/config.ts). */
    clinical: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type NodeConfig = z.output<typeof nodeConfigSchema>;

const ENV: Record<string, keyof NodeConfig> = {
  VIGIL_HOST: 'host',
  VIGIL_PORT: 'port',
  VIGIL_DATA_DIR: 'dataDir',
  VIGIL_CONFIG_DIR: 'configDir',
  VIGIL_DEMO_TOKEN: 'demoToken',
  VIGIL_ADMIN_TOKEN: 'adminToken',
  VIGIL_CLUSTER: 'cluster',
  VIGIL_NATS_URL: 'natsUrl',
  VIGIL_REDIS_URL: 'redisUrl',
  VIGIL_CLICKHOUSE_URL: 'clickhouseUrl',
  VIGIL_ANALYTICS: 'analytics',
  VIGIL_SHARDS: 'shards',
  VIGIL_HOSTS: 'hosts',
  VIGIL_INGEST_WORKERS: 'ingestWorkers',
  VIGIL_KEY_GROUPS: 'keyGroups',
  VIGIL_MAX_FRAME_BYTES: 'maxFrameBytes',
  VIGIL_MAX_BATCH_EVENTS: 'maxBatchEvents',
  VIGIL_MAX_EVENT_DEPTH: 'maxEventDepth',
  VIGIL_MAX_EVENT_KEYS: 'maxEventKeys',
  VIGIL_CREDIT: 'credit',
  VIGIL_IDLE_TIMEOUT_SEC: 'idleTimeoutSec',
  VIGIL_NODE_ID: 'nodeId',
  VIGIL_ADVERTISE_URL: 'advertiseUrl',
  VIGIL_LEASE_MS: 'leaseMs',
  VIGIL_CLUSTER_SLOTS: 'clusterSlots',
};

/** The environment variable behind each setting (documented in the README, checked by tests). */
export const CONFIG_ENV = ENV;

/** Clinical settings (actors/config.ts) that an environment variable may set too: path under `clinical`. */
export const CLINICAL_ENV: Record<string, readonly string[]> = {
  VIGIL_BACKFILL_HORIZON_MS: ['patient', 'backfillHorizonMs'],
};

/** `clinical` with the CLINICAL_ENV variables set in `env` written in (copies, never the caller's objects). */
function withClinicalEnv(clinical: unknown, env: NodeJS.ProcessEnv): unknown {
  let out = clinical;
  for (const [name, path] of Object.entries(CLINICAL_ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const root: Record<string, unknown> = out !== null && typeof out === 'object' && !Array.isArray(out) ? { ...(out as Record<string, unknown>) } : {};
    let at = root;
    for (const k of path.slice(0, -1)) {
      const next = at[k];
      at = at[k] = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    }
    // Numbers as numbers; anything else stays text, which the schema refuses naming the variable.
    at[path.at(-1)!] = /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
    out = root;
  }
  return out;
}

/**
 * Validates at start the clinical settings an environment variable may set (the hosts would only
 * fail later, naming no variable); the others are checked where the actors are created.
 */
function checkClinical(clinical: unknown, env: NodeJS.ProcessEnv): void {
  const r = clinicalConfigSchema.safeParse(clinical ?? {});
  if (r.success) return;
  for (const i of r.error.issues) {
    const path = i.path.map(String).join('.');
    const entry = Object.entries(CLINICAL_ENV).find(([, p]) => p.join('.') === path);
    if (!entry) continue;
    const fromEnv = env[entry[0]] !== undefined && env[entry[0]] !== '';
    throw new ConfigError(`invalid setting clinical.${path}${fromEnv ? ` (${entry[0]})` : ''}: ${i.message}`);
  }
}

// One ConfigError for the node config and the contract files; exported here too for callers of this module.
export { ConfigError };

export function parseNodeConfig(file: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, overrides: Partial<NodeConfig> = {}): NodeConfig {
  const merged: Record<string, unknown> = { ...file };
  for (const [k, key] of Object.entries(ENV)) {
    const v = env[k];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  Object.assign(merged, overrides);
  if (Object.keys(CLINICAL_ENV).some((n) => env[n] !== undefined && env[n] !== '')) merged.clinical = withClinicalEnv(merged.clinical, env);
  const r = nodeConfigSchema.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0]!;
    if (i.code === 'unrecognized_keys') throw new ConfigError(`unknown setting${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')} (the settings are listed in the README)`);
    const key = String(i.path[0] ?? '');
    const envName = Object.entries(ENV).find(([, v]) => v === key)?.[0];
    throw new ConfigError(`invalid setting ${key || '(root)'}${envName ? ` (${envName})` : ''}: ${i.message}`);
  }
  checkClinical(r.data.clinical, env);
  return r.data;
}

/**
 * The settings of a config file's text: JSON when the name ends in .json, else YAML (which reads
 * JSON too, so a JSON file under another name still works). YAML 1.2, as the `yaml` package reads
 * it by default: `off` stays the string "off" and a repeated key is an error.
 */
export function parseConfigText(text: string, path: string): Record<string, unknown> {
  const json = extname(path).toLowerCase() === '.json';
  let doc: unknown;
  try {
    doc = json ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // The yaml package appends a code excerpt after the first line; the first line names the spot.
    const first = (err as Error).message.split('\n')[0]!.replace(/:$/, '');
    throw new ConfigError(`VIGIL_CONFIG ${path}: not valid ${json ? 'JSON' : 'YAML'}: ${first}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`VIGIL_CONFIG ${path}: the file must hold a mapping of settings (e.g. port: 8080), not ${Array.isArray(doc) ? 'a list' : `a ${typeof doc}`}`);
  }
  return doc as Record<string, unknown>;
}

/** URL schemes each store's client speaks; any other is refused at start, naming the setting. */
const URL_SCHEMES: readonly [key: 'natsUrl' | 'redisUrl' | 'clickhouseUrl', env: string, schemes: readonly string[]][] = [
  ['natsUrl', 'VIGIL_NATS_URL', ['nats:', 'tls:']],
  ['redisUrl', 'VIGIL_REDIS_URL', ['redis:', 'rediss:']],
  ['clickhouseUrl', 'VIGIL_CLICKHOUSE_URL', ['http:', 'https:']],
];

/**
 * Refuses store URLs whose scheme the client would misread (an http:// NATS URL is dialled as
 * NATS anyway). Kept out of the schema so tools that only read a configuration (the compose
 * checks) can still report such a URL themselves.
 */
export function checkStoreUrls(config: Pick<NodeConfig, 'natsUrl' | 'redisUrl' | 'clickhouseUrl'>): void {
  for (const [key, envName, schemes] of URL_SCHEMES) {
    const v = config[key];
    if (v === undefined) continue;
    const scheme = new URL(v).protocol;
    if (!schemes.includes(scheme)) {
      throw new ConfigError(`invalid setting ${key} (${envName}): a ${schemes.map((s) => `${s}//`).join(' or ')} URL is needed, not ${scheme}//`);
    }
  }
}

export async function loadNodeConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<NodeConfig> = {}): Promise<NodeConfig> {
  let file: Record<string, unknown> = {};
  const path = env.VIGIL_CONFIG;
  if (path) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`VIGIL_CONFIG ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a file' : (err as Error).message}`);
    }
    file = parseConfigText(text, path);
  }
  const config = parseNodeConfig(file, env, overrides);
  checkStoreUrls(config);
  return config;
}
