// The registry this project installs from lacks some other-platform optional binaries (e.g.
// @chdb/lib-darwin-x64, @deno/win32-x64 at the pinned versions), so `npm install` writes a lock
// without entries for them and `npm ci` then refuses the lock as out of sync. This adds inert
// entries (optional, with os/cpu/libc) for every missing optional dependency: npm ci skips them
// on this platform without fetching. Run it after any `npm install` that rewrites the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pk = lock.packages;
const added = [];
for (const meta of Object.values(pk)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pk[key]) continue;
    const name = dep.split('/').pop();
    const os = name.includes('darwin') ? ['darwin'] : name.includes('win32') ? ['win32'] : name.includes('linux') ? ['linux'] : null;
    const cpu = name.includes('arm64') ? ['arm64'] : name.includes('x64') ? ['x64'] : null;
    if (!os || !cpu) continue;
    pk[key] = { version, cpu, optional: true, os, ...(/gnu|glibc/.test(name) ? { libc: ['glibc'] } : {}) };
    added.push(`${dep}@${version}`);
  }
}
lock.packages = Object.fromEntries(Object.entries(pk).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `added inert lock entries: ${added.join(', ')}` : 'lock already complete');
