import { createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../runtime/errors.js';

export const ADMIN = Symbol('admin');

/** sha256 of a token, hex. Tenant files store `sha256:<hex>`; plaintext tokens are never kept. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Tokens to tenants, keyed by the token's sha256. A lookup compares digests of the guess, not
 * the guess itself, so response timing says nothing about how close a guess was.
 */
export class TokenBook {
  private readonly byHash = new Map<string, string | typeof ADMIN>();

  addTenantToken(tenant: string, tokenOrHash: string): void {
    this.byHash.set(tokenOrHash.startsWith('sha256:') ? tokenOrHash.slice(7).toLowerCase() : hashToken(tokenOrHash), tenant);
  }

  addAdminToken(tokenOrHash: string): void {
    this.byHash.set(tokenOrHash.startsWith('sha256:') ? tokenOrHash.slice(7).toLowerCase() : hashToken(tokenOrHash), ADMIN);
  }

  /** The tenant of a token, ADMIN, or null. */
  resolve(token: string | null): string | typeof ADMIN | null {
    if (!token) return null;
    return this.byHash.get(hashToken(token)) ?? null;
  }
}

/** `Authorization: Bearer <token>` or `?token=`. */
export function tokenFrom(authorization: string, query: string): string | null {
  if (authorization.startsWith('Bearer ')) return authorization.slice(7).trim() || null;
  if (query) {
    const t = new URLSearchParams(query).get('token');
    if (t) return t;
  }
  return null;
}

// ------------------------------------------------------------------------------------------
// Ops page sessions (issue 16): the page signs in once with the admin token and then carries an
// HttpOnly cookie, so the token never sits in the address bar, history or access logs.

/** The ops page's session cookie; its Path is /ops, so the API (/v1, /admin) never sees it. */
export const OPS_COOKIE = 'vigil_ops_session';
export const OPS_COOKIE_PATH = '/ops';

export interface SessionOptions {
  /** How long a session lasts from sign-in (absolute, not sliding). Default 8 h. */
  ttlMs: number;
  /** Sessions kept at once; signing in beyond that drops the oldest. Default 64. */
  maxSessions: number;
  now: () => number;
}

export const kDefaultSessionOptions: SessionOptions = { ttlMs: 8 * 3600_000, maxSessions: 64, now: Date.now };

function checkSessionOptions(o: SessionOptions): SessionOptions {
  if (!Number.isSafeInteger(o.ttlMs) || o.ttlMs < 1000) throw new ConfigError(`session ttlMs must be an integer of at least 1000 ms, got ${o.ttlMs}`);
  if (!Number.isSafeInteger(o.maxSessions) || o.maxSessions < 1) throw new ConfigError(`session maxSessions must be a positive integer, got ${o.maxSessions}`);
  return o;
}

/**
 * Sessions in memory (a restart signs everyone out, which is fine for an admin page), bounded.
 * Keyed by the sha256 of the session id, like TokenBook: what is kept cannot be replayed as a cookie.
 */
export class SessionBook {
  readonly options: SessionOptions;
  /** sha256(id) -> expiry (ms). Insertion order is sign-in order, so the first key is the oldest. */
  private readonly expiry = new Map<string, number>();

  constructor(options: Partial<SessionOptions> = {}) {
    this.options = checkSessionOptions({ ...kDefaultSessionOptions, ...options });
  }

  get size(): number {
    return this.expiry.size;
  }

  /** A new session id (the cookie's value) and when it expires. */
  create(): { id: string; expiresAt: number } {
    const now = this.options.now();
    this.sweep(now);
    while (this.expiry.size >= this.options.maxSessions) this.expiry.delete(this.expiry.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + this.options.ttlMs;
    this.expiry.set(hashToken(id), expiresAt);
    return { id, expiresAt };
  }

  /** The expiry of a live session, or null (unknown, signed out or expired). */
  expiresAt(id: string | null): number | null {
    if (!id) return null;
    const h = hashToken(id);
    const at = this.expiry.get(h);
    if (at === undefined) return null;
    if (at <= this.options.now()) {
      this.expiry.delete(h);
      return null;
    }
    return at;
  }

  revoke(id: string | null): void {
    if (id) this.expiry.delete(hashToken(id));
  }

  private sweep(now: number): void {
    for (const [h, at] of this.expiry) if (at <= now) this.expiry.delete(h);
  }
}

/** One cookie's value from a Cookie header, or null. */
export function cookieFrom(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * The Set-Cookie value for a session. `secure` when the page was reached over HTTPS (behind a
 * proxy that says so): a Secure cookie on plain HTTP would be dropped by the browser.
 */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return `${OPS_COOKIE}=${id}; Path=${OPS_COOKIE_PATH}; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes the session cookie (sign-out). */
export function clearedSessionCookie(secure: boolean): string {
  return `${OPS_COOKIE}=; Path=${OPS_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
