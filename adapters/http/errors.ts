// Errors of the HTTP API (SPEC.md §3). Handlers throw ApiError (a VigilError) with a code and a
// message; the status a code answers with is decided in STATUS_OF, the one table, so a code never
// means two statuses and a handler never picks one. Frame refusals from the ingest worker
// (FrameError codes) answer from this table too (adapters/uws/ingest-routes.ts).
import { randomUUID } from 'node:crypto';
import { VigilError } from '../../runtime/errors.js';
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
  /** A frame nesting deeper than the limit (actors/contracts/limits.ts), refused whole. */
  too_deep: 400,
  /** An object or array with more entries than the limit: the content is refused, not the byte count (that is payload_too_large). */
  too_large: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  actor_failed: 409,
  rescale_in_progress: 409,
  /** Acknowledging or shelving an alert whose condition has already resolved. */
  alert_resolved: 409,
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

export class ApiError extends VigilError {
  declare readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(code, message);
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

/**
 * The answer for anything a handler threw: a VigilError whose code the table knows answers by
 * its code, anything else is a logged 500. An `internal` code answers with its message only when
 * a handler chose it (ApiError); from anywhere else its message may carry what callers must not see.
 */
export function errorAnswer(err: unknown, internal: InternalErrors = toStderr, context = 'unknown request'): HttpAnswer {
  if (err instanceof VigilError && isApiErrorCode(err.code) && (err.code !== 'internal' || err instanceof ApiError)) {
    return { status: STATUS_OF[err.code], body: errorBody(err.code, err.message) };
  }
  return internal(err, context);
}
