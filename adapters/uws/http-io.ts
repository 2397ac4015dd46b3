// Reading a request from uWS and writing an answer to it: the only place that knows how uWS
// hands over headers and body chunks. The routes themselves are transport-neutral (adapters/http/).
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { payloadTooLarge, type ApiError } from '../http/errors.js';
import type { HttpAnswer, HttpHead } from '../http/message.js';

const STATUS: Record<number, string> = {
  200: '200 OK', 303: '303 See Other', 400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 409: '409 Conflict', 413: '413 Payload Too Large', 415: '415 Unsupported Media Type',
  426: '426 Upgrade Required', 429: '429 Too Many Requests', 500: '500 Internal Server Error', 501: '501 Not Implemented',
  503: '503 Service Unavailable',
};

export function json(res: HttpResponse, status: number, body: unknown, contentType = 'application/json', headers?: Readonly<Record<string, string>>): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.cork(() => {
    res.writeStatus(STATUS[status] ?? `${status}`);
    res.writeHeader('content-type', contentType);
    if (headers) for (const k in headers) res.writeHeader(k, headers[k]!);
    res.end(text);
  });
}

export function writeAnswer(res: HttpResponse, a: HttpAnswer): void {
  json(res, a.status, a.body, a.contentType, a.headers);
}

/** Everything but the body. The request object is only valid until the handler returns. */
export function readHead(req: HttpRequest): HttpHead {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  // uWS gives lower-case names; keep the first of a repeated header, as getHeader does.
  req.forEach((k, v) => {
    headers[k] ??= v;
  });
  return { method: req.getMethod().toUpperCase(), path: req.getUrl(), query: req.getQuery() ?? '', headers };
}

/** The body as UTF-8 text, or a 413 as soon as it is over `max` bytes (the rest is not kept). */
export function readBody(res: HttpResponse, max: number, isAborted: () => boolean, cb: (err: ApiError | null, text?: string) => void): void {
  readBytes(res, max, isAborted, (err, bytes) => cb(err, bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')));
}

/** The body's bytes (this request's own copy), or a 413 as soon as it is over `max` bytes. */
export function readBytes(res: HttpResponse, max: number, isAborted: () => boolean, cb: (err: ApiError | null, bytes?: Uint8Array) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((ab, isLast) => {
    if (over) return;
    size += ab.byteLength;
    if (size > max) {
      over = true;
      cb(payloadTooLarge(max));
      return;
    }
    // The chunk is only valid during this callback: copy it.
    chunks.push(Buffer.from(Buffer.from(ab)));
    if (!isLast || isAborted()) return;
    // One exactly-sized buffer of its own, so the frame pipeline can transfer it.
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    cb(null, out);
  });
}
