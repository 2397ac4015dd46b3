// The CSV half of `vigil import`: quoted fields (commas, quotes, line breaks), a UTF-8 BOM, CRLF
// and CR line ends, blank lines, and the envelopes built from the seed-002 column layout.
import { describe, expect, it } from 'vitest';
import { csvToEnvelopes, ndjsonToEnvelopes, parseCsv } from '../../load/import.js';

describe('parseCsv', () => {
  it('keeps commas, doubled quotes and line breaks inside quoted fields', () => {
    const text = 'a,b,c\n"x, y","say ""hi""","line 1\nline 2"\n';
    expect(parseCsv(text)).toEqual([['a', 'b', 'c'], ['x, y', 'say "hi"', 'line 1\nline 2']]);
  });

  it('drops a UTF-8 BOM, so the first header is its own name', () => {
    const rows = parseCsv('\uFEFFpatient_id,value\r\np1,5\r\n');
    expect(rows[0]![0]).toBe('patient_id');
    expect(rows).toEqual([['patient_id', 'value'], ['p1', '5']]);
  });

  it('reads CRLF and CR line ends the same as LF, and a CRLF inside quotes stays in the field', () => {
    const lf = parseCsv('a,b\n1,2\n3,4\n');
    expect(parseCsv('a,b\r\n1,2\r\n3,4\r\n')).toEqual(lf);
    expect(parseCsv('a,b\r1,2\r3,4\r')).toEqual(lf);
    expect(parseCsv('a,b\r\n"1\r\nx",2\r\n')).toEqual([['a', 'b'], ['1\r\nx', '2']]);
  });

  it('skips blank lines and keeps rows of another length than the header', () => {
    expect(parseCsv('a,b\n\n1\n2,3,4\n\n')).toEqual([['a', 'b'], ['1'], ['2', '3', '4']]);
  });

  it('refuses an unclosed quote with a message that names the problem', () => {
    expect(() => parseCsv('a,b\n"open,2\n')).toThrow(/not valid CSV: .*quote/i);
  });
});

describe('csvToEnvelopes', () => {
  const HEADER = '\uFEFF"patient_id","biometric_type","timestamp","value","systolic","diastolic","unit"\r\n';

  it('builds one biometric.reading per row, BOM and CRLF or not, with deterministic ids', () => {
    const text = `${HEADER}p-1,glucose,2025-06-02T23:00:00,7.8,,,mmol/L\r\n"p-2",blood_pressure,2025-06-02 23:05:00,,120,80,"mm Hg"\r\n`;
    const env = csvToEnvelopes(text, 'acme') as Record<string, unknown>[];
    expect(env).toEqual([
      {
        event_id: 'csv:p-1:glucose:2025-06-02T23:00:00Z', tenant_id: 'acme', event_type: 'biometric.reading', schema_version: 1,
        event_time: '2025-06-02T23:00:00Z', source_system: 'csv-import', payload: { patient_id: 'p-1', biometric_type: 'glucose', value: 7.8, unit: 'mmol/L' },
      },
      {
        event_id: 'csv:p-2:blood_pressure:2025-06-02T23:05:00Z', tenant_id: 'acme', event_type: 'biometric.reading', schema_version: 1,
        event_time: '2025-06-02T23:05:00Z', source_system: 'csv-import',
        payload: { patient_id: 'p-2', biometric_type: 'blood_pressure', systolic: 120, diastolic: 80, unit: 'mm Hg' },
      },
    ]);
    // The same file with LF line ends and no BOM gives the same events.
    expect(csvToEnvelopes(text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n'), 'acme')).toEqual(env);
  });

  it('keeps a quoted unit with a comma whole, and a non-numeric value as text for the node to refuse', () => {
    const env = csvToEnvelopes(`${HEADER}p-1,weight,2025-06-02T23:00:00,"7,5",,,"kg, scale 2"\r\n`, 'acme') as { payload: Record<string, unknown> }[];
    expect(env[0]!.payload).toEqual({ patient_id: 'p-1', biometric_type: 'weight', value: '7,5', unit: 'kg, scale 2' });
  });

  it('names a missing required column', () => {
    expect(() => csvToEnvelopes('patient_id,value\np,1\n', 'acme')).toThrow(/biometric_type/);
  });
});

describe('ndjsonToEnvelopes', () => {
  it('reads CRLF lines and a BOM, and keeps an unreadable line as its text', () => {
    expect(ndjsonToEnvelopes('\uFEFF{"a":1}\r\n\r\nnot json\r\n{"b":2}')).toEqual([{ a: 1 }, 'not json', { b: 2 }]);
  });
});
