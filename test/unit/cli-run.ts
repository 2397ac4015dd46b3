// Runs the command line as a user does: `node bin/vigil.js ...` in a child process (the compiled
// CLI in dist/, so `npm run build` first), with no VIGIL_* from the test's own environment.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const VIGIL = join(REPO, 'bin', 'vigil.js');
export const BUILT = existsSync(join(REPO, 'dist', 'adapters', 'compose', 'cli.js'));

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_')));
  return { ...base, ...env };
}

export function vigil(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Run {
  const r = spawnSync(process.execPath, [VIGIL, ...args], {
    cwd: opts.cwd ?? REPO, env: cleanEnv(opts.env ?? {}), encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As vigil(), without blocking this process's event loop (needed when the node runs in it). */
export function vigilAsync(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [VIGIL, ...args], { cwd: opts.cwd ?? REPO, env: cleanEnv(opts.env ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A `vigil start` left running until stop(); resolves once it prints its URL. */
export async function vigilStart(env: Record<string, string>, cwd: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const p = spawn(process.execPath, [VIGIL, 'start'], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil start printed no URL in 60 s: ${out}${err}`)), 60_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /vigil listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vigil start exited ${code}: ${out}${err}`));
    });
  });
  return {
    url,
    pid: p.pid!,
    stop: () => new Promise<void>((resolve) => {
      if (p.exitCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    }),
  };
}

/** A port nothing listens on (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The error contract of the CLI: one line on stderr, no stack frames, no Node error class dump. */
export function expectOneLine(r: Run): string {
  const lines = r.stderr.trim().split('\n');
  if (lines.length !== 1 || /\n\s+at |ERR_[A-Z_]+|TypeError|NatsError|VigilError/.test(r.stderr)) {
    throw new Error(`expected one tidy line on stderr, got:\n${r.stderr}`);
  }
  return lines[0]!;
}
