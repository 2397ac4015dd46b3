import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
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

/** Writes a benchmark's JSON report (creating load/reports/) and prints it. */
export function writeReport(out: string, report: unknown): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
}

/** Runs a benchmark's main, exiting non-zero with the error when it fails. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
