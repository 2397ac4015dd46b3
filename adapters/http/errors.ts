// Errors of the HTTP API (SPEC.md §3). Handlers throw ApiError with a code and a message; the
// status a code answers with is decided in STATUS_OF, the one table, so a code never means two
// statuses and a handler never picks one.
import { randomUUID } from 'node:crypto';
import type { HttpAnswer } from './message.js';

export const STATUS_OF = {
  // 400: the request cannot be read as sent.
  invalid_json: 400,
  /** A batch whose envelope has the wrong shape (actors/ingest.ts parseFrame). */
  invalid_type: 400,
  invalid_field: 400,
  invalid_parameter: 400,
  /** A body (or frame) whose bytes are not UTF-8: read as text it would silently change. */
  invalid_utf8: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  actor_failed: 409,
  rescale_in_progress: 409,
  payload_too_large: 413,
  /** More events in one batch than allowed (parseFrame). */
  too_many_events: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  internal: 500,
  not_implemented: 501,
  /** Another node answered a forwarded read with something unexpected. */
  forward_failed: 502,
  // 503: retry shortly (nothing is wrong with the request).
  unavailable: 503,
  not_owner: 503,
  owner_unreachable: 503,
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof STATUS_OF;

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(STATUS_OF, code);
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return STATUS_OF[this.code];
  }
}

/** A body over `max` bytes: the same refusal whichever transport counted the bytes. */
export function payloadTooLarge(max: number): ApiError {
  return new ApiError('payload_too_large', `body is over ${max} bytes`);
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/**
 * The answer for an error no handler meant to throw. Its message can carry anything (a store's
 * SQL, a file path, user data), so the caller is told only a request id, and the error itself
 * goes to the log under that id.
 */
export type InternalErrors = (err: unknown, context: string) => HttpAnswer;

export function internalErrors(log: (line: string) => void): InternalErrors {
  return (err, context) => {
    const requestId = randomUUID();
    const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
    log(`http: request ${requestId} (${context}) failed: ${detail}`);
    return { status: 500, body: errorBody('internal', `internal error (request id ${requestId})`) };
  };
}

const toStderr = internalErrors((line) => console.error(line));

/** The answer for anything a handler threw: an ApiError by its code, anything else a logged 500. */
export function errorAnswer(err: unknown, internal: InternalErrors = toStderr, context = 'unknown request'): HttpAnswer {
  if (err instanceof ApiError) return { status: err.status, body: errorBody(err.code, err.message) };
  return internal(err, context);
}
