import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixtureUrl } from '../support.js';

const run = promisify(execFile);
const deno = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));

describe('runs on Deno 2', () => {
  it('the runtime core with its worker threads, supervision included, works under deno', async () => {
    const script = fileURLToPath(fixtureUrl('deno-smoke'));
    const { stdout } = await run(deno, ['run', '-A', script], {
      env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { runtime: string; total: number; pings: number; restarts: number };
    expect(result.runtime).toMatch(/^2\./);
    expect(result.total).toBe(4000);
    // Actor-to-actor messages are not logged: those on their way to the host when it dies are
    // lost (replayed events on the restarted host send theirs again). Every ping of the second
    // round, sent after the restart, must arrive.
    expect(result.pings).toBeGreaterThanOrEqual(20);
    expect(result.restarts).toBe(1);
  }, 90_000);
});
