import { memoryPorts } from '../adapters/memory/index.js';
import type { RuntimeOptions } from '../runtime/options.js';
import { ActorRuntime, type RuntimeHooks, type RuntimePorts } from '../runtime/runtime.js';

/** Worker threads import compiled JavaScript: fixtures are built to dist/ by `npm run build`. */
export function fixtureUrl(name: string): string {
  return new URL(`../dist/test/fixtures/${name}.js`, import.meta.url).href;
}

export async function startRuntime(
  opts: Partial<RuntimeOptions> = {},
  ports: RuntimePorts = memoryPorts(),
  hooks: RuntimeHooks = {},
): Promise<ActorRuntime> {
  return ActorRuntime.start({ actorModules: [fixtureUrl('counter-actor')], shards: 4, hosts: 2, ...opts }, ports, hooks);
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
