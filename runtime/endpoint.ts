import type { MessagePort } from 'node:worker_threads';
import type * as Comlink from 'comlink';

type Listener = ((ev: { data: unknown }) => void) | { handleEvent(ev: { data: unknown }): void };

/**
 * comlink speaks the DOM `addEventListener` dialect; `node:worker_threads` ports (on Node and
 * on Deno's node compatibility layer) are EventEmitters. Same shape as comlink's nodeEndpoint,
 * written here so the runtime does not depend on DOM typings.
 */
export function portEndpoint(port: MessagePort): Comlink.Endpoint {
  const wrapped = new Map<Listener, (data: unknown) => void>();
  const ep = {
    postMessage: (msg: unknown, transfer?: unknown[]) => port.postMessage(msg, transfer as never),
    addEventListener(_type: string, l: Listener) {
      const f = (data: unknown) => ('handleEvent' in l ? l.handleEvent({ data }) : l({ data }));
      wrapped.set(l, f);
      port.on('message', f);
    },
    removeEventListener(_type: string, l: Listener) {
      const f = wrapped.get(l);
      if (f) port.off('message', f);
      wrapped.delete(l);
    },
    start: () => port.start(),
  };
  return ep as unknown as Comlink.Endpoint;
}
