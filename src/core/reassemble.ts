/**
 * `reassemble`: joins a directory of segments into one image file, in the order the manifest
 * file records (or, with no manifest, byte-wise name order: never a shell glob, which puts
 * `-00010` before `-00002` or skips it). Each segment's MD5 is checked as it streams through,
 * the image is written as `FILE.part` and renamed when whole. With `removeSegments` each segment
 * file is deleted once its bytes are in `FILE.part` and synced, so the disk needs little more
 * than one image; a record beside `FILE.part` lets a failed or interrupted run continue.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { interruptedOr } from './download.js';
import { IntegrityError, UsageError } from './errors.js';
import { READ_CHUNK } from './local-hash.js';
import {
  checkSpace,
  commitPart,
  localError,
  removeIfPresent,
  writeFileAtomic,
} from './local-io.js';
import {
  type JoinPiece,
  type JoinPlan,
  type JoinState,
  joinPieces,
  refetchHint,
  resumableState,
} from './reassemble-plan.js';
import { statePathFor } from './state.js';

export interface ReassembleEvents {
  onBytes?: (delta: number) => void;
  onSegmentDone?: (piece: JoinPiece, removed: boolean) => void;
  onWarning?: (message: string) => void;
  /** Once the pieces are known; `done*` is what an earlier run already put in FILE.part. */
  onStart?: (info: {
    segments: number;
    bytes: number;
    doneSegments: number;
    doneBytes: number;
  }) => void;
}

export interface ReassembleOptions {
  removeSegments: boolean;
  force: boolean;
  signal?: AbortSignal;
  events?: ReassembleEvents;
}

export interface ReassembleResult {
  path: string;
  bytes: number;
  segments: number;
  /** Segments whose MD5 was checked (all of them with a manifest, none without). */
  md5Checked: number;
  removed: number;
  resumedSegments: number;
  manifest: boolean;
}

/** Where the progress of joining into `target` is recorded. */
export function joinStatePath(target: string): string {
  return `${target}.part.join.json`;
}

/** Joins the segments of `dir` into `target`; see the module comment. */
export async function reassemble(
  dir: string,
  target: string,
  opts: ReassembleOptions,
): Promise<ReassembleResult> {
  const events = opts.events ?? {};
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory())
    throw new UsageError(
      `${dir} ${s ? 'is not a directory' : 'does not exist'}: give the directory of the segments`,
    );
  await checkTarget(target, opts.force);
  const part = `${target}.part`;
  const statePath = joinStatePath(target);
  const plan = await joinPieces(dir, target, events);
  // A `cfimg get` to the same FILE.part since then may have written anywhere in it.
  const getRecord = await stat(statePathFor(target)).catch(() => undefined);
  const saved = getRecord ? undefined : await resumableState(statePath, part, dir, plan);
  const state: JoinState = saved ?? { version: 1, dir, pieces: plan.pieces, done: 0, bytes: 0 };
  const { pieces } = state;
  await preflight(dir, pieces.slice(state.done), plan);
  const total = pieces.reduce((n, p) => n + p.bytes, 0);
  const progress = { doneSegments: state.done, doneBytes: state.bytes };
  events.onStart?.({ segments: pieces.length, bytes: total, ...progress });
  const biggest = Math.max(0, ...pieces.map((p) => p.bytes));
  const need = opts.removeSegments ? biggest : total - state.bytes;
  await checkSpace(dirname(target), need, 'free some space, or pass --remove-segments');

  const fh = await open(part, saved ? 'r+' : 'w', 0o644).catch((err) => {
    throw localError(err, part);
  });
  let removed = 0;
  try {
    if (!saved) await removeIfPresent(statePathFor(target)); // a `get` record no longer applies
    await fh.truncate(state.bytes);
    await saveState(statePath, state);
    for (let i = state.done; i < pieces.length; i++) {
      const piece = pieces[i] as JoinPiece;
      await appendPiece(fh, part, dir, piece, state.bytes, { ...opts, plan });
      await fh.datasync().catch((err) => {
        throw localError(err, part);
      });
      state.done = i + 1;
      state.bytes += piece.bytes;
      await saveState(statePath, state);
      if (opts.removeSegments) {
        await unlink(join(dir, piece.file)).catch((err) => {
          throw localError(err, join(dir, piece.file), 'removing');
        });
        removed++;
      }
      events.onSegmentDone?.(piece, opts.removeSegments);
    }
  } catch (err) {
    await fh.truncate(state.bytes).catch(() => undefined);
    await fh.close().catch(() => undefined);
    const gone = opts.removeSegments ? state.done : 0;
    if (gone > 0)
      events.onWarning?.(
        `${part} holds the first ${gone} segments, whose files were removed: keep it, and run ` +
          'the same command again to continue once the problem is fixed',
      );
    else if (state.done > 0)
      events.onWarning?.(`${part} is kept: run the same command again to continue`);
    throw interruptedOr(err, opts.signal);
  }

  await commitPart(fh, part, target, statePath);
  return {
    path: target,
    bytes: total,
    segments: pieces.length,
    md5Checked: pieces.filter((p) => p.md5).length,
    removed,
    resumedSegments: saved?.done ?? 0,
    manifest: !!plan.manifest,
  };
}

async function checkTarget(target: string, force: boolean): Promise<void> {
  const s = await stat(target).catch(() => undefined);
  if (s?.isDirectory()) throw new UsageError(`${target} is a directory: give a file name with -o`);
  if (s && !force)
    throw new UsageError(
      `${target} already exists: remove it, choose another name with -o, or pass --force`,
    );
}

/** Every segment still to join is there with its recorded size, before a byte is written. */
async function preflight(dir: string, pieces: JoinPiece[], plan: JoinPlan): Promise<void> {
  const recorded = plan.manifest ? 'the manifest says' : 'it had';
  for (const piece of pieces) {
    const path = join(dir, piece.file);
    const s = await stat(path).catch(() => undefined);
    const fix = refetchHint(dir, plan, piece);
    if (!s?.isFile())
      throw new IntegrityError(`segment file ${path} is missing: ${fix}, then run this again`);
    if (s.size !== piece.bytes)
      throw new IntegrityError(
        `segment file ${path} has ${s.size} bytes, ${recorded} ${piece.bytes}: ${fix}, then run this again`,
      );
  }
}

/** Streams one segment file to `position` of FILE.part, checking its size and MD5. */
async function appendPiece(
  fh: FileHandle,
  part: string,
  dir: string,
  piece: JoinPiece,
  position: number,
  opts: ReassembleOptions & { plan: JoinPlan },
): Promise<void> {
  const path = join(dir, piece.file);
  const md5 = createHash('md5');
  let pos = position;
  try {
    const stream = createReadStream(path, {
      highWaterMark: READ_CHUNK,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for await (const data of stream) {
      const chunk = data as Buffer;
      md5.update(chunk);
      const { bytesWritten } = await fh.write(chunk, 0, chunk.length, pos);
      if (bytesWritten !== chunk.length)
        throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      pos += chunk.length;
      opts.events?.onBytes?.(chunk.length);
    }
  } catch (err) {
    throw localError(err, (err as { path?: string }).path === path ? path : part);
  }
  const actual = md5.digest('hex');
  const wrong =
    pos - position !== piece.bytes
      ? `has ${pos - position} bytes, expected ${piece.bytes}`
      : piece.md5 && actual !== piece.md5
        ? `has MD5 ${actual}, expected ${piece.md5}`
        : undefined;
  if (wrong) {
    await fh.truncate(position).catch(() => undefined);
    opts.events?.onBytes?.(position - pos);
    throw new IntegrityError(
      `segment ${piece.name} (${path}) ${wrong}: ${refetchHint(dir, opts.plan, piece)}, then run this again`,
    );
  }
}

async function saveState(path: string, state: JoinState): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(state)}\n`, 0o600);
}
