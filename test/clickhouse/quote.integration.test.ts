// The quoting helper against real engines: `SELECT <str(x)>` must return x exactly, and
// injection attempts must stay inside their literal, on ClickHouse 18.16 and on chDB 26.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float, int, str } from '../../adapters/clickhouse/quote.js';
import { migrate } from '../../adapters/clickhouse/schema.js';
import { useEngines, type FreshStore } from './engines.js';
import { NASTY, wellFormed } from './nasty.js';

for (const engine of useEngines()) {
  describe(`quoting on ${engine.name}`, () => {
    let fresh: FreshStore;
    beforeAll(async () => {
      fresh = await engine.fresh();
      await migrate(fresh.store, { viewsFile: null });
    });
    afterAll(async () => {
      await fresh?.cleanup();
    });

    it.each(NASTY.map((s) => [JSON.stringify(s), s]))('SELECT str(%s) returns it exactly', async (_, s) => {
      const rows = await fresh.store.query<{ s: string; n: string | number }>(`SELECT ${str(s)} AS s, length(${str(s)}) AS n`);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.s).toBe(s);
      expect(Number(rows[0]!.n)).toBe(Buffer.byteLength(s, 'utf8'));
    });

    it('round-trips random unicode strings, 300 per query', async () => {
      const strings = fc
        .sample(fc.string({ unit: 'binary', maxLength: 40 }), 1200)
        .filter(wellFormed)
        .concat(NASTY);
      for (let i = 0; i < strings.length; i += 300) {
        const chunk = strings.slice(i, i + 300);
        const rows = await fresh.store.query<{ a: string[] }>(`SELECT [${chunk.map(str).join(', ')}] AS a`);
        expect(rows[0]!.a).toEqual(chunk);
      }
    });

    it('injections stay data: they match nothing and drop nothing', async () => {
      await fresh.store.insert('alerts', [
        { alert_id: 'a-1', tenant_id: 'acme', subject_kind: 'patient', subject_id: 'p-1', level: 'high', level_rank: 3, state: 'open', reason: 'r', value: 1, event_time: 1, event_time_ms: 1000 },
      ]);
      const tableNames = async () => (await fresh.store.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${str(fresh.database)} ORDER BY name`)).map((t) => t.name);
      const before = await tableNames();
      expect(before).toEqual(expect.arrayContaining(['alerts', 'dlq', 'events_raw', 'ingest_audit', 'rollups_minute', 'schema_migrations']));
      for (const attack of NASTY) {
        const rows = await fresh.store.query<{ n: string | number }>(`SELECT count() AS n FROM alerts WHERE tenant_id = ${str(attack)}`);
        expect(Number(rows[0]!.n)).toBe(0);
      }
      // No attack dropped or created a table.
      expect(await tableNames()).toEqual(before);
      const still = await fresh.store.query<{ n: string | number }>(`SELECT count() AS n FROM alerts WHERE tenant_id = ${str('acme')}`);
      expect(Number(still[0]!.n)).toBe(1);
    });

    it('int() and float() literals read back exactly', async () => {
      const ints = [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
      const rows = await fresh.store.query<Record<string, string>>(
        `SELECT ${ints.map((v, i) => `toString(${int(v)}) AS i${i}`).join(', ')}, toString(${int(-(2n ** 63n))}) AS lo, toString(${int(2n ** 64n - 1n)}) AS hi`,
      );
      ints.forEach((v, i) => expect(rows[0]![`i${i}`]).toBe(String(v)));
      expect(rows[0]!['lo']).toBe('-9223372036854775808');
      expect(rows[0]!['hi']).toBe('18446744073709551615');

      const floats = [0, -3.25, 0.1 + 0.2, 1e21, 1e-300, 1.7976931348623157e308, -2.2250738585072014e-308, 1 / 3];
      const frows = await fresh.store.query<Record<string, number>>(`SELECT ${floats.map((v, i) => `toFloat64(${float(v)}) AS f${i}`).join(', ')}`);
      floats.forEach((v, i) => expect(frows[0]![`f${i}`]).toBe(v));
      // `1 - ${int(-1)}` is arithmetic, not the start of a comment.
      const arith = await fresh.store.query<{ x: number | string }>(`SELECT 1 -${int(-1)} AS x`);
      expect(Number(arith[0]!.x)).toBe(2);
    });
  });
}
