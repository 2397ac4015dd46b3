/**
 * Tenant configuration from a directory: onboarding a tenant or an event type is a change of
 * files, never of code (add a schema file, add a rules file, list the type in the tenant file).
 *
 *   <dir>/tenants/<tenant>.json   one file per tenant; the file name is the tenant id
 *     {
 *       "tenant_id": "acme",
 *       "event_types": [{
 *         "event_type": "ventilator.reading",
 *         "schema_version": 1,
 *         "schema": "schemas/ventilator.reading.v1.json",   // relative to <dir>
 *         "rules": "rules/ventilator.reading.v1.json",       // optional
 *         "route": { "actor": "patient" | "procedure", "key": "<required string payload field>" },
 *         "handling": "vitals" | "biometric" | "telemetry" | "generic",  // optional, default generic
 *         "description": "..."                                // optional
 *       }],
 *       "tokens": ["..."]                                     // optional
 *     }
 *   <dir>/schemas/*.json          a PayloadSpec (spec.ts payloadSpecSchema)
 *   <dir>/rules/*.json            a RulesSpec (spec.ts rulesSpecSchema)
 *
 * JSON only: the service takes no YAML dependency, and a .yaml/.yml tenant file is an error
 * rather than silently skipped. Files in tenants/ that are neither are ignored (READMEs).
 * Every error names the file and the field inside it, because whoever reads it is editing
 * configuration, not code.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../runtime/errors.js';
import { BUILTIN_EVENT_TYPES, type EventTypeDefinition } from './builtin.js';
import { ContractRegistry, eventTypeConfigSchema, eventTypeFromConfig, type RegistryOptions } from './registry.js';
import { payloadSpecSchema, rulesSpecSchema, type PayloadSpec, type RulesSpec } from './spec.js';

export interface LoadedTenant {
  eventTypes: EventTypeDefinition[];
  tokens: string[];
}

export interface LoadedConfig {
  tenants: Record<string, LoadedTenant>;
}

const relativeJsonPath = z.string().min(1).regex(/\.json$/, 'must name a .json file');

/** The tenant file's view of an event type: schema and rules by path instead of inline. */
const tenantEventTypeSchema = eventTypeConfigSchema.extend({
  schema: relativeJsonPath,
  rules: relativeJsonPath.optional(),
});

const tenantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, "_" and "-", at most 64')
  // Tenant ids become object keys (here and downstream); "constructor" would collide.
  .refine((t) => !(t in Object.prototype), { message: 'is a reserved name' });

export const tenantFileSchema = z
  .object({
    tenant_id: tenantIdSchema,
    event_types: z.array(tenantEventTypeSchema).default([]),
    tokens: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type TenantFile = z.input<typeof tenantFileSchema>;


function fail(file: string, field: string, message: string): never {
  throw new ConfigError(field ? `${file}: ${field}: ${message}` : `${file}: ${message}`);
}

function firstIssue(file: string, err: z.ZodError): never {
  const i = err.issues[0]!;
  // A bad record key comes back as "Invalid key in record"; the reason is one level down.
  const inner = i.code === 'invalid_key' ? i.issues[0] : undefined;
  const message = inner ? `key ${inner.message}` : i.message;
  fail(file, i.path.map(String).join('.') || '(root)', message);
}

async function readJson(file: string, fromFile: string, fromField: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    fail(fromFile, fromField, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    // JSON.parse keeps "__proto__" as an own key, which zod's records then drop without a
    // word; a field silently missing from a contract is worse than refusing the file.
    return JSON.parse(text, (k: string, v: unknown) => {
      if (k === '__proto__') throw new SyntaxError('the key "__proto__" is not allowed');
      return v;
    });
  } catch (e) {
    fail(file, '', `invalid JSON: ${(e as Error).message}`);
  }
}

/** Resolves a path from a tenant file against `dir`, refusing one that leaves it. */
function inside(dir: string, rel: string, fromFile: string, field: string): { abs: string; shown: string } {
  const abs = path.resolve(dir, rel);
  const r = path.relative(path.resolve(dir), abs);
  if (r === '' || r.startsWith('..') || path.isAbsolute(r)) fail(fromFile, field, `${JSON.stringify(rel)} is outside the configuration directory`);
  return { abs, shown: path.join(dir, rel) };
}

export async function loadTenantConfigDir(dir: string): Promise<LoadedConfig> {
  const tenantsDir = path.join(dir, 'tenants');
  let names: string[];
  try {
    names = (await readdir(tenantsDir)).sort();
  } catch (e) {
    throw new ConfigError(`${tenantsDir}: cannot read the tenants directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // Two types may share a schema or rules file; read and check each once.
  const schemas = new Map<string, Promise<PayloadSpec>>();
  const rulesFiles = new Map<string, Promise<RulesSpec>>();
  const loadSpec = <T>(cache: Map<string, Promise<T>>, zs: z.ZodType<T>, rel: string, fromFile: string, field: string): Promise<T> => {
    const { abs, shown } = inside(dir, rel, fromFile, field);
    let p = cache.get(abs);
    if (!p) {
      p = readJson(abs, fromFile, field).then((raw) => {
        const r = zs.safeParse(raw);
        if (!r.success) firstIssue(shown, r.error);
        return r.data;
      });
      cache.set(abs, p);
    }
    return p;
  };

  const tenants: Record<string, LoadedTenant> = {};
  const tokenOwner = new Map<string, string>();
  for (const name of names) {
    const file = path.join(tenantsDir, name);
    if (/\.ya?ml$/i.test(name)) fail(file, '', 'YAML is not supported; write the tenant file as JSON');
    if (!name.endsWith('.json')) continue;
    const parsed = tenantFileSchema.safeParse(await readJson(file, file, ''));
    if (!parsed.success) firstIssue(file, parsed.error);
    const tf = parsed.data;
    const stem = name.slice(0, -'.json'.length);
    if (tf.tenant_id !== stem) fail(file, 'tenant_id', `${JSON.stringify(tf.tenant_id)} must match the file name ${JSON.stringify(stem)}`);

    const eventTypes: EventTypeDefinition[] = [];
    const seen = new Map<string, number>();
    for (let i = 0; i < tf.event_types.length; i++) {
      const t = tf.event_types[i]!;
      const at = `event_types.${i}`;
      const key = `${t.event_type} v${t.schema_version}`;
      const prev = seen.get(key);
      if (prev !== undefined) fail(file, `${at}.schema_version`, `${key} is already defined at event_types.${prev}`);
      seen.set(key, i);
      if (BUILTIN_EVENT_TYPES.some((b) => b.eventType === t.event_type && b.schemaVersion === t.schema_version)) {
        fail(file, `${at}.schema_version`, `${key} is built in; add a new schema_version instead`);
      }

      const schema = await loadSpec(schemas, payloadSpecSchema, t.schema, file, `${at}.schema`);
      const schemaShown = path.join(dir, t.schema);
      const fieldNames = Object.keys(schema.fields);
      const has = (f: string): boolean => Object.hasOwn(schema.fields, f);
      if (!has(t.route.key)) fail(file, `${at}.route.key`, `${JSON.stringify(t.route.key)} is not a field of ${schemaShown} (fields: ${fieldNames.join(', ')})`);

      let rules: RulesSpec | undefined;
      if (t.rules !== undefined) {
        rules = await loadSpec(rulesFiles, rulesSpecSchema, t.rules, file, `${at}.rules`);
        const rulesShown = path.join(dir, t.rules);
        // Checked here rather than left to mergeSpec so the message points into the rules file.
        (rules.required ?? []).forEach((f, j) => {
          if (!has(f)) fail(rulesShown, `required.${j}`, `${JSON.stringify(f)} is not a field of ${schemaShown}`);
        });
        for (const section of ['ranges', 'enums'] as const) {
          for (const f of Object.keys(rules[section] ?? {})) {
            if (!has(f)) fail(rulesShown, `${section}.${f}`, `${JSON.stringify(f)} is not a field of ${schemaShown}`);
          }
        }
      }

      const { schema: _s, rules: _r, ...rest } = t;
      eventTypes.push(eventTypeFromConfig({ ...rest, schema, ...(rules ? { rules } : {}) }, `${file}: ${at}`));
    }

    const tokens = tf.tokens ?? [];
    tokens.forEach((tok, j) => {
      const owner = tokenOwner.get(tok);
      // Never print the token itself: this message ends up in logs.
      if (owner !== undefined) fail(file, `tokens.${j}`, `the same token is already given to tenant ${owner}`);
      tokenOwner.set(tok, tf.tenant_id);
    });
    tenants[tf.tenant_id] = { eventTypes, tokens };
  }
  return { tenants };
}

export function registryFromConfig(loaded: LoadedConfig, opts: RegistryOptions = {}): ContractRegistry {
  const byTenant: Record<string, readonly EventTypeDefinition[]> = {};
  for (const [tenant, t] of Object.entries(loaded.tenants)) byTenant[tenant] = t.eventTypes;
  return new ContractRegistry(byTenant, opts);
}
