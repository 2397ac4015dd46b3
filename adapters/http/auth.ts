import { createHash, randomBytes } from 'node:crypto';

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
