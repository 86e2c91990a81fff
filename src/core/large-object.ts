/**
 * Large objects as cfimg downloads them: the plan of segments (where each one lands in the
 * image, its size and MD5), built from a DLO listing or an SLO manifest and proved against the
 * manifest's composite ETag before a byte is fetched.
 *
 * Swift computes a DLO's ETag as the MD5 of the concatenated hex MD5s of its segments, and its
 * Content-Length as their sum. So a listing whose hashes give the manifest's ETag is the very
 * list the server serves, and per-segment MD5s then prove every byte of the image.
 */
import { createHash } from 'node:crypto';
import { IntegrityError, NotFoundError, TransferError } from './errors.js';
import { isMd5Etag } from './headers.js';
import { sleep } from './retry.js';
import type { ListingItem, ObjectInfo, SloEntry, SwiftClient } from './swift.js';

/** One piece of the image: an object fetched on its own and written at `offset`. */
export interface Segment {
  index: number;
  container: string;
  object: string;
  offset: number;
  size: number;
  /** Expected MD5 (hex) of the piece's bytes; absent when only the size can be checked. */
  md5?: string;
  /** Byte range inside the object for SLO entries that use one (`start-end`, inclusive). */
  range?: { start: number; end: number };
}

/** How the bytes of a download will be proved. */
export type Verification = 'segments' | 'object-md5' | 'size-only';

export interface DownloadPlan {
  info: ObjectInfo;
  size: number;
  /** Normalized ETag of the object or manifest, used for If-Match and resume checks. */
  etag?: string;
  segments: Segment[];
  verification: Verification;
  /** Why verification is weaker than per-segment MD5s, or what looks wrong remotely. */
  warnings: string[];
}

/** The composite ETag Swift gives a DLO or SLO: md5 of the segment hashes (with ranges). */
export function compositeEtag(parts: { hash: string; range?: string }[]): string {
  const md5 = createHash('md5');
  for (const part of parts) md5.update(part.range ? `${part.hash}:${part.range};` : part.hash);
  return md5.digest('hex');
}

/** Offsets for pieces laid end to end, in the given order. */
export function layOut<T extends { size: number }>(
  pieces: T[],
): (T & { offset: number; index: number })[] {
  let offset = 0;
  return pieces.map((piece, index) => {
    const laid = { ...piece, offset, index };
    offset += piece.size;
    return laid;
  });
}

/**
 * Problems a DLO listing shows before anything is fetched: a gap in `-NNNNN` numbering, a
 * segment other than the last whose size differs from the first, an empty listing. `self` is
 * the manifest's own name when it lives among its segments: a prefix that matches it lists the
 * 0-byte manifest first (Swift counts it in the ETag), which is no sign of damage.
 */
export function dloHealth(prefix: string, listed: ListingItem[], self?: string): string[] {
  const items = withoutManifest(listed, self);
  if (items.length === 0)
    return [
      `the manifest prefix '${prefix}' matches no segment: the image is empty or its segments were deleted`,
    ];
  const warnings: string[] = [];
  const numbers = items.map((item) => /(\d+)$/.exec(item.name.slice(prefix.length))?.[1]);
  if (numbers.every((n) => n !== undefined)) {
    for (let i = 1; i < numbers.length; i++) {
      const prev = Number(numbers[i - 1]);
      const cur = Number(numbers[i]);
      if (cur !== prev + 1)
        warnings.push(
          `segment numbering jumps from ${numbers[i - 1]} to ${numbers[i]}: segments may have been deleted`,
        );
    }
  }
  const first = items[0]?.bytes;
  items.slice(0, -1).forEach((item) => {
    if (item.bytes !== first)
      warnings.push(
        `segment ${item.name} has ${item.bytes} bytes, the first has ${first}: only the last may differ`,
      );
  });
  return warnings;
}

export interface PlanOptions {
  /** How often to list again when the listing disagrees with the manifest. */
  relists?: number;
  relistDelayMs?: number;
  signal?: AbortSignal;
}

/** HEADs the object and builds its download plan, proving a large object's segment list. */
export async function planDownload(
  client: SwiftClient,
  container: string,
  object: string,
  opts: PlanOptions = {},
): Promise<DownloadPlan> {
  const info = await client.head(container, object);
  if (info.kind === 'dlo') return planDlo(client, info, opts);
  if (info.kind === 'slo') return planSlo(client, info);
  return planPlain(info);
}

function planPlain(info: ObjectInfo): DownloadPlan {
  const md5 = isMd5Etag(info.etag) ? info.etag : undefined;
  const segment: Segment = {
    index: 0,
    container: info.container,
    object: info.object,
    offset: 0,
    size: info.size,
    ...(md5 ? { md5 } : {}),
  };
  return {
    info,
    size: info.size,
    ...(info.etag ? { etag: info.etag } : {}),
    segments: [segment],
    verification: md5 ? 'object-md5' : 'size-only',
    warnings: md5 ? [] : ['the object has no MD5 ETag: only its size can be verified'],
  };
}

/** The manifest itself as the only piece: used when the segments cannot be listed. */
function manifestFallback(info: ObjectInfo, why: string): DownloadPlan {
  const plain = planPlain({ ...info, etag: undefined } as ObjectInfo);
  return {
    ...plain,
    ...(info.etag ? { etag: info.etag } : {}),
    verification: 'size-only',
    warnings: [`${why}: streaming the manifest instead, so only the size can be verified`],
  };
}

async function planDlo(
  client: SwiftClient,
  info: ObjectInfo,
  opts: PlanOptions,
): Promise<DownloadPlan> {
  const manifest = info.manifest!;
  const relists = opts.relists ?? 3;
  for (let attempt = 0; ; attempt++) {
    let items: ListingItem[];
    try {
      items = await client.listAll(manifest.container, manifest.prefix);
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new IntegrityError(
          `the segment container '${manifest.container}' of the manifest does not exist`,
        );
      if ((err as { code?: string }).code === 'E_AUTH')
        return manifestFallback(info, `the segments in '${manifest.container}' cannot be listed`);
      throw err;
    }
    const mismatch = listingMismatch(info, items);
    if (!mismatch) {
      const segments = layOut(
        items.map((item) => ({
          container: manifest.container,
          object: item.name,
          size: item.bytes,
          md5: item.hash,
        })),
      );
      return segmentsPlan(info, segments, dloHealth(manifest.prefix, items, ownName(info)));
    }
    if (attempt >= relists || opts.signal?.aborted) {
      throw new IntegrityError(
        `the segment listing of ${info.container}/${info.object} does not match its manifest ` +
          `(${mismatch}): the listing is stale or the image changed; try again later`,
      );
    }
    await sleep((opts.relistDelayMs ?? 2000) * (attempt + 1), opts.signal);
  }
}

/** The listing without the 0-byte manifest `self` (see dloHealth). */
export function withoutManifest<T extends { name: string; bytes: number }>(
  items: T[],
  self: string | undefined,
): T[] {
  return self === undefined ? items : items.filter((i) => !(i.bytes === 0 && i.name === self));
}

/** The manifest's name when its segments share its container (see dloHealth), else undefined. */
export function ownName(info: ObjectInfo): string | undefined {
  return info.manifest?.container === info.container ? info.object : undefined;
}

/** The plan of a large object whose segment list has been checked against its HEAD. */
function segmentsPlan(info: ObjectInfo, segments: Segment[], warnings: string[]): DownloadPlan {
  return {
    info,
    size: info.size,
    ...(info.etag ? { etag: info.etag } : {}),
    segments,
    verification: 'segments',
    warnings,
  };
}

/** What differs between a listing and the manifest's size and ETag, or undefined. */
function listingMismatch(info: ObjectInfo, items: ListingItem[]): string | undefined {
  const total = items.reduce((sum, item) => sum + item.bytes, 0);
  if (total !== info.size) return `segments sum to ${total} bytes, the manifest says ${info.size}`;
  if (info.etag && isMd5Etag(info.etag)) {
    const etag = compositeEtag(items);
    if (etag !== info.etag)
      return `segment hashes give ETag ${etag}, the manifest says ${info.etag}`;
  }
  return undefined;
}

async function planSlo(client: SwiftClient, info: ObjectInfo): Promise<DownloadPlan> {
  let entries: SloEntry[];
  try {
    entries = await client.sloManifest(info.container, info.object);
  } catch (err) {
    if (err instanceof TransferError && !err.failure.status)
      return manifestFallback(info, 'the SLO manifest cannot be read');
    throw err;
  }
  const pieces = entries.map((entry) => {
    const range = entry.range ? parseSloRange(entry.range, entry.bytes) : undefined;
    const size = range ? range.end - range.start + 1 : entry.bytes;
    return {
      container: entry.container,
      object: entry.object,
      size,
      ...(range ? { range } : { md5: entry.hash }),
    };
  });
  const segments = layOut(pieces);
  const total = segments.reduce((sum, s) => sum + s.size, 0);
  const etag = compositeEtag(entries);
  if (total !== info.size || (info.etag && etag !== info.etag)) {
    throw new IntegrityError(
      `the SLO manifest of ${info.container}/${info.object} does not match its HEAD ` +
        `(size ${total} vs ${info.size}, ETag ${etag} vs ${info.etag})`,
    );
  }
  return segmentsPlan(info, segments, []);
}

/** An SLO segment range `start-end`, `start-` or `-suffix` against the segment's size. */
export function parseSloRange(
  text: string,
  size: number,
): { start: number; end: number } | undefined {
  const m = /^(\d*)-(\d*)$/.exec(text.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const suffix = m[1] === '';
  const start = suffix ? Math.max(0, size - Number(m[2])) : Number(m[1]);
  const end = suffix || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  // `-0`, a start past the end, or a segment of 0 bytes: no byte is selected.
  return end >= start && start >= 0 ? { start, end } : undefined;
}
