/**
 * `verify`: proves a local copy of an image against what the server lists, or against the
 * manifest file `get-segments` wrote. A directory is checked segment file by segment file; a
 * whole image file slice by slice (each segment's bytes at its offset), with the composite ETag
 * of the segment MD5s checked against the manifest's ETag, so a match proves every byte.
 * Problems are data: each is reported as it is found and the caller decides the exit status.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compositeEtag } from './large-object.js';
import { hashFile, hashSlice } from './local-hash.js';
import { localError } from './local-io.js';
import { type ManifestSegment, offsetsOf, type SegmentsManifest } from './segments-manifest.js';
import { runPool } from './transfer.js';
import { checkVhdFile, type VhdReport } from './vhd.js';
import { checkVhdSegments } from './vhd-segments.js';

export type ProblemKind = 'missing' | 'size' | 'md5' | 'etag' | 'vhd';

/** One thing that differs; `segment` names the remote segment when there is one. */
export interface VerifyProblem {
  kind: ProblemKind;
  segment?: string;
  file?: string;
  expected?: string | number;
  actual?: string | number;
  message: string;
}

export interface VerifyEvents {
  onProblem?: (problem: VerifyProblem) => void;
  /** Bytes hashed, for progress. */
  onBytes?: (delta: number) => void;
}

export interface VerifyOptions {
  concurrency: number;
  vhd: boolean;
  signal?: AbortSignal;
  events?: VerifyEvents;
}

export interface VerifyResult {
  path: string;
  mode: 'directory' | 'file';
  segments: number;
  bytes: number;
  /** Segments proved by MD5; the others (no MD5 known) by size only. */
  md5Checked: number;
  /** The manifest ETag and what the segment MD5s give, when both are known. */
  etag?: { expected: string; computed: string };
  vhd?: VhdReport;
  problems: VerifyProblem[];
}

/** Verifies `path` (a directory of segments or an image file) against `expected`. */
export async function verifyImage(
  path: string,
  expected: SegmentsManifest,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const s = await stat(path).catch((err) => {
    throw localError(err, path, 'reading');
  });
  const mode = s.isDirectory() ? 'directory' : 'file';
  const result: VerifyResult = {
    path,
    mode,
    segments: expected.segments.length,
    bytes: expected.size,
    md5Checked: 0,
    problems: [],
  };
  const report = (p: VerifyProblem) => {
    result.problems.push(p);
    opts.events?.onProblem?.(p);
  };
  checkEtag(expected, result, report);
  if (mode === 'directory') await checkDirectory(path, expected, opts, result, report);
  else await checkFile(path, s.size, expected, opts, result, report);

  if (opts.vhd) {
    result.vhd =
      mode === 'directory'
        ? await checkVhdSegments(path, expected.segments)
        : await checkVhdFile(path).catch((err) => {
            throw localError(err, path, 'reading');
          });
    for (const message of result.vhd.problems) report({ kind: 'vhd', message: `VHD: ${message}` });
  }
  return result;
}

/**
 * The composite ETag of the segment MD5s against the manifest's ETag. For a listing that
 * planDownload accepted this holds by construction; for a manifest file it catches an edited
 * or mixed-up record. Skipped for plain objects and for SLO pieces cut out by a range.
 */
function checkEtag(
  expected: SegmentsManifest,
  result: VerifyResult,
  report: (p: VerifyProblem) => void,
): void {
  const total = expected.segments.reduce((n, s) => n + s.bytes, 0);
  if (total !== expected.size)
    report({
      kind: 'size',
      expected: expected.size,
      actual: total,
      message: `the segments add up to ${total} bytes, the image is ${expected.size}`,
    });
  const hashes = expected.segments.map((s) => s.md5);
  const composite = expected.kind !== 'object' && !expected.segments.some((s) => s.range);
  if (!composite || !expected.etag || hashes.some((h) => h === null)) return;
  const computed = compositeEtag(hashes.map((hash) => ({ hash: hash as string })));
  result.etag = { expected: expected.etag, computed };
  if (computed !== expected.etag)
    report({
      kind: 'etag',
      expected: expected.etag,
      actual: computed,
      message:
        `the segment MD5s give ETag ${computed}, the manifest's ETag is ${expected.etag}: ` +
        'the segment list is not the one the server serves',
    });
}

async function checkDirectory(
  dir: string,
  expected: SegmentsManifest,
  opts: VerifyOptions,
  result: VerifyResult,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  await runPool(
    expected.segments,
    opts.concurrency,
    async (seg, signal) => {
      const path = join(dir, seg.file);
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) {
        report(problem(seg, 'missing', seg.bytes, 'no file', `missing (${seg.file})`));
        return;
      }
      if (s.size !== seg.bytes) {
        report(
          problem(seg, 'size', seg.bytes, s.size, `size ${s.size} bytes, expected ${seg.bytes}`),
        );
        return;
      }
      if (!seg.md5) return;
      const onBytes = opts.events?.onBytes;
      const { md5 } = await hashFile(path, { signal, ...(onBytes ? { onBytes } : {}) });
      result.md5Checked++;
      if (md5 !== seg.md5) report(problem(seg, 'md5', seg.md5, md5, mismatch(seg.md5, md5)));
    },
    opts.signal,
  );
}

async function checkFile(
  path: string,
  size: number,
  expected: SegmentsManifest,
  opts: VerifyOptions,
  result: VerifyResult,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  if (size !== expected.size)
    report({
      kind: 'size',
      expected: expected.size,
      actual: size,
      message: `the file is ${size} bytes, the image is ${expected.size} (Content-Length)`,
    });
  const offsets = offsetsOf(expected.segments);
  const fh = await open(path, 'r').catch((err) => {
    throw localError(err, path, 'reading');
  });
  try {
    const work = async (i: number, signal: AbortSignal) => {
      const seg = expected.segments[i] as ManifestSegment;
      const at = offsets[i] as number;
      if (at + seg.bytes > size) {
        const why = `bytes ${at}-${at + seg.bytes - 1} are past the end of the file`;
        report(problem(seg, 'missing', seg.bytes, size - Math.min(at, size), why));
        return;
      }
      if (!seg.md5) return;
      const onBytes = opts.events?.onBytes;
      const md5 = await hashSlice(fh, path, at, at + seg.bytes, {
        signal,
        ...(onBytes ? { onBytes } : {}),
      });
      result.md5Checked++;
      if (md5 !== seg.md5)
        report(problem(seg, 'md5', seg.md5, md5 ?? 'short read', mismatch(seg.md5, md5)));
    };
    await runPool([...offsets.keys()], opts.concurrency, work, opts.signal);
  } finally {
    await fh.close();
  }
}

function mismatch(expected: string, actual: string | undefined): string {
  return `MD5 ${actual ?? '(short read)'}, expected ${expected}`;
}

function problem(
  seg: ManifestSegment,
  kind: ProblemKind,
  expected: string | number,
  actual: string | number,
  what: string,
): VerifyProblem {
  return {
    kind,
    segment: seg.name,
    file: seg.file,
    expected,
    actual,
    message: `segment ${seg.name}: ${what}`,
  };
}

/** One line for the end of a run: what was proved, or how many problems were found. */
export function verifySummary(result: VerifyResult): string {
  const what = `${result.segments} segment${result.segments === 1 ? '' : 's'}`;
  if (result.problems.length === 0) {
    const sizeOnly = result.segments - result.md5Checked;
    const how = sizeOnly > 0 ? `, ${sizeOnly} by size only (no MD5 known)` : '';
    const etag = result.etag ? ' and the manifest ETag' : '';
    return `${result.path}: all ${what} match: sizes, MD5s${etag}${how}`;
  }
  const named = new Set(result.problems.filter((p) => p.segment).map((p) => p.segment));
  const n = result.problems.length;
  return `${result.path}: ${n} problem${n === 1 ? '' : 's'} (${named.size} of ${what} differ)`;
}
