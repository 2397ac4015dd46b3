import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from sources or from dist/. */
export function repoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? fileURLToPath(new URL('../../', import.meta.url)) : fileURLToPath(new URL('../', import.meta.url));
}

export function reportPath(name: string): string {
  return `${repoRoot()}load/reports/${name}`;
}

/** Worker threads import compiled fixtures; sources map to their dist/ twin. */
export function fixtureModule(name: string): string {
  return new URL(`dist/test/fixtures/${name}.js`, `file://${repoRoot()}`).href;
}
