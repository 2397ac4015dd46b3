// Every command answers --help (and -h) with its usage on stdout and exit 0, starts nothing, and
// a bad option is one line naming it (exit 2), not parseArgs' stack trace.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT, expectOneLine, tempDir, vigil } from './cli-run.js';

const COMMANDS = ['start', 'load', 'bench', 'import', 'migrate', 'inspect', 'shards'];

describe.skipIf(!BUILT)('vigil <command> --help (node bin/vigil.js, after npm run build)', () => {
  const cwd = tempDir('vigil-cli-help-');
  afterAll(() => cwd.remove());

  it.each(COMMANDS.flatMap((c) => [[c, '--help'], [c, '-h']]))('vigil %s %s prints its usage and exits 0', (cmd, flag) => {
    const r = vigil([cmd, flag], { cwd: cwd.dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: vigil ${cmd}\\b`));
  }, 30_000);

  it('--help after other arguments still wins (vigil import feed.csv --tenant t --help)', () => {
    const r = vigil(['import', 'feed.csv', '--tenant', 't', '--help'], { cwd: cwd.dir });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: vigil import FILE/);
  });

  it('vigil start --help starts no node: exits at once, nothing written to the data dir', () => {
    const t0 = Date.now();
    const r = vigil(['start', '--help'], { cwd: cwd.dir, env: { VIGIL_DATA_DIR: join(cwd.dir, 'data') } });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/listening/);
    expect(existsSync(join(cwd.dir, 'data'))).toBe(false);
    expect(readdirSync(cwd.dir)).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('vigil help COMMAND is the same text as vigil COMMAND --help; vigil help lists every command', () => {
    for (const cmd of COMMANDS) expect(vigil(['help', cmd]).stdout).toBe(vigil([cmd, '--help']).stdout);
    const all = vigil(['help']);
    expect(all.status).toBe(0);
    for (const cmd of COMMANDS) expect(all.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    expect(vigil(['--help']).stdout).toBe(all.stdout);
    expect(all.stdout).toMatch(/VIGIL_CONFIG \(a YAML or JSON file\)/);
  }, 60_000);

  it.each([
    ['inspect', ['inspect', 'patient', 'p1', '--tenant', 't', '--bogus']],
    ['shards', ['shards', 'status', '--bogus']],
    ['import', ['import', 'f.csv', '--tenant', 't', '--bogus']],
  ])('an unknown option of %s is one line naming it, exit 2', (cmd, args) => {
    const r = vigil(args, { cwd: cwd.dir });
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toBe(`vigil ${cmd}: Unknown option '--bogus' (vigil ${cmd} --help for usage)`);
  });

  it('start and migrate take no arguments; an unknown command or help topic exits 2', () => {
    const r = vigil(['start', 'now'], { cwd: cwd.dir });
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toMatch(/^vigil start: unexpected argument "now"/);
    expect(vigil(['help', 'nope']).status).toBe(2);
    expect(vigil(['frobnicate']).status).toBe(2);
    expect(vigil([]).status).toBe(2);
  });
});
