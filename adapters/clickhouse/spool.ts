// One table's on-disk spool: a directory of `<seq>.ndjson` files, one batch each, named so that
// a directory listing sorts them in send order. A file appears under its final name only once
// its content is on disk (temp name, fsync, rename, fsync of the directory), so a crash leaves
// either the whole batch or a temp file, never half a batch that would be sent as if complete.
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';

const SEQ_DIGITS = 16;
const SPOOL_FILE = /^(\d+)\.ndjson$/;
const seqName = (seq: number) => `${String(seq).padStart(SEQ_DIGITS, '0')}.ndjson`;

export interface SpoolFile {
  readonly seq: number;
  readonly path: string;
  readonly bytes: number;
}

export interface SpoolListing {
  /** Complete batches, oldest first. */
  readonly files: SpoolFile[];
  /** Temp files of spool writes that never completed (their batches were still in memory). */
  readonly temps: string[];
}

/** Creates the directory if needed and lists what an earlier process left in it. */
export async function listSpool(dir: string): Promise<SpoolListing> {
  await mkdir(dir, { recursive: true });
  const files: SpoolFile[] = [];
  const temps: string[] = [];
  for (const name of await readdir(dir)) {
    const m = SPOOL_FILE.exec(name);
    const path = join(dir, name);
    if (!m) {
      if (name.endsWith('.tmp')) temps.push(path);
      continue;
    }
    const { size } = await stat(path);
    files.push({ seq: Number(m[1]), path, bytes: size });
  }
  files.sort((a, b) => a.seq - b.seq);
  return { files, temps };
}

/** Writes batch `seq` durably and returns its path. */
export async function writeSpoolFile(dir: string, seq: number, body: string): Promise<string> {
  const path = join(dir, seqName(seq));
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(body, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  fsyncDir(dir);
  return path;
}

function fsyncDir(dir: string): void {
  // Makes the rename durable. Not supported everywhere (and not needed on some filesystems).
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
