// Layering is enforced by eslint.config.js (issue 12). This lints small snippets under virtual
// paths in every layer, with ESLint's Node API and the real config, and checks each import is
// flagged or not exactly as DESIGN.md's folder table says. The expectations are written out here
// on purpose, not read from the config, so a config that leaks (a block replacing another's
// restrictions, a pattern that stops matching) fails this test.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const STRICT = 'test/fixtures/layering/strict.config.js';
const MAIN = 'eslint.config.js';
const LAYER_RULES = new Set(['no-restricted-imports', 'vigil-layering/no-restricted-dynamic-imports']);

/** Every spelling that names a client library, deep paths and @nats-io/* included. */
const CLIENT_LIBRARIES = [
  'ioredis', 'nats', 'nats/lib/src/mod.js', '@nats-io/jetstream', '@nats-io/transport-node',
  '@clickhouse/client', 'uWebSockets.js', 'chdb', 'prom-client',
];
const ADAPTERS = ['clickhouse', 'compose', 'http', 'memory', 'nats', 'prometheus', 'redis', 'uws'] as const;
/** The only adapter -> adapter edges allowed besides compose/ -> anything. */
const ADAPTER_EXCEPTIONS: Readonly<Record<string, readonly string[]>> = { uws: ['http'] };
/** The pending carve-outs the default config may carry while other helpers finish (subset only). */
// Every former exception is gone (alertView moved to runtime/alert-view.ts): none may come back unseen.
const KNOWN_PENDING: Readonly<Record<string, readonly string[]>> = {};

/** Each way a module gets named; `m` is a unique identifier, `s` the specifier. */
const FORMS: Readonly<Record<string, (m: string, s: string) => string>> = {
  import: (m, s) => `import * as ${m} from '${s}';`,
  'import type': (m, s) => `import type * as ${m} from '${s}';`,
  'side-effect import': (_m, s) => `import '${s}';`,
  'export from': (m, s) => `export * as ${m} from '${s}';`,
  'export type from': (m, s) => `export type { X as ${m} } from '${s}';`,
  'import()': (m, s) => `export const ${m} = import('${s}');`,
  'typeof import()': (m, s) => `export type ${m} = typeof import('${s}');`,
  'import = require': (m, s) => `import ${m} = require('${s}');`,
  'require()': (m, s) => `export const ${m} = require('${s}');`,
};

interface Expect { readonly spec: string; readonly forbidden: boolean }

const eslints = new Map<string, ESLint>();
function eslintFor(config: string): ESLint {
  let e = eslints.get(config);
  if (e === undefined) {
    e = new ESLint({ cwd: root, overrideConfigFile: config });
    eslints.set(config, e);
  }
  return e;
}

/** Lints every spec in every form as one virtual file; returns one line per wrong verdict. */
async function verdicts(config: string, file: string, cases: readonly Expect[]): Promise<string[]> {
  const lines: { form: string; c: Expect }[] = [];
  const code: string[] = [];
  for (const [form, write] of Object.entries(FORMS)) {
    for (const c of cases) {
      code.push(write(`m${lines.length}`, c.spec));
      lines.push({ form, c });
    }
  }
  const [result] = await eslintFor(config).lintText(code.join('\n') + '\n', { filePath: join(root, file) });
  if (result === undefined) throw new Error('no lint result');
  const fatal = result.messages.filter((m: Linter.LintMessage) => m.fatal === true || m.ruleId === null);
  expect(fatal.map((m) => m.message)).toEqual([]);
  const flagged = new Set(result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.line));
  const wrong: string[] = [];
  lines.forEach(({ form, c }, i) => {
    const got = flagged.has(i + 1);
    if (got !== c.forbidden) wrong.push(`${file}: ${form} '${c.spec}' should be ${c.forbidden ? 'forbidden' : 'allowed'}`);
  });
  return wrong;
}

const forbid = (...specs: string[]): Expect[] => specs.map((spec) => ({ spec, forbidden: true }));
const allow = (...specs: string[]): Expect[] => specs.map((spec) => ({ spec, forbidden: false }));

/** [virtual file, path from its folder up to the repo root] */
const at = (dir: string, depth: number): [string, string] =>
  [`${dir}/${'sub/'.repeat(depth)}__layering_probe__.ts`, '../'.repeat(dir.split('/').length + depth)];

function runtimeCases(up: string): Expect[] {
  return [
    ...forbid(...CLIENT_LIBRARIES),
    ...forbid(`${up}actors/index.js`, `${up}actors/contracts/registry.js`, `${up}actors`),
    ...forbid(`${up}adapters/nats/feeds.js`, `${up}adapters/compose/node.js`, `${up}adapters/memory`),
    ...allow('piscina', 'comlink', 'zod', 'node:worker_threads', './ports.js', `${up}runtime/errors.js`),
  ];
}

function actorsCases(up: string): Expect[] {
  return [
    ...forbid(...CLIENT_LIBRARIES, 'piscina'),
    ...forbid(`${up}adapters/memory/index.js`, `${up}adapters/compose/alert-hub.js`, `${up}load/load.js`),
    // actors/contracts/load.ts is a domain module, not the load/ folder.
    ...allow('zod', `${up}runtime/ports.js`, `${up}runtime/actor.js`, './hash.js', './load.js', './contracts/load.js'),
  ];
}

function adapterCases(from: string, depth: number): Expect[] {
  const up = '../'.repeat(depth + 1); // from adapters/<from>/[sub/] up to adapters/
  const cases: Expect[] = [];
  for (const to of ADAPTERS) {
    if (to === from) continue;
    const forbidden = from !== 'compose' && !(ADAPTER_EXCEPTIONS[from] ?? []).includes(to);
    for (const spec of [`${up}${to}/index.js`, `${up}${to}`, `${up}../adapters/${to}/server.js`]) cases.push({ spec, forbidden });
  }
  return [
    ...cases,
    ...allow('./index.js', '../index.js', `${up}../runtime/ports.js`, `${up}../actors/ingest.js`, ...CLIENT_LIBRARIES),
  ];
}

describe.each([
  ['strict', STRICT],
  ['default (npm run lint)', MAIN],
])('layering, %s config', (_name, config) => {
  it.each([0, 2])('runtime/ (depth %i): no actors/, adapters/ or client library; piscina and comlink allowed', async (depth) => {
    const [file, up] = at('runtime', depth);
    expect(await verdicts(config, file, runtimeCases(up))).toEqual([]);
  });

  it.each([0, 1])('actors/ (depth %i): runtime/ only, no client library, no piscina, no load/', async (depth) => {
    const [file, up] = at('actors', depth);
    expect(await verdicts(config, file, actorsCases(up))).toEqual([]);
  });

  it.each(ADAPTERS.flatMap((a) => [[a, 0], [a, 1]] as const))(
    'adapters/%s/ (depth %i): no other adapter, except compose/ -> any and uws/ -> http/', async (adapter, depth) => {
      const [file] = at(`adapters/${adapter}`, depth);
      expect(await verdicts(config, file, adapterCases(adapter, depth))).toEqual([]);
    });

  it('test/, load/ and bin/ are not layered', async () => {
    for (const dir of ['test', 'load', 'bin']) {
      const [file, up] = at(dir, 0);
      const cases = allow(...CLIENT_LIBRARIES, `${up}adapters/compose/node.js`, `${up}actors/ingest.js`, `${up}runtime/runtime.js`);
      expect(await verdicts(config, file, cases)).toEqual([]);
    }
  });
});

interface ConfigModule {
  readonly default: readonly Linter.Config[];
  readonly strictConfig: readonly Linter.Config[];
  readonly PENDING_LAYERING: readonly { readonly file: string; readonly allow: readonly string[] }[];
  readonly sealed: (blocks: readonly Linter.Config[]) => readonly Linter.Config[];
}
// A runtime path, so tsc does not look for types of the plain-JS config.
const loadConfigModule = async (): Promise<ConfigModule> =>
  (await import(pathToFileURL(join(root, MAIN)).href)) as ConfigModule;

describe('layering config', () => {
  it('the default config carves out only known pending files, and only the named adapter edges', async () => {
    const { PENDING_LAYERING } = await loadConfigModule();
    expect(PENDING_LAYERING).toEqual([]);
    for (const p of PENDING_LAYERING) {
      expect(KNOWN_PENDING[p.file], `unexpected pending layering exception for ${p.file}`).toBeDefined();
      for (const to of p.allow) expect(KNOWN_PENDING[p.file]).toContain(to);
    }
    for (const p of PENDING_LAYERING) {
      const from = p.file.split('/')[1] ?? '';
      const cases = ADAPTERS.filter((to) => to !== from && !(ADAPTER_EXCEPTIONS[from] ?? []).includes(to))
        .map((to) => ({ spec: `../${to}/index.js`, forbidden: !p.allow.includes(to) }));
      expect(await verdicts(MAIN, p.file, cases)).toEqual([]);
      // The strict config tolerates nothing.
      const strict = cases.map((c) => ({ ...c, forbidden: true }));
      expect(await verdicts(STRICT, p.file, strict)).toEqual([]);
    }
  });

  it('refuses a block that would replace the composed restrictions', async () => {
    const { default: main, strictConfig, sealed } = await loadConfigModule();
    expect(() => sealed([...main])).not.toThrow();
    expect(() => sealed([...strictConfig])).not.toThrow();
    expect(() => sealed([...strictConfig, { files: ['actors/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [] }] } }]))
      .toThrow(/replace the composed layering lists/);
    expect(() => sealed([...main, { rules: { 'vigil-layering/no-restricted-dynamic-imports': 'off' } }]))
      .toThrow(/replace the composed layering lists/);
  });
});
