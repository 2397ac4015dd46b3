// The snapshot envelope (runtime header, newline, actor body) is persisted: its bytes must not
// drift, and what the host writes, the host and `inspect` must read back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSnapshot, encodeSnapshot, snapshotBody } from '../../runtime/snapshot-codec.js';

describe('snapshot codec', () => {
  it('writes the stored format exactly', () => {
    expect(encodeSnapshot(1234, null, '{"n":1}')).toBe('{"w":1234}\n{"n":1}');
    expect(encodeSnapshot(5, [], 'x')).toBe('{"w":5}\nx');
    expect(encodeSnapshot(-Infinity, [{ name: 'a', domain: 'event', at: 7 }, { name: 'b', domain: 'processing', at: 9 }], 'B'))
      .toBe('{"w":-1e+300,"t":[["a","event",7],["b","processing",9]]}\nB');
  });

  it('reads what it writes; a missing watermark reads as none', () => {
    expect(decodeSnapshot(encodeSnapshot(-Infinity, [{ name: 't', domain: 'event', at: 3 }], 'body'))).toEqual({
      watermark: -1e300, timers: [['t', 'event', 3]], body: 'body',
    });
    expect(decodeSnapshot('{}\nx')).toEqual({ watermark: -Infinity, timers: [], body: 'x' });
  });

  it('round-trips any watermark, timers and a body with newlines in it', () => {
    const timer = fc.record({ name: fc.string(), domain: fc.constantFrom('event' as const, 'processing' as const), at: fc.double({ noNaN: true, noDefaultInfinity: true }) });
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.array(timer, { maxLength: 4 }), fc.string(), (w, timers, body) => {
        const data = encodeSnapshot(w, timers, body);
        const d = decodeSnapshot(data);
        expect(d.body).toBe(body);
        expect(snapshotBody(data)).toBe(body);
        expect(d.watermark).toBe(JSON.parse(JSON.stringify(w)) as number);
        expect(d.timers).toEqual(timers.map((t) => [t.name, t.domain, JSON.parse(JSON.stringify(t.at)) as number]));
      }),
    );
    expect(snapshotBody(encodeSnapshot(0, null, 'a\nb\n'))).toBe('a\nb\n');
  });

  it('snapshotBody does not parse the header; decode refuses a header that is not JSON', () => {
    expect(snapshotBody('garbage\n{"x":1}')).toBe('{"x":1}');
    expect(() => decodeSnapshot('garbage\n{"x":1}')).toThrow();
  });
});
