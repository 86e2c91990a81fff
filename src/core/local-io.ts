/**
 * Local file system failures, turned into one clear sentence each (exit 1), and small helpers
 * for writing files so that nothing half-written ever sits under a final name.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, statfs, unlink } from 'node:fs/promises';
import { CfimgError, LocalIOError } from './errors.js';

const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full: free some space and run the command again to resume',
  EDQUOT: 'the disk quota is exhausted: free some space and run the command again to resume',
  EACCES: 'permission denied: choose a place you can write to',
  EPERM: 'operation not permitted: choose a place you can write to',
  EROFS: 'the file system is read-only: choose another place',
  ENOENT: 'no such file or directory: create the directory first or fix the path',
  ENOTDIR: 'a part of the path is not a directory: fix the path',
  EISDIR: 'it is a directory: give a file name',
  EEXIST: 'it already exists',
  EPIPE: 'the output pipe was closed by the reader',
  EIO: 'an I/O error occurred on the device',
};

/** A LocalIOError naming the path and what to do, from a Node fs error. */
export function localError(err: unknown, path: string, doing = 'writing'): unknown {
  if (err instanceof CfimgError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err;
  const reason = REASONS[code] ?? `${(err as Error).message}`;
  return new LocalIOError(`${doing} ${path}: ${reason}`, { cause: err });
}

/** Writes a small file atomically: a temporary file beside it, synced, then renamed over it. */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw localError(err, path);
  }
}

/** Removes a file if it is there. */
export async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw localError(err, path, 'removing');
  });
}

/** Fails early when the file system of `dir` obviously lacks room for `bytes`; `fix` says how. */
export async function checkSpace(dir: string, bytes: number, fix: string): Promise<void> {
  const fs = await statfs(dir).catch(() => undefined);
  const free = fs ? fs.bavail * fs.bsize : Number.POSITIVE_INFINITY;
  if (free < bytes)
    throw new LocalIOError(`not enough space in ${dir}: need ${bytes} bytes, ${free} free; ${fix}`);
}

/**
 * Puts a finished, verified `part` under its final name: synced to disk first, so a crash right
 * after the rename cannot leave a short file there, then the resume record beside it removed.
 */
export async function commitPart(
  fh: FileHandle,
  part: string,
  target: string,
  statePath: string,
): Promise<void> {
  try {
    await fh.sync();
    await fh.close();
    await rename(part, target);
    await removeIfPresent(statePath);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw localError(err, target);
  }
}
