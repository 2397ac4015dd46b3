// The YAML-subset reader used by the deployment tests: what it reads, and what it refuses.
// (The reader it replaced was also compared by hand with PyYAML's safe_load on docker-compose.yml, both Prometheus
// configs and the Grafana provisioning files: identical results.)
import { describe, expect, it } from 'vitest';
import { parseYamlSubset } from './yaml-subset.js';

describe('parseYamlSubset', () => {
  it('reads nested maps, lists, lists of maps, flow lists and typed scalars', () => {
    const text = [
      '# a comment',
      'name: vigil   # trailing comment',
      'services:',
      '  a:',
      '    command: ["nats-server", -js, \'-sd\', /data]',
      '    ports:',
      '      - "127.0.0.1:8080:8080"',
      '    env:',
      '      URL: nats://nats:4222',
      '      HASH: "a # not a comment"',
      "      QUOTE: 'it''s'",
      '      EMPTY:',
      '      N: 3',
      '      F: 0.5',
      '      T: true',
      '      NUL: ~',
      '      EXPR: ${X:-default}',
      '    deps:',
      '      - name: b',
      '        condition: healthy',
      '      - c',
      '      -',
      '        nested: 1',
      'list: []',
    ].join('\n');
    expect(parseYamlSubset(text)).toEqual({
      name: 'vigil',
      services: {
        a: {
          command: ['nats-server', '-js', '-sd', '/data'],
          ports: ['127.0.0.1:8080:8080'],
          env: { URL: 'nats://nats:4222', HASH: 'a # not a comment', QUOTE: "it's", EMPTY: null, N: 3, F: 0.5, T: true, NUL: null, EXPR: '${X:-default}' },
          deps: [{ name: 'b', condition: 'healthy' }, 'c', { nested: 1 }],
        },
      },
      list: [],
    });
  });

  it.each([
    ['anchor', 'a: &x 1', /anchors, aliases/],
    ['alias', 'a: *x', /anchors, aliases/],
    ['block scalar', 'a: |\n  text', /block scalars/],
    ['flow map', 'a: {b: 1}', /flow maps/],
    ['merge key', 'a:\n  <<: 1', /merge keys/],
    ['document marker', '---\na: 1', /document markers/],
    ['tab indentation', 'a:\n\tb: 1', /tab in indentation/],
    ['duplicate key', 'a: 1\na: 2', /duplicate key "a"/],
    ['YAML 1.1 boolean', 'a: yes', /ambiguous plain scalar "yes"/],
    ['sexagesimal port pair', 'a:\n  - 8080:8080', /ambiguous plain scalar "8080:8080"/],
    ['octal-looking number', 'a: 0755', /ambiguous plain scalar "0755"/],
    ['date', 'a: 2026-01-01', /ambiguous plain scalar "2026-01-01"/],
    ['multi-line plain scalar', 'a: one\n  two', /multi-line scalars/],
    ['list at the key\'s indentation', 'a:\n- 1', /indent list items deeper/],
    ['unterminated quote', 'a: "x', /Missing closing "quote/],
    ['nested flow list', 'a: [1, [2]]', /nested flow collections/],
    ['a line that is no entry', 'a: 1\njust text', /^x\.yml:2: Implicit map keys need to be followed by map values/],
    // Cases the yaml library's nodes make it possible to tell apart, with the line they name.
    ['tag', 'a:\n  b: !!str 1', /^x\.yml:2: .*tag tag:yaml\.org,2002:str/],
    ['local tag', 'a: !env X', /^x\.yml:1: .*!env/],
    ['folded block scalar', 'a: 1\nb: >-\n  text', /^x\.yml:2: .*block scalar/],
    ['flow map inside a flow list', 'a: [b: 1]', /nested flow collections/],
    ['flow list over two lines', 'a: [1,\n  2]', /^x\.yml:1: flow list must be on one line/],
    ['multi-line double-quoted scalar', 'a: "one\n  two"', /^x\.yml:1: .*multi-line scalars/],
    ['explicit key', '? a\n: 1', /explicit keys/],
    ['nested "- - " list', 'a:\n  - - 1', /^x\.yml:2: nested "- - " lists/],
    ['the same key as number and string', 'a:\n  1: p\n  "1": q', /^x\.yml:3: duplicate key "1"/],
    ['duplicate key in a list item map', 'a:\n  - b: 1\n\n    b: 2', /^x\.yml:4: duplicate key "b"/],
    ['the same number as two keys', 'a:\n  1: p\n  1.0: q', /^x\.yml:3: duplicate key/],
    ['document end marker', 'a: 1\n...', /^x\.yml:2: document markers/],
    ['directive', '%YAML 1.2\n---\na: 1', /^x\.yml:1: document markers/],
    ['second document', 'a: 1\n---\nb: 2', /document markers/],
    ['indented document', '  a: 1', /start at column 0/],
    ['a scalar document', 'text', /expected "key: value" or a list/],
    ['hex number', 'a: 0x1F', /ambiguous plain scalar "0x1F"/],
    ['YAML 1.1 boolean in a flow list', 'a: [x, off]', /ambiguous plain scalar "off"/],
    ['capitalised boolean as a list item', 'a:\n  - True', /^x\.yml:2: ambiguous plain scalar "True"/],
    ['YAML-only escape', 'a: "\\x41"', /JSON escapes only/],
    ['integer past 2^53', 'a: 9007199254740993', /integer out of range/],
  ])('refuses %s', (_what, text, error) => {
    expect(() => parseYamlSubset(text, 'x.yml')).toThrow(error);
  });

  it('keeps keys as written, "__proto__" included', () => {
    const v = parseYamlSubset('8080: a\ntrue: b\n"__proto__": c\n') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['8080', 'true', '__proto__']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(v['__proto__']).toBe('c');
  });

  it('reads an empty or comment-only file as null', () => {
    expect(parseYamlSubset('')).toBeNull();
    expect(parseYamlSubset('# nothing\n\n')).toBeNull();
  });

  it('names the file and line of a refusal', () => {
    expect(() => parseYamlSubset('a: 1\nb: on\n', 'f.yml')).toThrow(/^f\.yml:2: /);
  });
});
