// The transport-neutral HTTP layer (adapters/http/) without any server: the one code -> status
// table, the guards and method rules of the route table, and what is left to the transport.
import { describe, expect, it } from 'vitest';
import { FrameError, parseFrame } from '../../actors/ingest.js';
import { AlertHub } from '../../adapters/http/alert-hub.js';
import { TokenBook } from '../../adapters/http/auth.js';
import { ApiError, errorAnswer, internalErrors, STATUS_OF } from '../../adapters/http/errors.js';
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
  it('answers each code with the status of the one table; anything else is a logged 500 internal', () => {
    expect(errorAnswer(new ApiError('rescale_in_progress', 'busy'))).toEqual({ status: 409, body: { error: { code: 'rescale_in_progress', message: 'busy' } } });
    // Issue 15: the raw message stays in the log, under the request id the caller is given.
    const lines: string[] = [];
    const a = errorAnswer(new TypeError('oops'), internalErrors((l) => lines.push(l)), 'GET "/x"');
    expect(a).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
    const message = (a.body as { error: { message: string } }).error.message;
    expect(message).not.toContain('oops');
    const rid = /request id ([0-9a-f-]{36})/.exec(message)?.[1];
    expect(rid).toBeDefined();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(rid!);
    expect(lines[0]).toContain('GET "/x"');
    expect(lines[0]).toContain('TypeError: oops');
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
    // Issue 15: a summary that parses but is no object was a 500 (a TypeError in the handler).
    for (const body of ['null', '[]', '7', '"x"']) expect(code(await call('POST', '/v1/imports', 'tenant-token', body)), body).toBe('invalid_json');
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

describe('hostile request targets (issue 15): 400 invalid_parameter, never 500', () => {
  const logged: string[] = [];
  const seen: string[] = [];
  const echo = async (_t: string, id: string) => {
    seen.push(id);
    return { id };
  };
  const hostile = createHttpApi({
    tokens, alerts: new AlertHub(null),
    reads: {
      patientRiskSummary: echo, procedureRiskSummary: echo, patientTrends: echo,
      actor: async (kind: string, _t: string, id: string) => ({ kind, id }),
      patients: async () => {
        throw new TypeError("secret: SELECT * FROM events_raw WHERE tenant_id = 'demo'");
      },
    } as unknown as ReadApi,
    analytics: {
      timeline: async (_t, id, from, to) => ({ id, from, to }),
      biometrics: async (_t, id) => ({ id }),
      search: async (_t, q) => ({ q }),
    },
    metricsText: async () => ({ contentType: 'text/plain', text: '' }),
    ready: () => ({ ready: true, reasons: [] }),
    log: (l) => logged.push(l),
  });
  const get = (path: string, token = 'tenant-token', query = '') =>
    hostile.handle({ method: 'GET', path, query, headers: { authorization: `Bearer ${token}` } });

  // The ids of the issue, then ones a lenient decoder would quietly change.
  const BAD_IDS = ['%', '%E0%A4%A', '%ZZ', '%C0%AF', '%ED%A0%80', 'a%', '%F0%9F%98', '%FF', 'a\uFFFDb', 'x\uD800', '\uDC00y'];
  const ROUTES = [
    (id: string) => `/v1/patients/${id}/risk-summary`,
    (id: string) => `/v1/procedures/${id}/risk-summary`,
    (id: string) => `/v1/patients/${id}/trends`,
    (id: string) => `/v1/patients/${id}/timeline`,
    (id: string) => `/v1/patients/${id}/biometrics`,
  ];

  it('a malformed or non-UTF-8 id on every route with one', async () => {
    for (const route of ROUTES) {
      for (const id of BAD_IDS) {
        const a = await get(route(id));
        expect(a.status, route(id)).toBe(400);
        expect(code(a), route(id)).toBe('invalid_parameter');
      }
    }
    for (const id of BAD_IDS) {
      for (const path of [`/admin/actors/patient/${id}`, `/admin/actors/${id}/p-1`]) {
        const a = await hostile.handle({ method: 'GET', path, query: 'tenant=demo', headers: { authorization: 'Bearer admin-token' } });
        expect(a.status, path).toBe(400);
        expect(code(a), path).toBe('invalid_parameter');
      }
    }
    expect(seen).toEqual([]);
    expect(logged).toEqual([]);
  });

  it('the guard still answers first', async () => {
    expect(code(await hostile.handle({ method: 'GET', path: '/v1/patients/%ZZ/risk-summary', query: '', headers: {} }))).toBe('unauthorized');
  });

  it('well-formed escapes decode to the id, U+FFFD included when it is sent encoded', async () => {
    for (const [raw, id] of [['p%2F1', 'p/1'], ['%C3%A9t%C3%A9', 'été'], ['%EF%BF%BD', '\uFFFD'], ['%F0%9F%98%80', '😀'], ['%25', '%']]) {
      const a = await get(`/v1/patients/${raw}/risk-summary`);
      expect(a, raw).toEqual({ status: 200, body: { id } });
    }
    expect(await hostile.handle({ method: 'GET', path: '/admin/actors/patient/%C3%A9', query: 'tenant=demo', headers: { authorization: 'Bearer admin-token' } }))
      .toEqual({ status: 200, body: { kind: 'patient', id: 'é' } });
  });

  it('a malformed or non-UTF-8 query string', async () => {
    for (const query of ['cursor=%', 'cursor=%ZZ', 'cursor=%C0%AF', 'cursor=%ED%A0%80', 'limit=5&cursor=%E0%A4%A', 'cursor=a\uFFFD', 'cursor=\uD800']) {
      const a = await get('/v1/patients/p-1/timeline', 'tenant-token', query);
      expect(a.status, query).toBe(400);
      expect(code(a), query).toBe('invalid_parameter');
    }
    expect(await get('/v1/patients/p-1/biometrics', 'tenant-token', 'type=%C3%A9&limit=3')).toEqual({ status: 200, body: { id: 'p-1' } });
  });

  it('out-of-range numbers in the query', async () => {
    for (const query of ['from=999999999999999999999', 'to=999999999999999999999', 'from=8640000000000001', 'from=1e400', 'to=not-a-time',
      'limit=99999999999999999999999', 'limit=1e3000', 'limit=-1', 'limit=1.5']) {
      const a = await get('/v1/patients/p-1/timeline', 'tenant-token', query);
      expect(a.status, query).toBe(400);
      expect(code(a), query).toBe('invalid_parameter');
    }
    expect(await get('/v1/patients/p-1/timeline', 'tenant-token', 'from=8640000000000000&to=2026-01-01T00:00:00Z'))
      .toEqual({ status: 200, body: { id: 'p-1', from: 8.64e15, to: Date.parse('2026-01-01T00:00:00Z') } });
  });

  it('anything unexpected: 500 with a request id and a generic message; the error is logged under that id', async () => {
    const a = await get('/v1/patients');
    expect(a.status).toBe(500);
    expect(code(a)).toBe('internal');
    const message = (a.body as { error: { message: string } }).error.message;
    expect(message).not.toMatch(/secret|SELECT|TypeError/);
    const rid = /request id ([0-9a-f-]{36})/.exec(message)?.[1];
    expect(rid).toBeDefined();
    const line = logged.find((l) => l.includes(rid!));
    expect(line).toContain('GET "/v1/patients"');
    expect(line).toContain("TypeError: secret: SELECT * FROM events_raw WHERE tenant_id = 'demo'");
    // Each failure its own id.
    const b = await get('/v1/patients');
    expect((b.body as { error: { message: string } }).error.message).not.toContain(rid!);
    expect(hostile.fail(new RangeError('deep'), { method: 'POST', path: BATCH_PATH, query: '', headers: {} })).toMatchObject({ status: 500, body: { error: { code: 'internal' } } });
    expect(logged.at(-1)).toContain('RangeError: deep');
  });
});
