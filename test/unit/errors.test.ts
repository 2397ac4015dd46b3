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
