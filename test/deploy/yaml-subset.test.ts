// The YAML-subset reader used by the deployment tests: what it reads, and what it refuses.
// (It was also compared by hand with PyYAML's safe_load on docker-compose.yml, both Prometheus
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
    ['unterminated quote', 'a: "x', /unterminated double-quoted/],
    ['nested flow list', 'a: [1, [2]]', /nested flow collections/],
    ['a line that is no entry', 'a: 1\njust text', /expected "key: value"/],
  ])('refuses %s', (_what, text, error) => {
    expect(() => parseYamlSubset(text, 'x.yml')).toThrow(error);
  });

  it('names the file and line of a refusal', () => {
    expect(() => parseYamlSubset('a: 1\nb: on\n', 'f.yml')).toThrow(/^f\.yml:2: /);
  });
});
