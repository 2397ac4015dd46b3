// The events_raw line written directly is exactly the row object serialised: same columns, same
// clamping, same surrogate repair, for any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventRawLine, eventRawRow, type RawEventInput } from '../../adapters/clickhouse/rows.js';

const str = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('\uD800', 'a\uDC00b', '\uD83D\uDE00', '"\\\n\u0000'));
const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e300, Date.UTC(2026, 0, 1)));

describe('eventRawLine', () => {
  it('equals JSON.stringify(eventRawRow(e)) for any event', () => {
    fc.assert(
      fc.property(
        fc.record({
          tenant: str, eventId: str, eventType: str, schemaVersion: num, eventTime: num, ingestTime: num, actorKind: str, actorId: str,
          patientId: fc.option(str, { nil: undefined }), siteId: fc.option(str, { nil: undefined }), deviceId: fc.option(str, { nil: undefined }),
          source: str, payload: fc.oneof(str, fc.jsonValue(), fc.dictionary(str, fc.oneof(str, num))),
        }),
        (e: RawEventInput) => {
          expect(eventRawLine(e)).toBe(JSON.stringify(eventRawRow(e)));
        },
      ),
      { numRuns: 500 },
    );
  });
});
