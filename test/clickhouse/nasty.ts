// Strings that have broken SQL quoting somewhere: quotes, backslashes, comments, UNION
// injections, control characters and unicode. Shared by the unit and integration tests.

export const NASTY = [
  '',
  "'",
  "''",
  "\\'",
  '\\',
  '\\\\',
  "a'b\"c`d",
  "x' OR '1'='1",
  "'; DROP TABLE rollups_minute; --",
  "1' UNION SELECT name, engine FROM system.tables --",
  "' UNION ALL SELECT * FROM system.users /*",
  '-- comment',
  '/* block */ */ /*',
  'tab\there\nnewline\r\ncrlf',
  '\0nul\0',
  '\u0001\u0002\u001f\u007f',
  'trailing backslash \\',
  "\\' escaped quote at end \\",
  '\\x41 is not A',
  '{x:String}',
  '?',
  '$1',
  '%s %d',
  'hôpital Zürich',
  '手術-7 🩺',
  '\u2028\u2029',
  '\u00a0\ufeff',
  'emoji 👩‍⚕️ and combining é',
  ';',
  'SELECT 1; SELECT 2',
  "FORMAT JSONEachRow' SETTINGS max_threads=1 --",
];

export function wellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
