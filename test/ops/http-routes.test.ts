// The transport-neutral HTTP layer (adapters/http/) without any server: the one code -> status
// table, the guards and method rules of the route table, and what is left to the transport.
import { describe, expect, it } from 'vitest';
import { FrameError, parseFrame } from '../../actors/ingest.js';
import { AlertHub } from '../../adapters/http/alert-hub.js';
import { TokenBook } from '../../adapters/http/auth.js';
import { ApiError, errorAnswer, STATUS_OF } from '../../adapters/http/errors.js';
import type { HttpRequest } from '../../adapters/http/message.js';
import type { ReadApi } from '../../adapters/http/reads.js';
import { BATCH_PATH, createHttpApi } from '../../adapters/http/routes.js';

const tokens = new TokenBook();
tokens.addTenantToken('demo', 'tenant-token');
tokens.addAdminToken('admin-token');

const reads = {
  patients: async (tenant: string, limit: number, cursor: string | null) => ({ tenant, limit, cursor }),
  patientRiskSummary: async (_t: string, id: string) => {
    throw new ApiError('not_found', `no patient ${id}`);
  },
  rescale: async (count: number) => ({ to: count }),
} as unknown as ReadApi;

const api = createHttpApi({
  tokens, reads, alerts: new AlertHub(null),
  metricsText: async () => ({ contentType: 'text/plain', text: 'm 1\n' }),
  ready: () => ({ ready: false, reasons: ['restoring'] }),
});

const call = (method: string, path: string, token?: string, body?: string) => {
  const [p, query = ''] = path.split('?') as [string, string?];
  const req: HttpRequest = { method, path: p, query, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body === undefined ? {} : { body }) };
  return api.handle(req);
};
const code = (a: { body: unknown }) => (a.body as { error: { code: string } }).error.code;

describe('errors', () => {
  it('answers each code with the status of the one table; anything else is 500 internal', () => {
    expect(errorAnswer(new ApiError('rescale_in_progress', 'busy'))).toEqual({ status: 409, body: { error: { code: 'rescale_in_progress', message: 'busy' } } });
    expect(errorAnswer(new TypeError('oops'))).toEqual({ status: 500, body: { error: { code: 'internal', message: 'oops' } } });
  });

  it('gives a refused batch the status its FrameError carries', () => {
    for (const [text, max] of [['{bad', 10], ['{"events": 1}', 10], ['[{},{},{}]', 2]] as const) {
      let fe: FrameError | null = null;
      try {
        parseFrame(text, max);
      } catch (err) {
        fe = err as FrameError;
      }
      expect(fe, text).toBeInstanceOf(FrameError);
      expect(STATUS_OF[fe!.code as keyof typeof STATUS_OF], fe!.code).toBe(fe!.status);
    }
  });
});

describe('the route table', () => {
  it('probes need no token', async () => {
    expect(await call('GET', '/readyz')).toEqual({ status: 503, body: { ready: false, reasons: ['restoring'] } });
    expect(await call('POST', '/metrics')).toEqual({ status: 200, body: 'm 1\n', contentType: 'text/plain' });
    expect(await call('GET', '/v1/stream')).toMatchObject({ status: 426 });
  });

  it('guards each area before anything else', async () => {
    expect(code(await call('GET', '/v1/patients'))).toBe('unauthorized');
    expect(code(await call('GET', '/v1/patients', 'admin-token'))).toBe('forbidden');
    expect(code(await call('GET', '/admin/shards', 'tenant-token'))).toBe('forbidden');
    expect(code(await call('POST', '/admin/shards', undefined, 'x'.repeat(10_000)))).toBe('unauthorized');
    expect(await call('GET', '/v1/patients?token=tenant-token&limit=2&cursor=b')).toEqual({ status: 200, body: { tenant: 'demo', limit: 2, cursor: 'b' } });
  });

  it('under /v1/: other methods are 405, a bad limit is 400 even on no route, then 404', async () => {
    expect(await call('POST', '/v1/patients', 'tenant-token')).toMatchObject({ status: 405, body: { error: { message: 'POST is not allowed on /v1/patients' } } });
    expect(await call('GET', '/v1/imports', 'tenant-token')).toMatchObject({ status: 405, body: { error: { message: 'POST only' } } });
    expect(code(await call('GET', '/v1/nothing?limit=0', 'tenant-token'))).toBe('invalid_parameter');
    expect(code(await call('GET', '/v1/nothing', 'tenant-token'))).toBe('not_found');
    expect(code(await call('GET', '/v1/patients/p/risk-summary', 'tenant-token'))).toBe('not_found');
    expect(await call('GET', '/v1/search', 'tenant-token')).toMatchObject({ status: 501 });
    // Under /admin/ a known path with another method is no route.
    expect(code(await call('DELETE', '/admin/shards', 'admin-token'))).toBe('not_found');
  });

  it('reads a body only for routes that take one, within their limit', async () => {
    expect(await call('POST', '/admin/shards', 'admin-token', '{"count": 3}')).toEqual({ status: 200, body: { to: 3 } });
    expect(code(await call('POST', '/admin/shards', 'admin-token', `{"count": 3}${' '.repeat(4096)}`))).toBe('payload_too_large');
    expect(code(await call('POST', '/admin/shards', 'admin-token', '{"count": 0}'))).toBe('invalid_field');
    expect(code(await call('POST', '/v1/imports', 'tenant-token', 'null'))).toBe('internal');
  });

  it('leaves the batch endpoint to the transport, after its guard', async () => {
    const head = { method: 'POST', path: BATCH_PATH, query: '', headers: { authorization: 'Bearer tenant-token' } };
    expect(api.open(head)).toMatchObject({ kind: 'transport', tenant: 'demo' });
    expect(api.open({ ...head, headers: {} })).toMatchObject({ kind: 'answer' });
    expect(code(await api.handle({ ...head, headers: {} }))).toBe('unauthorized');
    expect(code(await api.handle(head))).toBe('not_implemented');
  });

  it('admits the alert feed for a tenant token and a known level only', () => {
    const head = (query: string, token = 'tenant-token') => ({ method: 'GET', path: '/v1/alerts/stream', query, headers: { authorization: `Bearer ${token}` } });
    expect(api.alertFeed(head('min_level=high'))).toEqual({ tenant: 'demo', minLevel: 'high' });
    expect(api.alertFeed(head(''))).toEqual({ tenant: 'demo', minLevel: 'low' });
    expect(() => api.alertFeed(head('min_level=urgent'))).toThrow(/min_level must be one of/);
    expect(() => api.alertFeed(head('', 'admin-token'))).toThrow(expect.objectContaining({ code: 'unauthorized' }) as Error);
  });
});
