// Unit tests for the one quoting helper (adapters/clickhouse/quote.ts). A literal is checked by
// decoding it the way ClickHouse's lexer does: it must be exactly one string token (nothing
// after the closing quote) and decode to the input. The same strings are round-tripped through
// a real server and chDB in quote.integration.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { databaseName, float, ident, int, SqlValueError, str } from '../../adapters/clickhouse/quote.js';
import { NASTY, wellFormed } from './nasty.js';

/** ClickHouse string-literal lexing: returns the decoded value and how many chars it used. */
function lexString(sql: string): { value: string; end: number } {
  if (sql[0] !== "'") throw new Error('not a string literal');
  let out = '';
  let i = 1;
  for (;;) {
    const c = sql[i];
    if (c === undefined) throw new Error('unterminated literal');
    if (c === "'") {
      // '' is also an escaped quote in ClickHouse; str() never emits it, so a quote ends it.
      return { value: out, end: i + 1 };
    }
    if (c === '\\') {
      const e = sql[i + 1];
      if (e === undefined) throw new Error('dangling backslash');
      if (e === 'x') {
        out += String.fromCharCode(parseInt(sql.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0', a: '\x07', v: '\v' };
      out += simple[e] ?? e;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
}


function roundTrips(v: string): void {
  const lit = str(v);
  const { value, end } = lexString(lit);
  expect(end).toBe(lit.length);
  expect(value).toBe(v);
}


describe('str()', () => {
  it.each(NASTY.map((s) => [JSON.stringify(s), s]))('%s is one literal that decodes to itself', (_, s) => {
    roundTrips(s);
  });

  it('escapes exactly backslash, quote and control characters', () => {
    expect(str("it's")).toBe("'it\\'s'");
    expect(str('a\\b')).toBe("'a\\\\b'");
    expect(str('\n')).toBe("'\\x0A'");
    expect(str('\0')).toBe("'\\x00'");
    expect(str('\x7f')).toBe("'\\x7F'");
    expect(str('-- /* */')).toBe("'-- /* */'");
    expect(str('é🩺')).toBe("'é🩺'");
  });

  it('never leaves an unescaped quote, newline or NUL in the output', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
        fc.pre(wellFormed(s));
        const lit = str(s);
        // eslint-disable-next-line no-control-regex
        expect(/[\u0000-\u001f\u007f]/.test(lit)).toBe(false);
        roundTrips(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses lone surrogates and non-strings', () => {
    expect(() => str('\ud800')).toThrow(SqlValueError);
    expect(() => str('a\udc00b')).toThrow(SqlValueError);
    expect(() => str('\udc00\ud800')).toThrow(SqlValueError);
    expect(str('\ud83e\ude7a')).toBe("'🩺'");
    expect(() => str(42 as unknown as string)).toThrow(SqlValueError);
    expect(() => str(undefined as unknown as string)).toThrow(SqlValueError);
  });
});

describe('int()', () => {
  it('renders integers, parenthesising negatives', () => {
    expect(int(0)).toBe('0');
    expect(int(42)).toBe('42');
    expect(int(-1)).toBe('(-1)');
    expect(int(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(int(-(2n ** 63n))).toBe('(-9223372036854775808)');
    expect(int(2n ** 64n - 1n)).toBe('18446744073709551615');
    // `a-${int(-1)}` must not become a comment.
    expect(`a-${int(-1)}`).toBe('a-(-1)');
  });

  it('refuses everything that is not a safe integer', () => {
    for (const bad of [1.5, Number.NaN, Infinity, -Infinity, 2 ** 53, '1', '1 OR 1=1', null, undefined, {}]) {
      expect(() => int(bad as number)).toThrow(SqlValueError);
    }
    expect(() => int(2n ** 64n)).toThrow(SqlValueError);
    expect(() => int(-(2n ** 63n) - 1n)).toThrow(SqlValueError);
  });
});

describe('float()', () => {
  it('renders finite numbers that read back exactly', () => {
    for (const v of [0, 1, -3.25, 0.1 + 0.2, 1e21, 1e-300, -1.7976931348623157e308, 2.2250738585072014e-308, 123456.789]) {
      const lit = float(v);
      expect(Number(lit.replace(/^\((.*)\)$/, '$1'))).toBe(v);
    }
    expect(float(-0)).toBe('0');
    expect(float(-2)).toBe('(-2)');
    expect(`x-${float(-0.5)}`).toBe('x-(-0.5)');
  });

  it('refuses NaN, infinities, subnormals and non-numbers', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 5e-324, -1e-310, '1', '1e3', null]) {
      expect(() => float(bad as number)).toThrow(SqlValueError);
    }
  });
});

describe('ident() and databaseName()', () => {
  it('accepts whitelisted identifiers only', () => {
    expect(ident('rollups_minute')).toBe('`rollups_minute`');
    expect(ident('final')).toBe('`final`');
    for (const bad of ['', 'users', 'rollups_minute; DROP TABLE alerts', 'system.tables', '`alerts`', 'ALERTS', 'alerts ']) {
      expect(() => ident(bad)).toThrow(SqlValueError);
    }
    expect(ident('x', new Set(['x']))).toBe('`x`');
    expect(() => ident('x y', new Set(['x y']))).toThrow(SqlValueError);
  });

  it('accepts plain database names only', () => {
    expect(databaseName('vigil')).toBe('`vigil`');
    expect(databaseName('vigil_t_0a1b')).toBe('`vigil_t_0a1b`');
    for (const bad of ['', '1db', 'a-b', 'a.b', 'a`b', "a'b", 'a b', 'x'.repeat(65), 'é']) {
      expect(() => databaseName(bad)).toThrow(SqlValueError);
    }
  });
});
