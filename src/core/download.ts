/**
 * `get`: a whole image to a file, or to a stream. To a file, segments are fetched concurrently
 * straight into their offsets of one `FILE.part`, each hashed as it arrives; the file takes its
 * final name only when every segment has matched its MD5, and a record beside it lets an
 * interrupted run resume with the segments already verified. To a stream, byte ranges are
 * fetched ahead in a bounded window and written strictly in order.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { IntegrityError, InterruptedError, UsageError } from './errors.js';
import type { DownloadPlan, Segment } from './large-object.js';
import { checkSpace, commitPart, localError } from './local-io.js';
import { PositionalWriter } from './positional-writer.js';
import type { RetryPolicy } from './retry.js';
import {
  newState,
  type ResumeState,
  readState,
  sameDownload,
  statePathFor,
  writeState,
} from './state.js';
import type { SwiftClient } from './swift.js';
import { fetchPiece, fetchRange, runPool, type TransferEvents } from './transfer.js';

export interface DownloadOptions {
  concurrency: number;
  policy: RetryPolicy;
  signal?: AbortSignal;
  events?: TransferEvents & {
    /** Once the plan is known: how many segments and bytes are already done (resume). */
    onStart?: (info: { keptSegments: number; keptBytes: number; resumed: boolean }) => void;
    onSegmentDone?: (segment: Segment) => void;
  };
}

export interface FileDownloadOptions extends DownloadOptions {
  resume: boolean;
  force: boolean;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  segments: number;
  /** Segments already verified by an earlier run and not fetched again. */
  keptSegments: number;
  fetchedBytes: number;
  resumed: boolean;
}

async function loadResume(
  plan: DownloadPlan,
  part: string,
  statePath: string,
  opts: FileDownloadOptions,
): Promise<ResumeState | undefined> {
  if (!opts.resume) return undefined;
  const state = await readState(statePath);
  const partSize = await stat(part).then(
    (s) => s.size,
    () => undefined,
  );
  if (!state && partSize !== undefined && (await stat(statePath).catch(() => undefined)))
    opts.events?.onWarning?.(
      `the record of the partial download ${statePath} cannot be used (it is damaged): starting over`,
    );
  if (!state || partSize === undefined) return undefined;
  if (!sameDownload(state, plan) || partSize !== plan.size) {
    opts.events?.onWarning?.(
      `${plan.info.object} changed since the partial download was made: starting over`,
    );
    return undefined;
  }
  return state;
}

/** Downloads the plan into `target`, verified; see the module comment. */
export async function downloadToFile(
  client: SwiftClient,
  plan: DownloadPlan,
  target: string,
  opts: FileDownloadOptions,
): Promise<DownloadResult> {
  const part = `${target}.part`;
  const statePath = statePathFor(target);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory())
    throw new UsageError(`${target} is a directory: give a file name with -o`);
  if (existing && !opts.force)
    throw new UsageError(
      `${target} already exists: remove it, choose another name with -o, or pass --force`,
    );

  const resumed = await loadResume(plan, part, statePath, opts);
  const state = resumed ?? newState(plan);
  const done = new Set(state.done);
  const todo = plan.segments.filter((s) => !done.has(s.index));
  const keptBytes = plan.segments.filter((s) => done.has(s.index)).reduce((n, s) => n + s.size, 0);
  opts.events?.onStart?.({ keptSegments: done.size, keptBytes, resumed: !!resumed });

  if (!resumed)
    await checkSpace(dirname(target), plan.size, 'free some space or choose another place');
  let fh: FileHandle | undefined;
  try {
    fh = await open(part, resumed ? 'r+' : 'w', 0o644);
    await fh.truncate(plan.size);
    await writeState(statePath, state);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    throw localError(err, part);
  }
  const file = fh;

  let saving = Promise.resolve();
  const markDone = (segment: Segment) => {
    state.done.push(segment.index);
    const snapshot = { ...state, done: [...state.done] };
    saving = saving.then(() => writeState(statePath, snapshot));
    return saving;
  };

  let fetchedBytes = 0;
  try {
    await runPool(
      todo,
      opts.concurrency,
      async (segment, signal) => {
        const writer = new PositionalWriter(file, part, segment.offset);
        await fetchPiece(client, segment, (chunk, pos) => writer.add(chunk, pos), {
          policy: opts.policy,
          signal,
          borrow: true,
          ...(opts.events ? { events: opts.events } : {}),
        });
        await writer.flush();
        await file.datasync().catch((err) => {
          throw localError(err, part);
        });
        fetchedBytes += segment.size;
        await markDone(segment);
        opts.events?.onSegmentDone?.(segment);
      },
      opts.signal,
    );
    await saving;
  } catch (err) {
    await saving.catch(() => undefined);
    await file.close().catch(() => undefined);
    throw interruptedOr(err, opts.signal);
  }

  await commitPart(file, part, target, statePath);
  return {
    path: target,
    bytes: plan.size,
    segments: plan.segments.length,
    keptSegments: done.size,
    fetchedBytes,
    resumed: !!resumed,
  };
}

/** The signal's reason when the run was interrupted, else the error itself. */
export function interruptedOr(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted)
    return signal.reason instanceof InterruptedError
      ? signal.reason
      : new InterruptedError('SIGINT');
  return err;
}

/** Size of the ranges fetched ahead for a stream. */
const WINDOW_UNIT = 8 << 20;

interface Unit {
  segment: Segment;
  from: number;
  to: number;
}

/**
 * Streams the plan to `out` in order. Up to `concurrency` ranges of 8 MiB are fetched ahead into
 * reused buffers; each segment's MD5 is computed as its bytes are written. Bytes already
 * written cannot be taken back, so a segment that fails its MD5 ends the run with exit 3 and the
 * reader must discard what it got.
 */
export async function downloadToStream(
  client: SwiftClient,
  plan: DownloadPlan,
  out: Writable,
  opts: DownloadOptions,
): Promise<DownloadResult> {
  const units: Unit[] = plan.segments.flatMap((segment) => {
    const list: Unit[] = [];
    for (let from = 0; from < segment.size; from += WINDOW_UNIT)
      list.push({ segment, from, to: Math.min(segment.size, from + WINDOW_UNIT) });
    return list;
  });
  opts.events?.onStart?.({ keptSegments: 0, keptBytes: 0, resumed: false });
  const controller = new AbortController();
  const abort = () => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', abort, { once: true });
  // Each unit lands in a buffer of its own, taken from `free` and given back once written:
  // the window's memory is allocated once, and reads can lend views (FetchRangeOptions.borrow).
  const free: Buffer[] = [];
  const pending = new Map<number, { buffer: Buffer; job: Promise<void> }>();
  const start = (i: number) => {
    const unit = units[i];
    if (!unit || pending.has(i)) return;
    const buffer = free.pop() ?? Buffer.allocUnsafe(WINDOW_UNIT);
    const job = fetchRange(
      client,
      unit.segment,
      unit.from,
      unit.to,
      (chunk, pos) => {
        chunk.copy(buffer, pos - unit.from);
      },
      {
        policy: opts.policy,
        signal: controller.signal,
        borrow: true,
        ...(opts.events ? { events: opts.events } : {}),
      },
    );
    job.catch(() => undefined);
    pending.set(i, { buffer, job });
  };

  try {
    let md5 = createHash('md5');
    for (let i = 0; i < units.length; i++) {
      for (let j = i; j < i + Math.max(1, opts.concurrency); j++) start(j);
      const unit = units[i] as Unit;
      const { buffer, job } = pending.get(i) as { buffer: Buffer; job: Promise<void> };
      await job;
      pending.delete(i);
      const data = buffer.subarray(0, unit.to - unit.from);
      md5.update(data);
      await writeOut(out, data, () => free.push(buffer));
      if (unit.to === unit.segment.size) {
        const actual = md5.digest('hex');
        md5 = createHash('md5');
        if (unit.segment.md5 && actual !== unit.segment.md5) {
          throw new IntegrityError(
            `segment ${unit.segment.container}/${unit.segment.object} failed its MD5 check ` +
              `after it was written to the output: expected ${unit.segment.md5}, ` +
              `got ${actual}; discard the output`,
          );
        }
        opts.events?.onSegmentDone?.(unit.segment);
      }
    }
  } catch (err) {
    controller.abort(err);
    throw interruptedOr(err, opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', abort);
  }
  return {
    path: '-',
    bytes: plan.size,
    segments: plan.segments.length,
    keptSegments: 0,
    fetchedBytes: plan.size,
    resumed: false,
  };
}

/** Writes `chunk`; resolves when `out` takes more, calls `written` once it has let go of it. */
function writeOut(out: Writable, chunk: Buffer, written: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(localError(err, 'standard output'));
    out.once('error', onError);
    const ok = out.write(chunk, (err) => {
      if (err) onError(err);
      else written();
    });
    const done = () => {
      out.off('error', onError);
      resolve();
    };
    if (ok) done();
    else out.once('drain', done);
  });
}
