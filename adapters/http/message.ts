// What the transport-neutral HTTP layer takes and gives: a request read by a transport (uWS
// today) and the answer it should write. No transport type appears here.

/** A request as far as routing needs it: everything but the body. */
export interface HttpHead {
  /** Upper case, as on the wire: 'GET', 'POST'. */
  method: string;
  /** The path without the query string, as sent (not decoded). */
  path: string;
  /** The raw query string, without the '?' ('' when none). */
  query: string;
  /** Lower-case names; the first value when a header is repeated. */
  headers: Readonly<Record<string, string>>;
}

export interface HttpRequest extends HttpHead {
  /** UTF-8 text; present only for routes that read a body. */
  body?: string;
}

export interface HttpAnswer {
  status: number;
  /** A string is written as is; anything else as JSON. */
  body: unknown;
  /** Default application/json. */
  contentType?: string;
  /** Further response headers, lower-case names (e.g. set-cookie, location, cache-control). */
  headers?: Readonly<Record<string, string>>;
}

export function ok(body: unknown, contentType?: string): HttpAnswer {
  return contentType === undefined ? { status: 200, body } : { status: 200, body, contentType };
}
