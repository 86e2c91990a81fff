/**
 * `get-segments`: an image as a directory of its segments, the seed article's alternative
 * download done properly. Segments are fetched concurrently, each hashed as it streams and
 * renamed from `NAME.part` to its final name only once its MD5 matched; segments already there
 * with the right size and MD5 are kept, wrong ones fetched again. A manifest file records the
 * order, so `verify --offline` and `reassemble` need neither the network nor a shell glob.
 */
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { interruptedOr } from './download.js';
import { IntegrityError, UsageError } from './errors.js';
import type { DownloadPlan, Segment } from './large-object.js';
import { hashFile } from './local-hash.js';
import { localError, removeIfPresent } from './local-io.js';
import { resolveInside } from './local-names.js';
import { PositionalWriter } from './positional-writer.js';
import type { RetryPolicy } from './retry.js';
import {
  localFileNames,
  MANIFEST_FILE,
  type ManifestSegment,
  manifestFor,
  readManifest,
  type SegmentsManifest,
  writeManifest,
} from './segments-manifest.js';
import type { SwiftClient } from './swift.js';
import { fetchPiece, runPool, type TransferEvents } from './transfer.js';

/** What happened to one segment: fetched (absent before), kept (verified), repaired (refetched). */
export type SegmentOutcome = 'fetched' | 'kept' | 'repaired';

export interface GetSegmentsEvents extends TransferEvents {
  /** Bytes of local files hashed to decide whether to keep them. */
  onCheckBytes?: (delta: number) => void;
  onSegmentDone?: (segment: Segment, file: string, outcome: SegmentOutcome, why?: string) => void;
  /** Something the user may want to know that is not a problem (an index prefix, say). */
  onNote?: (message: string) => void;
}

export interface GetSegmentsOptions {
  concurrency: number;
  policy: RetryPolicy;
  signal?: AbortSignal;
  events?: GetSegmentsEvents;
}

export interface GetSegmentsResult {
  dir: string;
  manifestPath: string;
  files: string[];
  bytes: number;
  fetched: number;
  kept: number;
  repaired: number;
  fetchedBytes: number;
}

/**
 * Fetches the plan's segments into `dir` (created if missing; its parent must exist) and writes
 * the manifest file. Throws IntegrityError for a segment that fails its MD5 check repeatedly.
 */
export async function getSegments(
  client: SwiftClient,
  plan: DownloadPlan,
  dir: string,
  opts: GetSegmentsOptions,
): Promise<GetSegmentsResult> {
  refuseUnlisted(plan);
  await ensureDir(dir);
  const events = opts.events ?? {};
  const names = localFileNames(plan.segments);
  for (const e of names.encoded)
    events.onWarning?.(
      `segment name ${JSON.stringify(e.name)} cannot be a file name as it is: stored as ${e.file}`,
    );
  if (names.prefixed)
    events.onNote?.('segment names do not sort in image order: files are numbered 00001-, ...');
  const previous = await previousManifest(dir, plan, events);
  await adoptEarlierFiles(dir, previous, plan, names.files, events);
  const known = knownMd5s(previous, plan, names.files);
  await writeManifest(dir, { ...manifestFor(plan, names.files, known), finished: false });

  const md5s: (string | undefined)[] = [];
  const counts = { fetched: 0, kept: 0, repaired: 0, fetchedBytes: 0 };
  const work = async (segment: Segment, signal: AbortSignal) => {
    const file = names.files[segment.index] as string;
    const path = resolveInside(dir, file);
    const md5 = known[segment.index];
    const local = await inspect(path, segment.size, md5, { signal, events });
    if (local.state === 'good') {
      md5s[segment.index] = md5;
      counts.kept++;
      events.onSegmentDone?.(segment, file, 'kept');
      return;
    }
    md5s[segment.index] = await fetchSegment(client, segment, path, { ...opts, signal });
    counts.fetchedBytes += segment.size;
    const outcome = local.state === 'missing' ? 'fetched' : 'repaired';
    counts[outcome]++;
    events.onSegmentDone?.(segment, file, outcome, local.why);
  };
  try {
    await runPool(plan.segments, opts.concurrency, work, opts.signal);
  } catch (err) {
    throw interruptedOr(err, opts.signal);
  }

  const manifest = manifestFor(plan, names.files, md5s);
  await writeManifest(dir, manifest);
  return {
    dir,
    manifestPath: resolveInside(dir, MANIFEST_FILE),
    files: names.files,
    bytes: plan.size,
    ...counts,
  };
}

/** A large object whose segments could not be listed has nothing to fetch one by one. */
function refuseUnlisted(plan: DownloadPlan): void {
  if (plan.info.kind === 'object' || plan.verification === 'segments') return;
  throw new UsageError(
    `the segments of ${plan.info.container}/${plan.info.object} cannot be listed with these ` +
      'credentials: use cfimg get to download it whole',
  );
}

/** Creates `dir` unless it exists; its parent must exist (a typo should not build a tree). */
async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new UsageError(
        `cannot create ${dir}: its parent ${dirname(dir)} does not exist; create it first or fix --dir`,
      );
    if (code !== 'EEXIST') throw localError(err, dir, 'creating the directory');
  }
  const s = await stat(dir);
  if (!s.isDirectory())
    throw new UsageError(`${dir} exists and is not a directory: give a directory with --dir`);
}

/**
 * The directory's earlier manifest when it describes this very image (same object, ETag, size),
 * for the MD5s of pieces the listing gives none for. A manifest of anything else is removed
 * first, so it cannot describe files this run is about to replace.
 */
async function previousManifest(
  dir: string,
  plan: DownloadPlan,
  events: GetSegmentsEvents,
): Promise<SegmentsManifest | undefined> {
  const old = await readManifest(dir).catch((err: Error) => {
    events.onWarning?.(`${err.message.replace(/: run .*$/, '')}: replacing it`);
    return undefined;
  });
  const same =
    old &&
    old.container === plan.info.container &&
    old.object === plan.info.object &&
    old.etag === (plan.etag ?? null) &&
    old.size === plan.size;
  if (same) return old;
  if (old)
    events.onNote?.(
      `${dir} held segments of ${old.container}/${old.object} (ETag ${old.etag}): they are replaced where names match`,
    );
  await removeIfPresent(resolveInside(dir, MANIFEST_FILE));
  return undefined;
}

/**
 * Files an earlier run of this image recorded under names this run does not use (a listing
 * damaged on the way named them, or the naming changed) are renamed to this run's name for the
 * same segment when that name is free, and removed otherwise: the directory is left holding
 * this image's segments once each, so even a plain `cat` of it cannot join a stale copy.
 */
async function adoptEarlierFiles(
  dir: string,
  previous: SegmentsManifest | undefined,
  plan: DownloadPlan,
  files: string[],
  events: GetSegmentsEvents,
): Promise<void> {
  if (!previous) return;
  const used = new Set(files);
  let renamed = 0;
  let removed = 0;
  for (const rec of previous.segments) {
    if (used.has(rec.file)) continue;
    const from = resolveInside(dir, rec.file);
    await removeIfPresent(`${from}.part`);
    const present = await stat(from).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!present) continue;
    const file = files[plan.segments.findIndex((s) => sameSegment(rec, s))];
    const to = file === undefined ? undefined : resolveInside(dir, file);
    if (file !== undefined && to !== undefined && !(await stat(to).catch(() => undefined))) {
      await rename(from, to).catch((err) => {
        throw localError(err, to);
      });
      rec.file = file; // so the MD5 it recorded follows the file
      renamed++;
    } else {
      await removeIfPresent(from);
      removed++;
    }
  }
  if (renamed || removed)
    events.onNote?.(
      `an earlier run left ${renamed + removed} files under other names: ${renamed} renamed ` +
        `to this run's names (checked as usual), ${removed} removed`,
    );
}

function sameSegment(rec: ManifestSegment, segment: Segment): boolean {
  const range = segment.range ? `${segment.range.start}-${segment.range.end}` : undefined;
  return (
    rec.name === segment.object &&
    rec.container === segment.container &&
    rec.bytes === segment.size &&
    rec.range === range
  );
}

/** Each segment's MD5: the listed one, else the one an earlier run recorded for its file. */
function knownMd5s(
  previous: SegmentsManifest | undefined,
  plan: DownloadPlan,
  files: string[],
): (string | undefined)[] {
  const byFile = new Map(previous?.segments.map((r) => [r.file, r]));
  return plan.segments.map((segment) => {
    const rec = byFile.get(files[segment.index] as string);
    return segment.md5 ?? (rec && sameSegment(rec, segment) ? (rec.md5 ?? undefined) : undefined);
  });
}

/** Whether a local file already holds the segment: missing, good, or bad (and why). */
async function inspect(
  path: string,
  size: number,
  md5: string | undefined,
  opts: { signal: AbortSignal; events: GetSegmentsEvents },
): Promise<{ state: 'missing' | 'good' | 'bad'; why?: string }> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw localError(err, path, 'reading');
  });
  if (!s) return { state: 'missing' };
  if (!s.isFile())
    throw new UsageError(`${path} is in the way and is not a file: move it out of the directory`);
  if (s.size !== size) return { state: 'bad', why: `${s.size} bytes, the listing says ${size}` };
  if (!md5) return { state: 'bad', why: 'no MD5 is known to check it against' };
  const onBytes = opts.events.onCheckBytes;
  const actual = await hashFile(path, { signal: opts.signal, ...(onBytes ? { onBytes } : {}) });
  if (actual.size !== size || actual.md5 !== md5)
    return { state: 'bad', why: `MD5 ${actual.md5}, the listing says ${md5}` };
  return { state: 'good' };
}

/** Fetches one segment into `path.part`, verified, then renames it to `path`. */
async function fetchSegment(
  client: SwiftClient,
  segment: Segment,
  path: string,
  opts: GetSegmentsOptions & { signal: AbortSignal },
): Promise<string> {
  const part = `${path}.part`;
  const fh = await open(part, 'w', 0o644).catch((err) => {
    throw localError(err, part);
  });
  try {
    const writer = new PositionalWriter(fh, part);
    const md5 = await fetchPiece(client, segment, (chunk, pos) => writer.add(chunk, pos), {
      policy: opts.policy,
      signal: opts.signal,
      ...(opts.events ? { events: opts.events } : {}),
    });
    await writer.flush();
    await fh.datasync().catch((err) => {
      throw localError(err, part);
    });
    const { size } = await fh.stat();
    if (size !== segment.size)
      throw new IntegrityError(`${part} holds ${size} bytes, the segment has ${segment.size}`);
    await fh.close();
    await rename(part, path).catch((err) => {
      throw localError(err, path);
    });
    return md5;
  } catch (err) {
    await fh.close().catch(() => undefined);
    await removeIfPresent(part).catch(() => undefined);
    throw err;
  }
}
