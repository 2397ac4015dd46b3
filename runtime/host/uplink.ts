import type { FromHost } from '../protocol.js';

/**
 * The host's one way up to the main thread (in a worker, its data port). Loads and commits
 * share one request counter: their replies are matched by `req`.
 */
export class Uplink {
  private nextReq = 1;
  constructor(readonly post: (msg: FromHost) => void) {}

  request(): number {
    return this.nextReq++;
  }
}
