// Issue 16, the ops page's sign-in: the admin token is exchanged once for a session cookie
// (HttpOnly, SameSite=Strict, Path=/ops, expiring), sessions are bounded and can be ended, and the
// API keeps taking the token (Bearer or ?token=) from scripts. Through the route table, no server.
import { describe, expect, it } from 'vitest';
import { AlertHub } from '../../adapters/http/alert-hub.js';
import { cookieFrom, OPS_COOKIE, SessionBook, TokenBook } from '../../adapters/http/auth.js';
import type { HttpAnswer, HttpRequest } from '../../adapters/http/message.js';
import type { ReadApi } from '../../adapters/http/reads.js';
import { createHttpApi } from '../../adapters/http/routes.js';

const ADMIN = 'admin-token-for-ops';
const TENANT = 'tenant-token-for-ops';
const HOUR = 3600_000;

function setup(options: { ttlMs?: number; maxSessions?: number } = {}) {
  const clock = { now: Date.UTC(2026, 11, 3, 9, 0, 0) };
  const tokens = new TokenBook();
  tokens.addAdminToken(ADMIN);
  tokens.addTenantToken('demo', TENANT);
  const sessions = new SessionBook({ ...options, now: () => clock.now });
  const api = createHttpApi({
    tokens,
    reads: { shards: async () => ({ shards: 4 }) } as unknown as ReadApi,
    alerts: new AlertHub(null),
    metricsText: async () => ({ contentType: 'text/plain', text: '' }),
    ready: () => ({ ready: true, reasons: [] }),
    ops: { page: () => '<!doctype html><title>ops</title>', data: async () => ({ events_total: 3 }) },
    opsSessions: sessions,
  });
  const call = (method: string, target: string, o: { cookie?: string; bearer?: string; body?: string; contentType?: string; forwardedProto?: string } = {}): Promise<HttpAnswer> => {
    const [path, query = ''] = target.split('?') as [string, string?];
    const headers: Record<string, string> = {};
    if (o.cookie) headers.cookie = o.cookie;
    if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
    if (o.contentType) headers['content-type'] = o.contentType;
    if (o.forwardedProto) headers['x-forwarded-proto'] = o.forwardedProto;
    const req: HttpRequest = { method, path, query, headers, ...(o.body === undefined ? {} : { body: o.body }) };
    return api.handle(req);
  };
  const signIn = async (token = ADMIN): Promise<{ answer: HttpAnswer; cookie: string | null }> => {
    const answer = await call('POST', '/ops/session', { body: JSON.stringify({ token }), contentType: 'application/json' });
    const set = answer.headers?.['set-cookie'] ?? null;
    const id = cookieFrom(set ?? undefined, OPS_COOKIE);
    return { answer, cookie: id === null ? null : `${OPS_COOKIE}=${id}` };
  };
  return { clock, sessions, call, signIn };
}

const code = (a: HttpAnswer): string => (a.body as { error: { code: string } }).error.code;

describe('ops sign-in (POST /ops/session)', () => {
  it('exchanges the admin token for an HttpOnly, SameSite=Strict cookie scoped to /ops that expires in 8 h', async () => {
    const { signIn, call, clock } = setup();
    const { answer, cookie } = await signIn();
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ signed_in: true, expires_at: new Date(clock.now + 8 * HOUR).toISOString() });
    const set = answer.headers!['set-cookie']!;
    const attrs = set.split('; ');
    expect(attrs[0]).toMatch(/^vigil_ops_session=[A-Za-z0-9_-]{43}$/); // 32 random bytes
    expect(attrs.slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=28800', 'Path=/ops', 'SameSite=Strict']);
    expect(answer.headers!['cache-control']).toBe('no-store');
    // The session id is not the token, and the token is nowhere in the answer.
    expect(set).not.toContain(ADMIN);
    expect(JSON.stringify(answer)).not.toContain(ADMIN);
    // The cookie alone now opens /ops/data.
    const data = await call('GET', '/ops/data', { cookie: `theme=dark; ${cookie!}; other=1` });
    expect(data).toMatchObject({ status: 200, body: { events_total: 3 } });
    expect(await call('GET', '/ops/session', { cookie: cookie! })).toMatchObject({ status: 200, body: { signed_in: true } });
  });

  it('is Secure behind an HTTPS proxy (X-Forwarded-Proto: https), not on plain HTTP', async () => {
    const { call } = setup();
    const body = JSON.stringify({ token: ADMIN });
    const plain = await call('POST', '/ops/session', { body, contentType: 'application/json' });
    expect(plain.headers!['set-cookie']).not.toContain('Secure');
    const proxied = await call('POST', '/ops/session', { body, contentType: 'application/json', forwardedProto: 'https' });
    expect(proxied.status).toBe(200);
    expect(proxied.headers!['set-cookie']).toMatch(/; SameSite=Strict; Secure$/);
  });

  it('answers a wrong token 401 and a tenant token 403, with no cookie; a body without a token is 400', async () => {
    const { signIn, call } = setup();
    const wrong = await signIn('not-the-admin-token');
    expect(wrong.answer.status).toBe(401);
    expect(code(wrong.answer)).toBe('unauthorized');
    expect(wrong.cookie).toBeNull();
    const tenant = await signIn(TENANT);
    expect(tenant.answer.status).toBe(403);
    expect(code(tenant.answer)).toBe('forbidden');
    expect(tenant.cookie).toBeNull();
    expect((await call('POST', '/ops/session', { body: '{"token":', contentType: 'application/json' })).status).toBe(400);
    expect((await call('POST', '/ops/session', { body: '{}', contentType: 'application/json' })).status).toBe(400);
    // A plain HTML form's encoding works too.
    const form = await call('POST', '/ops/session', { body: `token=${encodeURIComponent(ADMIN)}`, contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(200);
    expect(form.headers!['set-cookie']).toMatch(/^vigil_ops_session=/);
  });

  it('expires: the cookie opens /ops/data until its expiry, then 401', async () => {
    const { signIn, call, clock } = setup({ ttlMs: 2 * HOUR });
    const { cookie, answer } = await signIn();
    expect(answer.headers!['set-cookie']).toContain('Max-Age=7200');
    clock.now += 2 * HOUR - 1;
    expect((await call('GET', '/ops/data', { cookie: cookie! })).status).toBe(200);
    clock.now += 1;
    const late = await call('GET', '/ops/data', { cookie: cookie! });
    expect(late.status).toBe(401);
    expect(code(late)).toBe('unauthorized');
    expect(await call('GET', '/ops/session', { cookie: cookie! })).toMatchObject({ status: 200, body: { signed_in: false, expires_at: null } });
  });

  it('signs out (DELETE /ops/session): the session ends on the node and the cookie is cleared', async () => {
    const { signIn, call, sessions } = setup();
    const { cookie } = await signIn();
    expect(sessions.size).toBe(1);
    const out = await call('DELETE', '/ops/session', { cookie: cookie! });
    expect(out).toMatchObject({ status: 200, body: { signed_in: false } });
    expect(out.headers!['set-cookie']).toBe('vigil_ops_session=; Path=/ops; Max-Age=0; HttpOnly; SameSite=Strict');
    expect(sessions.size).toBe(0);
    // A copy of the old cookie no longer works.
    expect((await call('GET', '/ops/data', { cookie: cookie! })).status).toBe(401);
    expect((await call('PUT', '/ops/session')).status).toBe(405);
  });

  it('keeps at most maxSessions: signing in beyond that ends the oldest session', async () => {
    const { signIn, call, sessions } = setup({ maxSessions: 3 });
    const cookies: string[] = [];
    for (let i = 0; i < 5; i++) cookies.push((await signIn()).cookie!);
    expect(sessions.size).toBe(3);
    const status = await Promise.all(cookies.map(async (c) => (await call('GET', '/ops/data', { cookie: c })).status));
    expect(status).toEqual([401, 401, 200, 200, 200]);
  });

  it('sweeps expired sessions when a new one is made', async () => {
    const { signIn, clock, sessions } = setup({ ttlMs: HOUR });
    await signIn();
    await signIn();
    clock.now += HOUR;
    await signIn();
    expect(sessions.size).toBe(1);
  });

  it('rejects a forged or unknown cookie', async () => {
    const { call, signIn } = setup();
    await signIn();
    for (const c of [`${OPS_COOKIE}=`, `${OPS_COOKIE}=AAAA`, `${OPS_COOKIE}=${ADMIN}`, `other=${ADMIN}`]) {
      expect((await call('GET', '/ops/data', { cookie: c })).status).toBe(401);
    }
  });
});

describe('the token stays out of the page URL; the API still takes it from scripts', () => {
  it('GET /ops?token=<admin> signs in and redirects to /ops (no token in the Location)', async () => {
    const { call } = setup();
    const a = await call('GET', `/ops?token=${ADMIN}`);
    expect(a.status).toBe(303);
    expect(a.headers!.location).toBe('/ops');
    const id = cookieFrom(a.headers!['set-cookie'], OPS_COOKIE);
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await call('GET', '/ops/data', { cookie: `${OPS_COOKIE}=${id!}` })).status).toBe(200);
    // A wrong token is dropped from the URL too, without a session.
    const b = await call('GET', '/ops?token=wrong');
    expect(b.status).toBe(303);
    expect(b.headers!.location).toBe('/ops');
    expect(b.headers!['set-cookie']).toBeUndefined();
  });

  it('the page shell itself needs no token (it holds no data) and is not cached', async () => {
    const { call } = setup();
    const a = await call('GET', '/ops');
    expect(a).toMatchObject({ status: 200, body: '<!doctype html><title>ops</title>', contentType: 'text/html; charset=utf-8' });
    expect(a.headers!['cache-control']).toBe('no-store');
  });

  it('/ops/data still takes the admin token by Bearer or ?token= (scripts)', async () => {
    const { call } = setup();
    expect((await call('GET', '/ops/data', { bearer: ADMIN })).status).toBe(200);
    expect((await call('GET', `/ops/data?token=${ADMIN}`)).status).toBe(200);
    expect((await call('GET', '/ops/data', { bearer: TENANT })).status).toBe(403);
    expect((await call('GET', '/ops/data')).status).toBe(401);
  });

  it('the session cookie opens only the ops page, not the admin API', async () => {
    const { call, signIn } = setup();
    const { cookie } = await signIn();
    expect((await call('GET', '/admin/shards', { cookie: cookie! })).status).toBe(401);
    expect((await call('GET', '/admin/shards', { bearer: ADMIN })).status).toBe(200);
  });
});

describe('SessionBook', () => {
  it('refuses options that make no sense, naming them', () => {
    expect(() => new SessionBook({ ttlMs: 0 })).toThrow(/ttlMs/);
    expect(() => new SessionBook({ maxSessions: 0 })).toThrow(/maxSessions/);
  });

  it('keeps only digests of session ids', () => {
    const b = new SessionBook();
    const s = b.create();
    expect(JSON.stringify([...(b as unknown as { expiry: Map<string, number> }).expiry.keys()])).not.toContain(s.id);
    expect(b.expiresAt(s.id)).toBe(s.expiresAt);
    expect(b.expiresAt(null)).toBeNull();
  });
});
