import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTenantConfigDir, registryFromConfig, type LoadedConfig } from '../../actors/contracts/load.js';
import { emptyValidated, type ActorEvent, type ContractRegistry, type ValidatedBatch } from '../../actors/contracts/registry.js';

// Seed 004: "add schema file, add rule file, update tenant config; no code change". Everything
// the acme tenant can do with ventilator.reading below comes from the files in deploy/config.
const CONFIG_DIR = fileURLToPath(new URL('../../deploy/config', import.meta.url));
const NOW = Date.UTC(2026, 10, 21, 8, 0, 0);

type Obj = Record<string, unknown>;

const ventilator = (p: Obj = {}): Obj => ({ patient_id: 'pat-9', peep_cm_h2o: 5, fio2: 0.4, tidal_volume_ml: 450, mode: 'VC', ...p });
const envelope = (tenant: string, eventType: string, payload: Obj, over: Obj = {}): Obj => ({
  event_id: 'ev-1', tenant_id: tenant, event_type: eventType, schema_version: 1, event_time: NOW - 5_000,
  device_id: 'vent-3', payload, ...over,
});

let loaded: LoadedConfig;
let registry: ContractRegistry;
beforeAll(async () => {
  loaded = await loadTenantConfigDir(CONFIG_DIR);
  registry = registryFromConfig(loaded);
});

function run(tenant: string, items: unknown[]): ValidatedBatch {
  const out = emptyValidated();
  registry.validate(items, tenant, NOW, out);
  return out;
}

function rejectedAs(tenant: string, event: Obj): { code: string; message: string } {
  const out = run(tenant, [event]);
  expect(out.events).toEqual([]);
  expect(out.rejected).toHaveLength(1);
  return out.rejected[0]!;
}

describe('deploy/config onboards event types without code', () => {
  it('loads the example tenants', () => {
    expect(Object.keys(loaded.tenants).sort()).toEqual(['acme', 'demo']);
    expect(loaded.tenants.acme!.eventTypes.map((t) => `${t.eventType} v${t.schemaVersion}`).sort()).toEqual(['infusion.pump v1', 'ventilator.reading v1']);
    expect(loaded.tenants.demo!.eventTypes).toEqual([]);
    // Tokens are stored hashed: the example's plaintext is acme-example-token-change-me.
    expect(loaded.tenants.acme!.tokens).toEqual(['sha256:51890185831b96a0fa724e04a895db028521468f1a1d02748a2734eb06ee27a8']);
  });

  it('acme: a ventilator.reading validates and routes to the patient actor by patient_id, handled generically', () => {
    const payload = ventilator({ resp_rate_set: 14, alarm: false });
    const out = run('acme', [envelope('acme', 'ventilator.reading', payload)]);
    expect(out.rejected).toEqual([]);
    expect(out.inputIndex).toEqual([0]);
    const body: ActorEvent = { id: 'ev-1', type: 'ventilator.reading', h: 'generic', v: 1, p: payload };
    expect(out.events).toEqual([{ tenant: 'acme', kind: 'patient', id: 'pat-9', time: NOW - 5_000, body }]);
  });

  it('acme: infusion.pump, the second configured type, routes to the patient too', () => {
    const payload = { patient_id: 'pat-4', drug: 'noradrenaline', rate_ml_h: 4.5, status: 'running' };
    const out = run('acme', [envelope('acme', 'infusion.pump', payload)]);
    expect(out.rejected).toEqual([]);
    expect(out.events[0]).toMatchObject({ kind: 'patient', id: 'pat-4', body: { type: 'infusion.pump', h: 'generic' } });
  });

  it('acme keeps every built-in type', () => {
    const out = run('acme', [envelope('acme', 'vitals.observation', { patient_id: 'pat-9', heart_rate: 88 })]);
    expect(out.rejected).toEqual([]);
    expect(out.events[0]).toMatchObject({ kind: 'patient', id: 'pat-9', body: { h: 'vitals' } });
  });

  it('demo does not know the type: it is acme configuration, not a global one', () => {
    const r = rejectedAs('demo', envelope('demo', 'ventilator.reading', ventilator()));
    expect(r.code).toBe('unknown_event_type');
    expect(r.message).toContain('ventilator.reading');
  });

  it('a value outside a rules-file range is out_of_range, naming the field', () => {
    const r = rejectedAs('acme', envelope('acme', 'ventilator.reading', ventilator({ peep_cm_h2o: 45 })));
    expect(r.code).toBe('out_of_range');
    expect(r.message).toContain('payload.peep_cm_h2o');
  });

  it('a value outside a schema bound is invalid_value: FiO2 below room air', () => {
    const r = rejectedAs('acme', envelope('acme', 'ventilator.reading', ventilator({ fio2: 0.2 })));
    expect(r.code).toBe('invalid_value');
    expect(r.message).toContain('payload.fio2');
  });

  it('a mode outside the schema enum is invalid_enum', () => {
    const r = rejectedAs('acme', envelope('acme', 'ventilator.reading', ventilator({ mode: 'SIMV' })));
    expect(r.code).toBe('invalid_enum');
    expect(r.message).toContain('payload.mode');
    expect(r.message).toContain('"VC", "PC", "PS"');
  });

  it('a missing required field and the missing routing key are missing_field', () => {
    const noFio2 = ventilator();
    delete noFio2.fio2;
    expect(rejectedAs('acme', envelope('acme', 'ventilator.reading', noFio2))).toMatchObject({ code: 'missing_field', message: expect.stringContaining('payload.fio2') });
    const noPatient = ventilator();
    delete noPatient.patient_id;
    expect(rejectedAs('acme', envelope('acme', 'ventilator.reading', noPatient))).toMatchObject({ code: 'missing_field', message: expect.stringContaining('payload.patient_id') });
  });

  it('publishes the same contract as zod', () => {
    const schema = registry.zodFor('acme', 'ventilator.reading', 1)!;
    expect(schema.safeParse(ventilator()).success).toBe(true);
    expect(schema.safeParse(ventilator({ peep_cm_h2o: 45 })).success).toBe(false);
    expect(registry.zodFor('demo', 'ventilator.reading', 1)).toBeUndefined();
  });
});

// ------------------------------------------------------------------ broken configurations

const tmpRoots: string[] = [];
afterAll(async () => {
  await Promise.all(tmpRoots.map((d) => rm(d, { recursive: true, force: true })));
});

const goodSchema = {
  fields: {
    patient_id: { type: 'string', required: true },
    level: { type: 'number', min: 0 },
    mode: { type: 'string', enum: ['a', 'b'] },
  },
};
const goodType = {
  event_type: 'pump.reading', schema_version: 1, schema: 'schemas/pump.json', rules: 'rules/pump.json',
  route: { actor: 'patient', key: 'patient_id' },
};

/** Writes a config directory; a string value is written verbatim, anything else as JSON. */
async function configDir(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vigil-config-'));
  tmpRoots.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** A valid layout for tenant t1 with one type, each part overridable. */
function layout(over: { types?: unknown[]; schema?: unknown; rules?: unknown; tenant?: Obj; extra?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    'tenants/t1.json': { tenant_id: 't1', event_types: over.types ?? [goodType], ...over.tenant },
    'schemas/pump.json': over.schema ?? goodSchema,
    'rules/pump.json': over.rules ?? { ranges: { level: [0, 10] } },
    ...over.extra,
  };
}

/** Loads and expects an error starting with `<file>: <field>:`. */
async function expectError(files: Record<string, unknown>, file: string, field: string, more?: string): Promise<void> {
  const dir = await configDir(files);
  const err = await loadTenantConfigDir(dir).then(() => null, (e: unknown) => e as Error);
  expect(err, 'the configuration loaded').toBeInstanceOf(Error);
  const prefix = field ? `${path.join(dir, file)}: ${field}:` : `${path.join(dir, file)}:`;
  expect(err!.message.startsWith(prefix), `${JSON.stringify(err!.message)} should start with ${JSON.stringify(prefix)}`).toBe(true);
  if (more) expect(err!.message).toContain(more);
}

describe('a broken configuration fails to load with a message naming the file and the field', () => {
  it('the valid baseline loads (so every failure below is the one change)', async () => {
    const l = await loadTenantConfigDir(await configDir(layout({ tenant: { tokens: ['tok-a'] } })));
    expect(l.tenants.t1!.eventTypes).toHaveLength(1);
    expect(l.tenants.t1!.tokens).toEqual(['tok-a']);
  });

  it('rules naming a field the schema lacks', async () => {
    await expectError(layout({ rules: { ranges: { pressure: [0, 5] } } }), 'rules/pump.json', 'ranges.pressure', 'schemas/pump.json');
    await expectError(layout({ rules: { required: ['level', 'nope'] } }), 'rules/pump.json', 'required.1');
    await expectError(layout({ rules: { enums: { colour: ['red'] } } }), 'rules/pump.json', 'enums.colour');
  });

  it('route.key not in the schema', async () => {
    await expectError(layout({ types: [{ ...goodType, route: { actor: 'patient', key: 'bed_id' } }] }), 'tenants/t1.json', 'event_types.0.route.key', 'bed_id');
  });

  it('route.key naming an optional or non-string field', async () => {
    await expectError(layout({ types: [{ ...goodType, route: { actor: 'patient', key: 'level' } }] }), 'tenants/t1.json', 'event_types.0', 'must be a required string field');
  });

  it('the same type and version twice', async () => {
    await expectError(layout({ types: [goodType, { ...goodType, description: 'again' }] }), 'tenants/t1.json', 'event_types.1.schema_version', 'event_types.0');
  });

  it('redefining a built-in type\'s version', async () => {
    await expectError(layout({ types: [{ ...goodType, event_type: 'vitals.observation' }] }), 'tenants/t1.json', 'event_types.0.schema_version', 'built in');
  });

  it('a new version of a built-in type is fine, and v1 stays', async () => {
    const l = await loadTenantConfigDir(await configDir(layout({ types: [{ ...goodType, event_type: 'vitals.observation', schema_version: 2 }] })));
    const reg = registryFromConfig(l);
    const out = emptyValidated();
    reg.validate([
      envelope('t1', 'vitals.observation', { patient_id: 'p', heart_rate: 70 }),
      envelope('t1', 'vitals.observation', { patient_id: 'p', level: 3 }, { schema_version: 2 }),
    ], 't1', NOW, out);
    expect(out.rejected).toEqual([]);
    expect(out.events.map((e) => (e.body as ActorEvent).h)).toEqual(['vitals', 'generic']);
  });

  it('a schema file that is not a PayloadSpec', async () => {
    await expectError(layout({ schema: { fields: { patient_id: { type: 'string', required: true }, level: { type: 'float' } } } }), 'schemas/pump.json', 'fields.level.type');
    await expectError(layout({ schema: { fields: { patient_id: { type: 'string', required: true } }, extra: 1 } }), 'schemas/pump.json', '(root)');
  });

  it('a field named after an Object.prototype member', async () => {
    await expectError(layout({ schema: { fields: { ...goodSchema.fields, constructor: { type: 'string' } } } }), 'schemas/pump.json', 'fields.constructor', 'reserved');
    await expectError(layout({ schema: '{"fields": {"patient_id": {"type": "string", "required": true}, "__proto__": {"type": "number"}}}' }), 'schemas/pump.json', '', '__proto__');
  });

  it('a rules file that is not a RulesSpec', async () => {
    await expectError(layout({ rules: { ranges: { level: [0] } } }), 'rules/pump.json', 'ranges.level');
    await expectError(layout({ rules: { maximum: { level: 3 } } }), 'rules/pump.json', '(root)');
  });

  it('rules that contradict the schema', async () => {
    await expectError(layout({ rules: { ranges: { mode: [0, 1] } } }), 'tenants/t1.json', 'event_types.0', 'a range needs a number');
    await expectError(layout({ rules: { ranges: { level: [-10, -1] } } }), 'tenants/t1.json', 'event_types.0', 'range is empty');
    await expectError(layout({ rules: { enums: { mode: ['a', 'c'] } } }), 'tenants/t1.json', 'event_types.0', '["c"]');
    await expectError(layout({ rules: { enums: { level: ['high'] } } }), 'tenants/t1.json', 'event_types.0', 'not a valid number');
  });

  it('invalid JSON', async () => {
    await expectError(layout({ rules: '{"ranges": {"level": [0, 10]},}' }), 'rules/pump.json', '', 'invalid JSON');
    await expectError(layout({ extra: { 'tenants/t2.json': '{ tenant_id: t2 }' } }), 'tenants/t2.json', '', 'invalid JSON');
  });

  it('a schema or rules file that does not exist, or lies outside the directory', async () => {
    await expectError(layout({ types: [{ ...goodType, schema: 'schemas/missing.json' }] }), 'tenants/t1.json', 'event_types.0.schema', 'ENOENT');
    await expectError(layout({ types: [{ ...goodType, rules: '../rules.json' }] }), 'tenants/t1.json', 'event_types.0.rules', 'outside');
    await expectError(layout({ types: [{ ...goodType, schema: 'schemas/pump.yaml' }] }), 'tenants/t1.json', 'event_types.0.schema', '.json');
  });

  it('a tenant file with an unknown key, a bad route or handling, or a bad event_type name', async () => {
    await expectError(layout({ types: [{ ...goodType, rout: {} }] }), 'tenants/t1.json', 'event_types.0');
    await expectError(layout({ types: [{ ...goodType, route: { actor: 'ward', key: 'patient_id' } }] }), 'tenants/t1.json', 'event_types.0.route.actor');
    await expectError(layout({ types: [{ ...goodType, handling: 'fancy' }] }), 'tenants/t1.json', 'event_types.0.handling');
    await expectError(layout({ types: [{ ...goodType, event_type: 'Pump Reading' }] }), 'tenants/t1.json', 'event_types.0.event_type');
    await expectError(layout({ types: [{ ...goodType, schema_version: 0 }] }), 'tenants/t1.json', 'event_types.0.schema_version');
    await expectError(layout({ tenant: { tokens: 'abc' } }), 'tenants/t1.json', 'tokens');
  });

  it('a tenant_id that does not match the file name', async () => {
    await expectError(layout({ tenant: { tenant_id: 't2' } }), 'tenants/t1.json', 'tenant_id', 't1');
  });

  it('one token given to two tenants, without printing the token', async () => {
    const dir = await configDir(layout({
      tenant: { tokens: ['s3cret-token'] },
      extra: { 'tenants/t2.json': { tenant_id: 't2', tokens: ['other', 's3cret-token'] } },
    }));
    const err = await loadTenantConfigDir(dir).then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toMatch(new RegExp(`^${path.join(dir, 'tenants/t2.json').replace(/[.\\]/g, '\\$&')}: tokens\\.1: .*tenant t1`));
    expect(err?.message).not.toContain('s3cret-token');
  });

  it('a YAML tenant file is refused, not skipped', async () => {
    await expectError(layout({ extra: { 'tenants/t2.yaml': 'tenant_id: t2\n' } }), 'tenants/t2.yaml', '', 'YAML is not supported');
  });

  it('no tenants directory', async () => {
    const dir = await configDir({ 'schemas/pump.json': goodSchema });
    await expect(loadTenantConfigDir(dir)).rejects.toThrow(`${path.join(dir, 'tenants')}: cannot read`);
  });
});
