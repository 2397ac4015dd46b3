import { describe, expect, it } from 'vitest';
import { ErrorCode, fromWire, toWire, VigilError } from '../../runtime/errors.js';

describe('wire errors', () => {
  it('toWire/fromWire keep code and message', () => {
    const e = new VigilError(ErrorCode.MailboxFull, 'mailbox of patient/p-1 is full');
    const w = toWire(e);
    expect(w).toEqual({ code: 'mailbox_full', message: 'mailbox of patient/p-1 is full' });
    const back = fromWire(w);
    expect(back).toBeInstanceOf(VigilError);
    expect(back).toBeInstanceOf(Error);
    expect(back.name).toBe('VigilError');
    expect(back.code).toBe('mailbox_full');
    expect(back.message).toBe('mailbox of patient/p-1 is full');
  });

  it('a VigilError survives a structured clone (what postMessage does) through its wire form', () => {
    const e = new VigilError(ErrorCode.NotOwner, 'key group 17 moved to shard 3 — retry');
    const cloned = structuredClone(toWire(e));
    const back = fromWire(cloned);
    expect(back).toBeInstanceOf(VigilError);
    expect([back.code, back.message]).toEqual([e.code, e.message]);
  });

  it('keeps an unknown code from a newer peer instead of collapsing it', () => {
    expect(fromWire({ code: 'some_future_code', message: 'm' }).code).toBe('some_future_code');
  });

  it('sends anything that is not a VigilError as internal, keeping its message', () => {
    expect(toWire(new TypeError('x is not a function'))).toEqual({ code: 'internal', message: 'x is not a function' });
    expect(toWire('a thrown string')).toEqual({ code: 'internal', message: 'a thrown string' });
    expect(toWire(undefined)).toEqual({ code: 'internal', message: 'undefined' });
  });

  it('fromWire keeps the cause, and sets none when none is given', () => {
    const cause = new Error('worker exited with code 1');
    const back = fromWire({ code: ErrorCode.HostDied, message: 'host 0 died' }, cause);
    expect(back.cause).toBe(cause);
    expect('cause' in fromWire({ code: ErrorCode.HostDied, message: 'host 0 died' })).toBe(false);
  });

  it('the VigilError constructor keeps its cause', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new VigilError(ErrorCode.StoreUnavailable, 'redis down', { cause }).cause).toBe(cause);
  });
});

describe('one error family', () => {
  it('every error class the project throws on purpose is a VigilError with a code, keeping its name', async () => {
    const { ConfigError } = await import('../../adapters/compose/config.js');
    const { ConfigError: RuntimeConfigError } = await import('../../runtime/errors.js');
    const { FrameError } = await import('../../actors/ingest.js');
    const { ApiError } = await import('../../adapters/http/errors.js');
    const { SqlValueError } = await import('../../adapters/clickhouse/quote.js');
    const { CliError } = await import('../../adapters/compose/cli-errors.js');
    // One ConfigError, whichever module a caller imports it from.
    expect(ConfigError).toBe(RuntimeConfigError);
    const cases: [Error & { code: string }, string, string][] = [
      [new ConfigError('bad'), 'ConfigError', 'invalid_config'],
      [new FrameError('too_many_events', 'too many', 413), 'FrameError', 'too_many_events'],
      [new ApiError('not_found', 'no such patient'), 'ApiError', 'not_found'],
      [new SqlValueError('bad literal'), 'SqlValueError', 'invalid_sql_value'],
      [new CliError('cannot reach'), 'CliError', 'cli_failed'],
    ];
    for (const [e, name, code] of cases) {
      expect(e, name).toBeInstanceOf(VigilError);
      expect(e.name).toBe(name);
      expect(e.code).toBe(code);
      expect(toWire(e)).toEqual({ code, message: e.message });
    }
  });

  it('the contract loader throws the same ConfigError', async () => {
    const { loadTenantConfigDir } = await import('../../actors/contracts/load.js');
    const { ConfigError } = await import('../../runtime/errors.js');
    const err = await loadTenantConfigDir('/nonexistent/vigil-tenants').then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as VigilError).code).toBe('invalid_config');
  });

  it('the HTTP answer comes from STATUS_OF by code for any VigilError; an unplanned internal one stays private', async () => {
    const { errorAnswer, STATUS_OF, ApiError } = await import('../../adapters/http/errors.js');
    const logged: string[] = [];
    const internal = (): { status: number; body: unknown } => {
      logged.push('x');
      return { status: 500, body: { error: { code: 'internal', message: 'internal error (request id r)' } } };
    };
    expect(errorAnswer(new VigilError('too_deep', 'nests too deep'), internal)).toEqual({ status: 400, body: { error: { code: 'too_deep', message: 'nests too deep' } } });
    expect(errorAnswer(new ApiError('too_many_events', 'at most 2'), internal).status).toBe(413);
    expect(errorAnswer(new VigilError(ErrorCode.Internal, 'SELECT secret'), internal).status).toBe(500);
    expect(errorAnswer(new VigilError(ErrorCode.StoreUnavailable, 'redis down'), internal).status).toBe(500);
    expect(logged).toHaveLength(2);
    for (const code of ['invalid_json', 'invalid_type', 'invalid_utf8', 'too_deep', 'too_large', 'too_many_events', 'internal']) {
      expect(Object.hasOwn(STATUS_OF, code), code).toBe(true);
    }
  });
});
