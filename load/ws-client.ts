// A small RFC 6455 client over node:net, for the benchmark, the load generator and tests. Written
// here rather than taken from a package: it must be cheap enough per frame not to be the
// bottleneck it measures, and it has to show what the server did (close codes, refusals).
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface WsOptions {
  host: string;
  port: number;
  path: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export class WsHandshakeError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`WebSocket upgrade refused: HTTP ${status} ${body}`);
  }
}

const MASK = Buffer.alloc(4); // all-zero mask: legal, and lets frames be written without XOR work

export class WsClient {
  onMessage: (text: string) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};
  closed = false;
  closeCode = 0;
  private buf: Buffer = Buffer.alloc(0);
  private frags: Buffer[] = [];

  private constructor(private readonly sock: Socket) {}

  static open(o: WsOptions): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: o.host, port: o.port });
      sock.setNoDelay(true);
      const key = randomBytes(16).toString('base64');
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`WebSocket connect to ${o.host}:${o.port}${o.path} timed out`));
      }, o.timeoutMs ?? 5000);
      let head = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        clearTimeout(timer);
        sock.off('data', onData);
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        if (status !== 101) {
          // Let the refusal body arrive before reporting it.
          setTimeout(() => {
            sock.destroy();
            reject(new WsHandshakeError(status, head.subarray(end + 4).toString('utf8')));
          }, 20);
          return;
        }
        const c = new WsClient(sock);
        sock.on('data', (x: Buffer) => c.feed(x));
        sock.on('close', () => c.finish(c.closeCode || 1006, ''));
        sock.on('error', () => undefined);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) c.feed(rest);
        resolve(c);
      };
      sock.on('data', onData);
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(
        `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
  }

  /** Sends one text frame. Returns false when the socket buffer is full (wait for 'drain'). */
  send(text: string | Buffer): boolean {
    const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    const n = payload.length;
    let header: Buffer;
    if (n < 126) {
      header = Buffer.from([0x81, 0x80 | n]);
    } else if (n < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x81;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(n, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(n), 2);
    }
    this.sock.cork();
    this.sock.write(header);
    this.sock.write(MASK);
    const ok = this.sock.write(payload);
    this.sock.uncork();
    return ok;
  }

  onceDrain(): Promise<void> {
    return new Promise((r) => this.sock.once('drain', () => r()));
  }

  close(code = 1000): void {
    if (this.closed) return;
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code);
    this.sock.write(Buffer.concat([Buffer.from([0x88, 0x80 | 2]), MASK, b]));
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    this.onClose(code, reason);
  }

  private feed(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
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
      if (b[1]! & 0x80) off += 4; // servers do not mask, but tolerate it
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buf = b.subarray(off + len);
      if (op === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeCode = code;
        this.finish(code, payload.subarray(2).toString('utf8'));
        this.sock.end();
        return;
      }
      if (op === 0x9) {
        this.sock.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length]), MASK, payload]));
        continue;
      }
      if (op === 0xa) continue;
      if (op === 0x0 || op === 0x1 || op === 0x2) {
        if (!fin) {
          this.frags.push(Buffer.from(payload));
          continue;
        }
        let full = payload;
        if (this.frags.length > 0) {
          full = Buffer.concat([...this.frags, payload]);
          this.frags = [];
        }
        this.onMessage(full.toString('utf8'));
      }
    }
  }
}
