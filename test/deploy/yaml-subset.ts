// A strict reader for the small YAML subset the deployment files are written in
// (docker-compose.yml, deploy/prometheus/*.yml without block scalars, deploy/grafana/**):
//
//   - block maps (`key: value`, `key:` + a deeper-indented block) and block lists (`- item`,
//     `- key: value` starting a map), indented with spaces;
//   - scalars: plain, 'single-quoted', "double-quoted" (JSON escapes), and one-line
//     [flow, "lists"] of scalars;
//   - comments (whole-line, or after a space).
//
// Anything else is refused with the file and line, not guessed at: anchors, aliases, tags, merge
// keys, block scalars (| >), {flow maps}, multi-line scalars, documents (---), tabs, duplicate
// keys, and plain scalars that YAML 1.1 and 1.2 readers disagree on (yes/no/on/off, 8080:8080,
// 0755, dates): those must be quoted. Plain true/false/null/~ and decimal numbers are typed as
// in YAML 1.2; everything else is a string. (No YAML library is among the dependencies.)

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };
export type YamlMap = { [key: string]: YamlValue };

export class YamlSubsetError extends Error {
  override name = 'YamlSubsetError';
}

interface Line {
  /** 1-based line number in the file. */
  no: number;
  indent: number;
  text: string;
}

/** Removes a comment: `#` at the start or after whitespace, outside quotes. */
function stripComment(raw: string, fail: (msg: string) => never): string {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = null;
    } else if (quote === "'") {
      if (c === "'") {
        if (raw[i + 1] === "'") i++;
        else quote = null;
      }
    } else if (c === '#' && (i === 0 || raw[i - 1] === ' ')) {
      return raw.slice(0, i).trimEnd();
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[,:-]/.test(raw[i - 1]!))) {
      quote = c;
    }
  }
  if (quote) fail(`unterminated ${quote === '"' ? 'double' : 'single'}-quoted string`);
  return raw.trimEnd();
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

function plainScalar(s: string, fail: (msg: string) => never): YamlValue {
  if (s === '') return null;
  if (/^[&*!|>%@`{}\]]/.test(s)) fail(`unsupported YAML syntax at "${s}" (anchors, aliases, tags, block scalars and flow maps are outside the subset)`);
  if (s.startsWith('- ') || s === '-') fail(`unexpected list item "${s}"`);
  if (/:\s/.test(s) || s.endsWith(':')) fail(`ambiguous plain scalar "${s}" (contains ": "); quote it`);
  if (AMBIGUOUS_PLAIN.some((re) => re.test(s))) fail(`ambiguous plain scalar "${s}" (YAML 1.1 and 1.2 read it differently); quote it`);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (s === 'null' || s === '~') return null;
  if (/^[-+]?\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) fail(`integer out of range "${s}"; quote it`);
    return n;
  }
  if (/^[-+]?\d+\.\d+$/.test(s)) return Number(s);
  return s;
}

function quotedScalar(s: string, fail: (msg: string) => never): string {
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) fail(`malformed double-quoted string ${s}`);
    try {
      return JSON.parse(s) as string;
    } catch {
      return fail(`double-quoted string outside the subset (JSON escapes only): ${s}`);
    }
  }
  if (!s.endsWith("'") || s.length < 2) fail(`malformed single-quoted string ${s}`);
  const body = s.slice(1, -1);
  if (/'(?!')/.test(body.replace(/''/g, ''))) fail(`malformed single-quoted string ${s}`);
  return body.replace(/''/g, "'");
}

function scalar(s: string, fail: (msg: string) => never): YamlValue {
  if (s.startsWith('"') || s.startsWith("'")) return quotedScalar(s, fail);
  if (s.startsWith('[')) return flowList(s, fail);
  return plainScalar(s, fail);
}

/** `[a, "b", 'c']`: one line, scalars only. */
function flowList(s: string, fail: (msg: string) => never): YamlValue[] {
  if (!s.endsWith(']')) fail(`flow list must be on one line and end with "]": ${s}`);
  const body = s.slice(1, -1).trim();
  if (body === '') return [];
  const items: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote === '"') {
      cur += c;
      if (c === '\\') cur += body[++i] ?? '';
      else if (c === '"') quote = null;
    } else if (quote === "'") {
      cur += c;
      if (c === "'") {
        if (body[i + 1] === "'") cur += body[++i];
        else quote = null;
      }
    } else if (c === ',') {
      items.push(cur.trim());
      cur = '';
    } else {
      if ((c === '"' || c === "'") && cur.trim() === '') quote = c;
      if (c === '[' || c === '{' || c === ']' || c === '}') fail(`nested flow collections are outside the subset: ${s}`);
      cur += c;
    }
  }
  if (quote) fail(`unterminated string in flow list: ${s}`);
  items.push(cur.trim());
  return items.map((item) => {
    if (item === '') fail(`empty item in flow list: ${s}`);
    if (item.startsWith('"') || item.startsWith("'")) return quotedScalar(item, fail);
    if (/[#]/.test(item)) fail(`"#" in a plain flow item; quote it: ${s}`);
    return plainScalar(item, fail);
  });
}

/** Splits `key: rest` / `key:`; null when the line is not a map entry. */
function splitKey(text: string, fail: (msg: string) => never): { key: string; rest: string } | null {
  if (text.startsWith('"') || text.startsWith("'")) {
    const q = text[0]!;
    let end = -1;
    for (let i = 1; i < text.length; i++) {
      if (q === '"' && text[i] === '\\') i++;
      else if (text[i] === q) {
        if (q === "'" && text[i + 1] === "'") i++;
        else {
          end = i;
          break;
        }
      }
    }
    if (end < 0) fail(`unterminated quoted key: ${text}`);
    const after = text.slice(end + 1);
    if (!(after === ':' || after.startsWith(': '))) return null;
    return { key: quotedScalar(text.slice(0, end + 1), fail), rest: after.slice(1).trim() };
  }
  const m = /^([^\s:#[\]{},&*!|>'"%@`][^\s:]*)(?::(?: +(.*))?)$/.exec(text);
  if (!m) return null;
  if (m[1] === '<<') fail('merge keys (<<) are outside the subset');
  return { key: m[1]!, rest: (m[2] ?? '').trim() };
}

export function parseYamlSubset(text: string, file = '<yaml>'): YamlValue {
  const lines: Line[] = [];
  const raw = text.split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const no = i + 1;
    const fail = (msg: string): never => {
      throw new YamlSubsetError(`${file}:${no}: ${msg}`);
    };
    const r = raw[i]!;
    const lead = /^[ \t]*/.exec(r)![0];
    if (lead.includes('\t')) fail('tab in indentation');
    const body = stripComment(r.slice(lead.length), fail);
    if (body === '') continue;
    if (body === '---' || body === '...' || body.startsWith('--- ') || body.startsWith('%')) fail('document markers and directives are outside the subset');
    lines.push({ no, indent: lead.length, text: body });
  }
  if (lines.length === 0) return null;
  let pos = 0;

  const failAt = (line: Line | undefined, msg: string): never => {
    throw new YamlSubsetError(`${file}:${line?.no ?? raw.length}: ${msg}`);
  };
  const isItem = (t: string) => t === '-' || t.startsWith('- ');

  function parseBlock(indent: number): YamlValue {
    const first = lines[pos]!;
    if (first.indent !== indent) failAt(first, `expected indentation ${indent}, found ${first.indent}`);
    return isItem(first.text) ? parseList(indent) : parseMap(indent);
  }

  /** The value after `key:` or `-` when nothing follows on the line: a deeper block, or null. */
  function nested(parentIndent: number): YamlValue {
    const next = lines[pos];
    if (!next || next.indent <= parentIndent) {
      if (next && next.indent === parentIndent && isItem(next.text) ) {
        failAt(next, 'indent list items deeper than their key');
      }
      return null;
    }
    return parseBlock(next.indent);
  }

  function parseMap(indent: number): YamlMap {
    const out: YamlMap = {};
    while (pos < lines.length) {
      const line = lines[pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) failAt(line, `unexpected indentation (multi-line scalars are outside the subset)`);
      const fail = (msg: string): never => failAt(line, msg);
      if (isItem(line.text)) fail('a list item where a map key was expected');
      const kv = splitKey(line.text, fail);
      if (!kv) fail(`expected "key: value", found "${line.text}"`);
      const { key, rest } = kv!;
      if (Object.prototype.hasOwnProperty.call(out, key)) fail(`duplicate key "${key}"`);
      pos++;
      if (rest === '') {
        out[key] = nested(indent);
      } else {
        out[key] = scalar(rest, fail);
        const next = lines[pos];
        if (next && next.indent > indent) failAt(next, 'unexpected indentation after a scalar (multi-line scalars are outside the subset)');
      }
    }
    return out;
  }

  function parseList(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (pos < lines.length) {
      const line = lines[pos]!;
      if (line.indent < indent) break;
      if (line.indent > indent) failAt(line, 'unexpected indentation in a list');
      const fail = (msg: string): never => failAt(line, msg);
      if (!isItem(line.text)) fail(`expected a list item "- ...", found "${line.text}"`);
      const after = line.text === '-' ? '' : line.text.slice(2);
      const content = after.trimStart();
      if (content === '') {
        pos++;
        out.push(nested(indent));
        continue;
      }
      const contentIndent = indent + 2 + (after.length - content.length);
      if (isItem(content)) fail('nested "- - " lists are outside the subset');
      const kv = content.startsWith('[') ? null : splitKey(content, fail);
      if (kv) {
        // "- key: value": a map whose first entry sits on the dash line.
        lines[pos] = { no: line.no, indent: contentIndent, text: content };
        out.push(parseMap(contentIndent));
      } else {
        pos++;
        out.push(scalar(content, fail));
        const next = lines[pos];
        if (next && next.indent > indent) failAt(next, 'unexpected indentation after a list scalar');
      }
    }
    return out;
  }

  const root = parseBlock(lines[0]!.indent);
  if (lines[0]!.indent !== 0) failAt(lines[0], 'the document must start at column 0');
  if (pos < lines.length) failAt(lines[pos], 'unexpected content (indentation)');
  return root;
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
