import { describe, expect, it } from 'vitest';
import { ErrorCode, VigilError } from '../../runtime/errors.js';
import { kDefaultRuntimeOptions, resolveOptions, type RuntimeOptions } from '../../runtime/options.js';

const modules = ['file:///actors.js'];

/** Runs resolveOptions and returns the VigilError it threw. */
function rejection(input: Record<string, unknown>): VigilError {
  try {
    resolveOptions(input as Partial<RuntimeOptions>);
  } catch (e) {
    expect(e).toBeInstanceOf(VigilError);
    expect((e as VigilError).code).toBe(ErrorCode.InvalidOption);
    expect((e as VigilError).code).toBe('invalid_option');
    return e as VigilError;
  }
  throw new Error(`resolveOptions accepted ${JSON.stringify(input)}`);
}

describe('resolveOptions', () => {
  it('fills every default and keeps what was given', () => {
    const o = resolveOptions({ actorModules: modules, shards: 3, hosts: 1 });
    expect(o).toEqual({ ...kDefaultRuntimeOptions, actorModules: modules, shards: 3, hosts: 1 });
    expect(o.keyGroups).toBe(4096);
  });

  it('does not mutate the defaults or the input', () => {
    const input = { actorModules: modules, shards: 1, hosts: 4 };
    const before = JSON.stringify(kDefaultRuntimeOptions);
    resolveOptions(input);
    expect(input).toEqual({ actorModules: modules, shards: 1, hosts: 4 });
    expect(JSON.stringify(kDefaultRuntimeOptions)).toBe(before);
  });

  it('rejects an unknown option, naming it', () => {
    expect(rejection({ actorModules: modules, shard: 2 }).message).toContain('shard');
    expect(rejection({ actorModules: modules, shard: 2 }).message).toMatch(/not a runtime option/);
  });

  it.each(['toString', 'constructor', 'hasOwnProperty', 'valueOf'])(
    'rejects %s, which every object inherits but is no option',
    (name) => {
      expect(rejection({ actorModules: modules, [name]: 1 }).message).toContain(name);
    },
  );

  const numeric = [
    'keyGroups', 'shards', 'hosts', 'hostBatchEvents', 'maxInFlightBatches', 'snapshotIntervalMs', 'idleAfterMs',
    'passivationSweepMs', 'mailboxLimit', 'maxParkedEvents', 'timerTickMs', 'maxLogEvents', 'drainTimeoutMs', 'tailIdleMs',
  ] as const;

  it("ownership is 'all' (one node) or 'leased' (one of several), naming the option otherwise", () => {
    expect(resolveOptions({ actorModules: modules }).ownership).toBe('all');
    expect(resolveOptions({ actorModules: modules, ownership: 'leased' }).ownership).toBe('leased');
    expect(rejection({ actorModules: modules, ownership: 'some' as never }).message).toContain('options.ownership ');
  });

  it('coalesceMs accepts 0 and refuses negatives, naming the option', () => {
    expect(resolveOptions({ actorModules: modules, coalesceMs: 0 }).coalesceMs).toBe(0);
    expect(rejection({ actorModules: modules, coalesceMs: -1 }).message).toContain('options.coalesceMs ');
  });

  it('checks every numeric option there is', () => {
    const actual = Object.keys(kDefaultRuntimeOptions).filter((k) => k !== 'actorModules' && k !== 'actorConfig' && k !== 'coalesceMs' && k !== 'ownership').sort();
    expect(actual).toEqual([...numeric].sort());
  });

  describe.each(numeric)('%s', (name) => {
    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '4'])('rejects %s, naming the option', (bad) => {
      const e = rejection({ actorModules: modules, [name]: bad });
      expect(e.message).toContain(`options.${name} `);
      expect(e.message).toMatch(/positive integer/);
    });

    it('accepts 1', () => {
      // shards and hosts may not exceed keyGroups, so keyGroups = 1 forces them to 1 too.
      const o = resolveOptions({ actorModules: modules, shards: 1, hosts: 1, [name]: 1 });
      expect(o[name]).toBe(1);
    });
  });

  it('rejects more shards than key groups', () => {
    const e = rejection({ actorModules: modules, keyGroups: 8, shards: 9 });
    expect(e.message).toContain('options.shards');
    expect(resolveOptions({ actorModules: modules, keyGroups: 8, shards: 8, hosts: 2 }).shards).toBe(8);
  });

  it('rejects more key groups than a shard table can address', () => {
    expect(rejection({ actorModules: modules, keyGroups: 65536 }).message).toContain('options.keyGroups');
    expect(resolveOptions({ actorModules: modules, keyGroups: 65535 }).keyGroups).toBe(65535);
  });

  it('clamps hosts to shards instead of rejecting', () => {
    expect(resolveOptions({ actorModules: modules, shards: 2, hosts: 8 }).hosts).toBe(2);
    expect(resolveOptions({ actorModules: modules, shards: 8, hosts: 3 }).hosts).toBe(3);
  });

  it('requires at least one actor module', () => {
    expect(rejection({}).message).toContain('options.actorModules');
    expect(rejection({ actorModules: [] }).message).toContain('options.actorModules');
    expect(rejection({ actorModules: 'file:///a.js' }).message).toContain('options.actorModules');
  });
});
