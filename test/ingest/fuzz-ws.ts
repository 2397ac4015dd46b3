// A raw RFC 6455 client for the hostile-input tests (edge-utf8, fuzz): unlike load/ws-client.ts
// it sends any opcode with any bytes (binary frames, text that is not UTF-8), and it tells a
// close frame (with its code) from a connection dropped without one (1006).
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;

export interface Closed {
  code: number;
  reason: string;
  /** True when the server sent a close frame; false when the TCP connection just ended (1006). */
  frame: boolean;
}

export class RawWs {
  /** Text messages received, in order. */
  readonly messages: string[] = [];
  readonly closed: Promise<Closed>;
  private onClosed!: (c: Closed) => void;
  private done = false;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(private readonly sock: Socket) {
    this.closed = new Promise((r) => (this.onClosed = r));
    sock.on('data', (d: Buffer) => this.feed(d));
    sock.on('close', () => this.finish({ code: 1006, reason: '', frame: false }));
    sock.on('error', () => undefined);
  }

  static open(port: number, path: string, token: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      sock.setNoDelay(true);
      let head = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        const status = Number(head.subarray(0, end).toString('latin1').split(' ')[1]);
        if (status !== 101) {
          sock.destroy();
          reject(new Error(`upgrade refused: ${status}`));
          return;
        }
        const ws = new RawWs(sock);
        if (head.length > end + 4) ws.feed(head.subarray(end + 4));
        resolve(ws);
      };
      sock.on('data', onData);
      sock.once('error', reject);
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    });
  }

  get isClosed(): boolean {
    return this.done;
  }

  /** One unfragmented frame, masked with a zero key (legal; no XOR work). */
  send(payload: Buffer | string, opcode = OP_TEXT): void {
    if (this.done) return;
    const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    let h: Buffer;
    if (p.length < 126) h = Buffer.from([0x80 | opcode, 0x80 | p.length]);
    else if (p.length < 65536) {
      h = Buffer.from([0x80 | opcode, 0x80 | 126, 0, 0]);
      h.writeUInt16BE(p.length, 2);
    } else {
      h = Buffer.alloc(10);
      h[0] = 0x80 | opcode;
      h[1] = 0x80 | 127;
      h.writeBigUInt64BE(BigInt(p.length), 2);
    }
    this.sock.write(Buffer.concat([h, Buffer.alloc(4), p]));
  }

  /** Resolves once `n` messages have arrived or the connection has closed. */
  async until(n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < n && !this.done) {
      if (Date.now() > deadline) throw new Error(`${this.messages.length} of ${n} messages after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    if (this.done) return;
    this.sock.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private finish(c: Closed): void {
    if (this.done) return;
    this.done = true;
    this.onClosed(c);
    this.wake();
  }

  private feed(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const op = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) return;
      const p = b.subarray(off, off + len);
      this.buf = b.subarray(off + len);
      if (op === 0x8) {
        this.finish({ code: p.length >= 2 ? p.readUInt16BE(0) : 1005, reason: p.subarray(2).toString('utf8'), frame: true });
        this.sock.end();
        return;
      }
      if (op === 0x9) this.sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | p.length]), Buffer.alloc(4), p]));
      else if (op === 0x1) {
        this.messages.push(p.toString('utf8'));
        this.wake();
      }
    }
  }
}
