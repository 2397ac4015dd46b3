// Unit tests for the schema module's script handling (the views file is applied statement by
// statement, each CREATE VIEW preceded by a DROP, since 18.16 has neither CREATE OR REPLACE
// VIEW nor DROP VIEW).
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, parseViews, SCHEMA_VERSION, splitStatements } from '../../adapters/clickhouse/schema.js';

describe('splitStatements', () => {
  it('splits on semicolons outside quotes and comments and drops empty statements', () => {
    const script = `-- header; not a statement
SELECT 'a;b', "c;d", \`e;f\` FROM t; /* x; y */
;;
SELECT 'it\\'s; fine' -- trailing; comment
;
   -- only a comment;
`;
    expect(splitStatements(script)).toEqual([
      `-- header; not a statement\nSELECT 'a;b', "c;d", \`e;f\` FROM t`,
      // The block comment before ';;' made a comment-only statement, which is dropped.
      `SELECT 'it\\'s; fine' -- trailing; comment`,
    ]);
  });

  it('keeps a last statement without a semicolon', () => {
    expect(splitStatements('SELECT 1; SELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
  });
});

describe('parseViews', () => {
  it('finds view names and rewrites CREATE OR REPLACE / IF NOT EXISTS to a plain CREATE VIEW', () => {
    const views = parseViews(`
-- a comment
CREATE OR REPLACE VIEW v_a AS SELECT 1;
DROP TABLE IF EXISTS v_b;
create view if not exists db1.\`v b\` AS SELECT 2;
CREATE VIEW v_c AS SELECT ';' AS s;
`);
    expect(views).toEqual([
      { name: 'v_a', create: 'CREATE VIEW v_a AS SELECT 1' },
      { name: '', create: 'DROP TABLE IF EXISTS v_b' },
      { name: 'db1.`v b`', create: 'CREATE VIEW db1.`v b` AS SELECT 2' },
      { name: 'v_c', create: "CREATE VIEW v_c AS SELECT ';' AS s" },
    ]);
  });
});

describe('MIGRATIONS', () => {
  it('are numbered 1..n and stick to SQL both engines accept', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const m of MIGRATIONS) {
      for (const sql of m.statements) {
        // Each statement can run again after a crash mid-migration: CREATE … IF NOT EXISTS, an
        // ADD COLUMN (runStatement skips a column that exists: 18.16 has no IF NOT EXISTS there),
        // or an INSERT … SELECT into a ReplacingMergeTree (a second copy collapses on its key).
        expect(sql).toMatch(/^(CREATE TABLE IF NOT EXISTS |CREATE MATERIALIZED VIEW IF NOT EXISTS |ALTER TABLE \w+ ADD COLUMN \w+ |INSERT INTO \w+ SELECT )/);
        expect(sql).not.toMatch(/LowCardinality|DateTime64|\{\w+:\w+\}|OR REPLACE/);
      }
    }
  });
});
