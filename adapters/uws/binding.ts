import { createRequire } from 'node:module';
import type * as uws from 'uWebSockets.js';

export type Uws = typeof uws;

/**
 * Loads the native uWebSockets.js binding, or refuses to start. The package's own entry point
 * only warns and falls back to a slow pure-JS server when its binary does not load (DESIGN.md
 * decision 8); an ingest node on that fallback would miss every throughput target silently.
 */
export function loadUws(): Uws {
  const require = createRequire(import.meta.url);
  const pkgDir = require.resolve('uWebSockets.js/package.json').replace(/package\.json$/, '');
  const file = `${pkgDir}binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    return require(file) as Uws;
  } catch (err) {
    throw new Error(
      `uWebSockets.js native binding could not be loaded (${file}): ${(err as Error).message}. ` +
        `This build supports Node ABI 93/108/115 (Node 16/18/20) on glibc; refusing to start on the slow fallback.`,
      { cause: err },
    );
  }
}
