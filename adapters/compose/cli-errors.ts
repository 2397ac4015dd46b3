// How the command line reports failure: one line naming the setting, URL or path at fault, never a
// stack trace (VIGIL_DEBUG=1 adds it, for bug reports).

import { VigilError } from '../../runtime/errors.js';

/** The code of every CliError: the CLI tells them apart by message and exit code, not by code. */
export const CLI_FAILED = 'cli_failed' as const;

/** A failure the user can act on: printed as `vigil <command>: <message>`, then exit with `exitCode`. */
export class CliError extends VigilError {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(CLI_FAILED, message);
    this.name = 'CliError';
  }
}

/** Node's errno codes, as words. */
const ERRNO: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRINUSE: 'the port is in use',
  EADDRNOTAVAIL: 'the address is not on this machine',
  EACCES: 'permission denied',
  ENOENT: 'no such file or directory',
  EISDIR: 'a directory, not a file',
};

/** The errno-like code of an error or of its causes (fetch wraps the socket's in `cause`). */
export function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Why a connection or file operation failed, in words ("connection refused"). */
export function reason(err: unknown): string {
  const code = errorCode(err);
  if (code && ERRNO[code]) return ERRNO[code];
  if (code && /^[A-Z_]+$/.test(code)) return code.toLowerCase().replace(/_/g, ' ');
  return firstLine(err);
}

/** A failed fetch to a node, as "cannot reach the node at URL: connection refused". */
export function unreachableNode(url: string, err: unknown): CliError {
  return new CliError(`cannot reach the node at ${url}: ${reason(err)}`);
}

export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim() || (err instanceof Error ? err.name : 'error');
}

/** fetch() rejects with a bare "fetch failed" TypeError when the node cannot be reached at all. */
export function isFetchFailure(err: unknown): boolean {
  return err instanceof TypeError && err.message === 'fetch failed';
}

/** A URL as it may be printed: a password in it (ClickHouse, Redis, NATS) is replaced by ***. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
