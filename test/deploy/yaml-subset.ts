// A strict reader for the small YAML subset the deployment files are written in
// (docker-compose.yml, deploy/prometheus/*.yml without block scalars, deploy/grafana/**).
// The `yaml` library (YAML 1.2, strict, unique keys) parses; this module walks its nodes and
// refuses, with the file and line, what the subset leaves out:
//
//   - allowed: block maps and block lists indented with spaces (`- key: value` may start a map),
//     plain / 'single-quoted' / "double-quoted" (JSON escapes only) scalars on one line,
//     one-line [flow, "lists"] of scalars, comments;
//   - refused: anchors, aliases, tags, merge keys (<<), explicit keys (?), block scalars (| >),
//     {flow maps}, nested flow collections, multi-line scalars, document markers and directives
//     (--- ... %), tabs in indentation, duplicate keys (also "1" next to 1), list items at their
//     key's indentation, `- - ` lists, a document not starting at column 0 or not a map/list;
//   - refused as ambiguous: plain scalars that YAML 1.1 and 1.2 readers disagree on (yes/no/on/off,
//     8080:8080, 0755, 0x1F, 1e3, .5, dates, True/NULL...): those must be quoted, so every
//     reader of these files (docker compose, Prometheus, Grafana, PyYAML) sees the same value.
//
// Plain true/false/null/~ and decimal numbers are typed as in YAML 1.2; everything else is a
// string. Map keys are kept as written (`8080:` is the key "8080").
import { isAlias, isMap as isYamlMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type ParsedNode, type YAMLError } from 'yaml';

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };
export type YamlMap = { [key: string]: YamlValue };

export class YamlSubsetError extends Error {
  override name = 'YamlSubsetError';
}

const AMBIGUOUS_PLAIN = [
  // YAML 1.1 booleans that YAML 1.2 (docker compose, Prometheus, Grafana) reads as strings.
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/,
  // Capitalised booleans and nulls (1.2 core schema accepts them; keep one spelling).
  /^(?:True|TRUE|False|FALSE|Null|NULL)$/,
  // Sexagesimal numbers in YAML 1.1 (a classic: ports "8080:8080").
  /^[-+]?\d+(?::\d+)+$/,
  // Octal / hex / binary / leading zero / exponent / leading-dot numbers, infinities, NaN.
  /^[-+]?0\d/, /^[-+]?0[xob]/i, /^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$/, /^[-+]?\.\d/, /^[-+]?\.(?:inf|nan)$/i, /^\d+\.$/,
  // Timestamps.
  /^\d{4}-\d\d?-\d\d?(?:[Tt ].*)?$/,
];

const OUTSIDE = '(anchors, aliases, tags, block scalars and flow maps are outside the subset)';

/** The library's own refusals, in this module's words where a test pins them. */
function libraryMessage(e: YAMLError): string {
  switch (e.code) {
    case 'TAB_AS_INDENT':
      return 'tab in indentation';
    case 'MULTIPLE_DOCS':
      return 'document markers and directives are outside the subset (one document per file)';
    default:
      return `${e.message} (${e.code})`;
  }
}

export function parseYamlSubset(text: string, file = '<yaml>'): YamlValue {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    strict: true,
    uniqueKeys: true,
    prettyErrors: false,
    keepSourceTokens: true,
    lineCounter: lines,
  });
  const lineOf = (offset: number): number => Math.max(1, lines.linePos(offset).line);
  const fail = (offset: number, msg: string): never => {
    throw new YamlSubsetError(`${file}:${lineOf(offset)}: ${msg}`);
  };

  // Warnings too (an unresolved tag is one): nothing is guessed at. A duplicate key is left to
  // the walk below, which names the key and its line (the library's offset can be a blank line
  // before it); only keys the walk keeps apart (1 and 1.0) fall back to the library's report.
  const first = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0])[0];
  if (first && first.code !== 'DUPLICATE_KEY') fail(first.pos[0], libraryMessage(first));
  if (doc.directives.docStart || doc.directives.docEnd) {
    const marker = /^(?:---|\.\.\.)(?=\s|$)|^%/m.exec(text);
    fail(marker?.index ?? 0, 'document markers and directives are outside the subset');
  }

  function scalar(node: Scalar.Parsed): string | number | boolean | null {
    const [start, end] = node.range;
    if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) fail(start, `unsupported YAML syntax: block scalar ${OUTSIDE}`);
    if (lineOf(end) !== lineOf(start)) fail(start, `scalar continues onto line ${lineOf(end)} (multi-line scalars are outside the subset)`);
    if (node.type === Scalar.QUOTE_DOUBLE) {
      try {
        JSON.parse(text.slice(start, end));
      } catch {
        fail(start, `double-quoted string outside the subset (JSON escapes only): ${text.slice(start, end)}`);
      }
    }
    if (node.type === Scalar.PLAIN) {
      const plain = node.source;
      if (AMBIGUOUS_PLAIN.some((re) => re.test(plain))) fail(start, `ambiguous plain scalar "${plain}" (YAML 1.1 and 1.2 read it differently); quote it`);
      if (typeof node.value === 'number' && Number.isInteger(node.value) && !Number.isSafeInteger(node.value)) fail(start, `integer out of range "${plain}"; quote it`);
    }
    const v = node.value;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    return fail(start, `unexpected scalar ${s(node)}`);
  }

  function s(node: ParsedNode): string {
    return JSON.stringify(text.slice(node.range[0], node.range[1]));
  }

  function value(node: ParsedNode | null, inFlow: boolean): YamlValue {
    if (node === null) return null;
    const start = node.range[0];
    if (isAlias(node)) return fail(start, `unsupported YAML syntax: alias *${node.source} ${OUTSIDE}`);
    if (node.anchor !== undefined) fail(start, `unsupported YAML syntax: anchor &${node.anchor} ${OUTSIDE}`);
    if (node.tag !== undefined) fail(start, `unsupported YAML syntax: tag ${node.tag} ${OUTSIDE}`);
    if (isScalar(node)) return scalar(node);
    if (inFlow) return fail(start, `nested flow collections are outside the subset: ${s(node)}`);

    if (isYamlMap(node)) {
      if (node.flow) return fail(start, `unsupported YAML syntax: flow map ${s(node)} ${OUTSIDE}`);
      const src = node.srcToken;
      for (const item of src?.type === 'block-map' ? src.items : []) {
        if (item.explicitKey) fail(item.start.find((tok) => tok.type === 'explicit-key-ind')?.offset ?? start, 'explicit keys (?) are outside the subset');
      }
      const out: YamlMap = {};
      for (const pair of node.items) {
        const k = pair.key;
        if (!isScalar(k)) return fail(k?.range[0] ?? start, 'map keys must be scalars');
        if (k.anchor !== undefined || k.tag !== undefined) fail(k.range[0], `unsupported YAML syntax in a key ${OUTSIDE}`);
        if (lineOf(k.range[1]) !== lineOf(k.range[0])) fail(k.range[0], 'multi-line keys are outside the subset');
        if (k.type === Scalar.PLAIN && k.source === '<<') fail(k.range[0], 'merge keys (<<) are outside the subset');
        const key = k.type === Scalar.PLAIN ? k.source : String(k.value);
        if (key === '') fail(k.range[0], 'empty key');
        // The library compares key values (1 and "1" differ); as object keys they collide.
        if (Object.prototype.hasOwnProperty.call(out, key)) fail(k.range[0], `duplicate key "${key}"`);
        const v = pair.value;
        if (isSeq(v) && !v.flow && lines.linePos(v.range[0]).col <= lines.linePos(k.range[0]).col) {
          fail(v.range[0], 'indent list items deeper than their key');
        }
        // defineProperty: a key "__proto__" stays a key.
        Object.defineProperty(out, key, { value: value(v, false), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }

    if (isSeq(node)) {
      if (node.flow) {
        if (lineOf(node.range[1]) !== lineOf(start)) fail(start, `flow list must be on one line: ${s(node)}`);
        return node.items.map((item) => value(item, true));
      }
      const src = node.srcToken;
      for (const item of src?.type === 'block-seq' ? src.items : []) {
        const dash = item.start.find((t) => t.type === 'seq-item-ind');
        if (dash && item.value?.type === 'block-seq' && lineOf(item.value.offset) === lineOf(dash.offset)) {
          fail(dash.offset, 'nested "- - " lists are outside the subset');
        }
      }
      return node.items.map((item) => value(item, false));
    }
    return fail(start, 'unexpected node');
  }

  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null && root.source === '')) return null;
  if (lines.linePos(root.range[0]).col !== 1) fail(root.range[0], 'the document must start at column 0');
  if (!isYamlMap(root) && !isSeq(root)) fail(root.range[0], `expected "key: value" or a list, found ${s(root)}`);
  const out = value(root, false);
  if (first) fail(first.pos[0], `duplicate key (${first.message})`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Typed access for tests: every step names the path it looked at, so a failure says where.

export function isMap(v: YamlValue | undefined): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function asMap(v: YamlValue | undefined, where: string): YamlMap {
  if (!isMap(v)) throw new Error(`${where}: expected a map, found ${JSON.stringify(v)}`);
  return v;
}

export function asList(v: YamlValue | undefined, where: string): YamlValue[] {
  if (!Array.isArray(v)) throw new Error(`${where}: expected a list, found ${JSON.stringify(v)}`);
  return v;
}

export function asString(v: YamlValue | undefined, where: string): string {
  if (typeof v !== 'string') throw new Error(`${where}: expected a string, found ${JSON.stringify(v)}`);
  return v;
}

export function asStrings(v: YamlValue | undefined, where: string): string[] {
  return asList(v, where).map((x, i) => asString(x, `${where}[${i}]`));
}
