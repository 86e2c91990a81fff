/**
 * Dynamic Large Objects, as Swift's dlo middleware serves them. The manifest's
 * `X-Object-Manifest: container/prefix` (percent-decoded) names the segments: every object in
 * that container whose name starts with the prefix, in byte-wise name order, read from the
 * first listing page. With a complete page (fewer than the listing limit) HEAD/GET send
 * Content-Length = the sum and Etag = `"` + md5(the segments' hex hashes concatenated) + `"`, and
 * a single Range is honoured; several ranges are ignored (200). With a full page the length is
 * unknown (chunked), the ETag is the manifest's own, and a Range is only honoured when it ends
 * inside that page.
 */
import { createHash } from 'node:crypto';
import { type Entity, respondEntity } from './entity.js';
import { type Piece, SegmentRateLimiter, segmentFor, streamPieces } from './large-objects.js';
import { selectEntries } from './listing.js';
import { objectHeaders, type StorageRequest } from './objects.js';
import { parseRange } from './ranges.js';
import type { Container, StoredObject } from './store.js';

/** A segment as a listing page shows it. */
interface Listed {
  name: string;
  bytes: number;
  object: StoredObject;
}

/** GET or HEAD of a DLO manifest. */
export async function getDlo(r: StorageRequest, manifest: StoredObject): Promise<void> {
  const value = decodeManifest(manifest.manifest ?? '');
  const slash = value.indexOf('/');
  const container = r.account.containers.get(value.slice(0, slash));
  const prefix = value.slice(slash + 1);
  if (container === undefined) return r.ex.sendError(404);

  const limit = r.settings.listingLimit;
  const first = page(container, prefix, '', limit);
  const complete = first.length < limit;
  const pageBytes = first.reduce((n, s) => n + s.bytes, 0);

  const etag = complete ? `"${await compositeEtag(first)}"` : await manifest.md5();
  const entity: Entity = {
    headers: objectHeaders(manifest, etag),
    etag,
    size: pageBytes,
    fullLength: complete ? pageBytes : null,
    ranges: complete || rangeEndsWithin(r, pageBytes) ? 'single' : 'none',
    source: (start, end) => {
      const rate = r.settings.dloRateLimit;
      const limiter = rate && new SegmentRateLimiter(rate.afterSegments, rate.segmentsPerSec);
      const pieces = piecesOf(container, prefix, first, limit, start, end);
      const expected = Number.isFinite(end) ? end - start : undefined;
      return streamPieces(r.ex, pieces, expected, limiter);
    },
    validateStart: async (start) => {
      const next = await piecesOf(container, prefix, first, limit, start, start + 1).next();
      return next.done === true || (await segmentFor(next.value)) !== undefined;
    },
  };
  await respondEntity(r.ex, entity);
}

/** The manifest value percent-decoded (Swift unquotes it); kept raw if it does not decode. */
function decodeManifest(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** md5 of the segments' hex hashes, concatenated in listing order. */
async function compositeEtag(segments: Listed[]): Promise<string> {
  const hash = createHash('md5');
  for (const s of segments) hash.update(await s.object.md5());
  return hash.digest('hex');
}

/** One page of the segment listing after `marker`. */
function page(container: Container, prefix: string, marker: string, limit: number): Listed[] {
  const query = { prefix, marker, endMarker: undefined, delimiter: undefined, limit };
  const entries = selectEntries(container.listed(), { ...query, reverse: false, json: true });
  return entries.flatMap((e) =>
    'item' in e
      ? [{ name: e.item.name, bytes: e.item.slo?.size ?? e.item.size, object: e.item }]
      : [],
  );
}

/** With an incomplete listing Swift honours a single Range only if it ends inside page one. */
function rangeEndsWithin(r: StorageRequest, pageBytes: number): boolean {
  const specs = parseRange(r.ex.req.headers.range);
  const spec = specs?.length === 1 ? specs[0] : undefined;
  return spec?.start !== undefined && spec.end !== undefined && spec.end + 1 < pageBytes;
}

/** The pieces covering bytes [start, end), paging through the listing as Swift does. */
async function* piecesOf(
  container: Container,
  prefix: string,
  firstPage: Listed[],
  limit: number,
  start: number,
  end: number,
): AsyncGenerator<Piece> {
  let offset = 0;
  let segments = firstPage;
  for (;;) {
    for (const s of segments) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end - offset, s.bytes);
      offset += s.bytes;
      if (from >= s.bytes) continue;
      if (to <= 0) return;
      yield { container, name: s.name, first: from, last: to, whole: from === 0 && to === s.bytes };
    }
    const last = segments[segments.length - 1];
    if (segments.length < limit || last === undefined || offset >= end) return;
    segments = page(container, prefix, last.name, limit);
  }
}
