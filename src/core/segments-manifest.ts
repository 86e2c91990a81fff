/**
 * The record `get-segments` leaves in a directory of segments (`.cfimg-manifest.json`): which
 * object, its manifest ETag and size, and each segment in image order with its local file name,
 * size and MD5. `verify --offline` and `reassemble` read it, so the directory can be checked and
 * joined with no network and no credentials, and never by a shell glob.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import type { DownloadPlan, Segment } from './large-object.js';
import { localError, writeFileAtomic } from './local-io.js';
import { localSegmentName, resolveInside } from './local-names.js';

/** The manifest file's name: a dot file, so the directory lists only the segments. */
export const MANIFEST_FILE = '.cfimg-manifest.json';

/** One segment as recorded: where it comes from and the file it is stored in. */
export interface ManifestSegment {
  container: string;
  name: string;
  /** The local file name inside the directory (one path component). */
  file: string;
  bytes: number;
  /** The listed MD5, or the one computed while fetching when the listing has none. */
  md5: string | null;
  /** Byte range inside the object, for SLO entries that use one (`start-end`). */
  range?: string;
}

export interface SegmentsManifest {
  version: 1;
  container: string;
  object: string;
  kind: 'object' | 'dlo' | 'slo';
  /** A DLO's segment prefix (`X-Object-Manifest` without the container). */
  prefix?: string;
  /** The manifest's (composite) ETag, normalized, or null when the server sent none. */
  etag: string | null;
  size: number;
  /**
   * False while the get-segments run that wrote it has not finished: written before the first
   * segment, it lets a later run find (and tidy) every file an interrupted one left. Absent once
   * every segment is in place.
   */
  finished?: false;
  segments: ManifestSegment[];
}

/** Local file names for a plan's segments, and the names that had to be encoded. */
export interface LocalNames {
  files: string[];
  encoded: { name: string; file: string }[];
  /** True when an index prefix (`00001-`) was needed to make the names sort in image order. */
  prefixed: boolean;
}

/** Byte-wise order of the UTF-8 names, as Swift sorts and as `ls` in the C locale does. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Names the segments' files so that they sort in image order. Cloud Images names
 * (`<uuid>.vhd-00001`) are kept; when the safe names would not sort strictly in order (SLO
 * segments, repeated names, a name ending in `.part`), every name gets an index prefix.
 */
export function localFileNames(segments: Pick<Segment, 'object'>[]): LocalNames {
  const safe = segments.map((s) => localSegmentName(s.object));
  const plain = safe.map((s) => s.name);
  const inOrder =
    plain.every((name, i) => i === 0 || compareBytes(plain[i - 1] as string, name) < 0) &&
    plain.every((name) => !name.endsWith('.part') && !name.startsWith('.cfimg'));
  const width = Math.max(5, String(segments.length).length);
  const files = inOrder
    ? plain
    : plain.map((name, i) => `${String(i + 1).padStart(width, '0')}-${name}`);
  const encoded = segments
    .map((s, i) => ({ name: s.object, file: files[i] as string, encoded: safe[i]?.encoded }))
    .filter((e) => e.encoded)
    .map(({ name, file }) => ({ name, file }));
  return { files, encoded, prefixed: !inOrder };
}

/** The manifest describing a plan whose segments are stored under `files`. */
export function manifestFor(
  plan: DownloadPlan,
  files: string[],
  md5s: (string | undefined)[],
): SegmentsManifest {
  return {
    version: 1,
    container: plan.info.container,
    object: plan.info.object,
    kind: plan.info.kind,
    ...(plan.info.manifest ? { prefix: plan.info.manifest.prefix } : {}),
    etag: plan.etag ?? null,
    size: plan.size,
    segments: plan.segments.map((s, i) => ({
      container: s.container,
      name: s.object,
      file: files[i] as string,
      bytes: s.size,
      md5: s.md5 ?? md5s[i] ?? null,
      ...(s.range ? { range: `${s.range.start}-${s.range.end}` } : {}),
    })),
  };
}

/** Writes the manifest into `dir` atomically (temporary file, fsync, rename). */
export async function writeManifest(dir: string, manifest: SegmentsManifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
}

/**
 * Reads the manifest of `dir`; undefined when there is none. A manifest that does not parse,
 * or whose file names would leave the directory, is refused with a UsageError.
 */
export async function readManifest(dir: string): Promise<SegmentsManifest | undefined> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw localError(err, path, 'reading');
  }
  const damaged = (why: string) =>
    new UsageError(`${path} is damaged (${why}): run cfimg get-segments again to rewrite it`);
  let doc: Partial<SegmentsManifest>;
  try {
    doc = JSON.parse(text) as Partial<SegmentsManifest>;
  } catch {
    throw damaged('not JSON');
  }
  if (
    doc?.version !== 1 ||
    typeof doc.container !== 'string' ||
    typeof doc.object !== 'string' ||
    typeof doc.size !== 'number' ||
    (doc.finished !== undefined && doc.finished !== false) ||
    !Array.isArray(doc.segments)
  )
    throw damaged('not a cfimg segment manifest of version 1');
  doc.segments.forEach((s, i) => {
    const problem = segmentProblem(dir, s);
    if (problem) throw damaged(`segment ${i + 1}: ${problem}`);
  });
  return doc as SegmentsManifest;
}

function segmentProblem(dir: string, s: Partial<ManifestSegment>): string | undefined {
  if (typeof s?.name !== 'string' || typeof s.container !== 'string') return 'no name';
  if (typeof s.bytes !== 'number' || !Number.isSafeInteger(s.bytes) || s.bytes < 0)
    return 'no size';
  if (s.md5 !== null && !(typeof s.md5 === 'string' && /^[0-9a-f]{32}$/.test(s.md5)))
    return 'the MD5 is not 32 hex digits';
  const file = s.file;
  if (typeof file !== 'string' || /[/\\]/.test(file) || file === MANIFEST_FILE)
    return `the file name ${JSON.stringify(file)} is not a plain name inside the directory`;
  try {
    resolveInside(dir, file);
  } catch {
    return `the file name ${JSON.stringify(file)} would be outside the directory`;
  }
  return undefined;
}

/** Refuses the manifest of a get-segments run that did not finish: its files are not all there. */
export function requireFinished(dir: string, manifest: SegmentsManifest): void {
  if (manifest.finished === false)
    throw new UsageError(
      `${dir} holds a get-segments run of ${manifest.container}/${manifest.object} that did ` +
        'not finish: run cfimg get-segments again to complete it',
    );
}

/** Where each segment starts in the image, from the recorded sizes. */
export function offsetsOf(segments: { bytes: number }[]): number[] {
  let offset = 0;
  return segments.map((s) => {
    const at = offset;
    offset += s.bytes;
    return at;
  });
}
