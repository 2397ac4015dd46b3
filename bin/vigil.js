#!/usr/bin/env node
// The package's bin: runs the compiled CLI (`npm run build` first).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/adapters/compose/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('vigil: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
await import(cli.href);
