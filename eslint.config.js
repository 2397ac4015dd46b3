import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// ---------------------------------------------------------------------------------------------
// Layering (DESIGN.md "Layers and folders"; issue 12).
//
// Flat config gives a rule ONE value per file: when two blocks match the same file and both set
// `no-restricted-imports`, the later block's options replace the earlier ones wholesale. That is
// how actors/ once lost its client-library ban. So the restrictions are data here, every folder's
// list is composed in JS from shared pieces, each file is matched by exactly one generated layering
// block, and `sealed()` refuses any other block that sets the layering rules.
//
// Specifiers are matched as written (regex over the import string, not a resolved path). Leaving a
// folder for a sibling always spells the sibling's name after `..` (or after `adapters/`), which is
// what the patterns look for; a false positive needs a path that does not exist, which tsc rejects
// anyway.
// ---------------------------------------------------------------------------------------------

const ROOT = dirname(fileURLToPath(import.meta.url));
const SOURCE_EXT = '{ts,tsx,mts,cts,js,mjs,cjs}';

const CLIENT_LIBRARIES = ['ioredis', 'nats', '@nats-io/*', '@clickhouse/client', 'uWebSockets.js', 'chdb', 'prom-client'];

const escape = (s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]+');
/** A package and any deep path into it (`nats`, `nats/lib/x`), not a package that merely starts alike. */
const packages = (names) => `^(?:${names.map(escape).join('|')})(?:/.*)?$`;
/** Any path with a segment named `dir` (`../actors/x.js`, `../../adapters/nats`). */
const topDir = (dir) => `(?:^|/)${escape(dir)}(?:/|$)`;
/** A sibling adapter folder, reached as `../<name>` or `.../adapters/<name>`. */
const adapterDir = (name) => `(?:^|/)(?:\\.\\.|adapters)/${escape(name)}(?:/|$)`;

/** Shared restrictions: the pieces every folder's list is composed from. */
const Ban = {
  clientLibraries: {
    regex: packages(CLIENT_LIBRARIES),
    message: 'Client libraries live in adapters/<thing>/ only; runtime/ and actors/ talk to them through runtime/ ports.',
  },
  workerPool: {
    regex: packages(['piscina']),
    message: 'actors/ do not run worker pools; piscina belongs to runtime/.',
  },
  actors: { regex: topDir('actors'), message: 'runtime/ does not know the clinical domain: it may not import actors/.' },
  adapters: { regex: topDir('adapters'), message: 'runtime/ and actors/ may not import adapters/; define a port in runtime/ports.ts instead.' },
  load: { regex: topDir('load'), message: 'actors/ imports runtime/ only, not load/.' },
  adapter: (from, to) => ({
    regex: adapterDir(to),
    message: `adapters/${from}/ may not import adapters/${to}/: one adapter does not know another; only adapters/compose/ ` +
      'wires them together. Move a shared type or helper to runtime/ (port) or into the one adapter that owns it.',
  }),
};

/**
 * Adapter folders allowed to import other adapter folders. Each entry is a design decision; keep
 * the list short and say why. Everything not listed here may import no other adapter.
 */
export const ADAPTER_IMPORTS_ALLOWED = Object.freeze({
  // The composition root (node.ts, cli.ts, config.ts, ...): the one place that knows every adapter.
  compose: '*',
  // uws/ is one transport serving the transport-neutral routes in http/. http/ itself imports no adapter.
  uws: ['http'],
});

/** Adapter folders on disk, plus folders being created that the rules must already cover. */
const ADAPTERS = [...new Set([
  ...readdirSync(join(ROOT, 'adapters'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name),
  'http',
])].sort();

function adapterBans(from) {
  const allowed = ADAPTER_IMPORTS_ALLOWED[from] ?? [];
  if (allowed === '*') return [];
  return ADAPTERS.filter((to) => to !== from && !allowed.includes(to)).map((to) => Ban.adapter(from, to));
}

/** One entry per folder; `bans` is the complete list for that folder, composed from `Ban`. */
const LAYERS = [
  { dir: 'runtime', bans: [Ban.clientLibraries, Ban.actors, Ban.adapters] },
  { dir: 'actors', bans: [Ban.clientLibraries, Ban.workerPool, Ban.adapters, Ban.load] },
  ...ADAPTERS.map((name) => ({ dir: `adapters/${name}`, bans: adapterBans(name), adapter: name })),
];

/**
 * Known violations in files other helpers are rewriting right now (issue 12). The default export
 * tolerates exactly these file -> adapter edges so `npm run lint` stays green meanwhile;
 * `strictConfig` (what test/unit/layering.test.ts checks) tolerates none. Delete an entry as soon
 * as its file is fixed; when the list is empty the two configs are identical.
 */
export const PENDING_LAYERING = Object.freeze([]);

const LAYER_RULES = ['no-restricted-imports', 'vigil-layering/no-restricted-dynamic-imports'];

/**
 * `no-restricted-imports` sees only static `import`/`export ... from`. This covers the other ways a
 * module gets named: `import('x')`, `typeof import('x')`, `import x = require('x')`, `require('x')`,
 * with the same pattern objects.
 */
const layeringPlugin = {
  meta: { name: 'vigil-layering' },
  rules: {
    'no-restricted-dynamic-imports': {
      meta: {
        type: 'problem',
        docs: { description: 'no-restricted-imports patterns, applied to dynamic imports and require' },
        schema: [{
          type: 'object',
          properties: { patterns: { type: 'array', items: { type: 'object', properties: { regex: { type: 'string' }, message: { type: 'string' } }, required: ['regex'], additionalProperties: false } } },
          additionalProperties: false,
        }],
        messages: { restricted: "'{{source}}' import is restricted from being used by a pattern. {{message}}" },
      },
      create(context) {
        const patterns = (context.options[0]?.patterns ?? []).map((p) => ({ re: new RegExp(p.regex, 'iu'), message: p.message ?? '' }));
        function check(node, source) {
          let value;
          if (source?.type === 'Literal' && typeof source.value === 'string') value = source.value;
          else if (source?.type === 'TemplateLiteral' && source.expressions.length === 0) value = source.quasis[0].value.cooked;
          if (value === undefined) return;
          const hit = patterns.find((p) => p.re.test(value));
          if (hit) context.report({ node, messageId: 'restricted', data: { source: value, message: hit.message } });
        }
        return {
          ImportExpression: (node) => check(node, node.source),
          TSImportType: (node) => check(node, node.source ?? node.argument?.literal),
          TSExternalModuleReference: (node) => check(node, node.expression),
          CallExpression: (node) => {
            if (node.callee.type === 'Identifier' && node.callee.name === 'require') check(node, node.arguments[0]);
          },
        };
      },
    },
  },
};

const layeringRules = (bans) => ({
  'no-restricted-imports': ['error', { patterns: bans.map(({ regex, message }) => ({ regex, message })) }],
  'vigil-layering/no-restricted-dynamic-imports': ['error', { patterns: bans.map(({ regex, message }) => ({ regex, message })) }],
});

const GENERATED = new WeakSet();

/** One block per folder (disjoint `files`), plus one per pending file carved out of its folder. */
function layeringBlocks(pending) {
  const blocks = [{ plugins: { 'vigil-layering': layeringPlugin } }];
  for (const layer of LAYERS) {
    const carved = pending.filter((p) => p.file.startsWith(`${layer.dir}/`));
    blocks.push({
      name: `vigil/layering/${layer.dir}`,
      files: [`${layer.dir}/**/*.${SOURCE_EXT}`],
      ...(carved.length > 0 ? { ignores: carved.map((p) => p.file) } : {}),
      rules: layeringRules(layer.bans),
    });
    for (const p of carved) {
      const tolerated = (ban) => layer.adapter !== undefined && p.allow.some((to) => ban.regex === adapterDir(to));
      blocks.push({
        name: `vigil/layering/pending/${p.file}`,
        files: [p.file],
        rules: layeringRules(layer.bans.filter((ban) => !tolerated(ban))),
      });
    }
  }
  for (const b of blocks) GENERATED.add(b);
  return blocks;
}

/** Fails config loading if any block but the generated ones sets a layering rule (it would replace them). */
export function sealed(blocks) {
  for (const b of blocks) {
    const stray = LAYER_RULES.filter((r) => b.rules !== undefined && r in b.rules);
    if (stray.length > 0 && !GENERATED.has(b)) {
      throw new Error(`eslint.config.js: block ${b.name ?? '(unnamed)'} sets ${stray.join(', ')}; ` +
        'that would replace the composed layering lists. Add a ban to LAYERS instead.');
    }
  }
  return blocks;
}

const base = [
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.vigil/**', 'load/reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly',
        URL: 'readonly', Buffer: 'readonly', performance: 'readonly', structuredClone: 'readonly',
        MessageChannel: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', globalThis: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use `as const` objects, not enum.' }],
    },
  },
];

/** The layering with no pending exceptions; test/unit/layering.test.ts lints against this. */
export const strictConfig = sealed(tseslint.config(...base, ...layeringBlocks([])));

export default sealed(tseslint.config(...base, ...layeringBlocks(PENDING_LAYERING)));
