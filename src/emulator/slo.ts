/**
 * Static Large Objects, as Swift's slo middleware handles them. `PUT ?multipart-manifest=put`
 * takes `[{path, etag?, size_bytes?, range?}]`, checks every segment and stores Swift's own
 * record `[{name, bytes, hash, content_type, last_modified, range?}]` (Python JSON). GET/HEAD send
 * the segments with Content-Length = the sum, Etag = `"` + md5 of the segments' hashes (a ranged
 * segment contributes `hash:range;`) + `"`, X-Manifest-Etag = the manifest's own MD5, and honour
 * Range, several ranges included. `?multipart-manifest=get` returns the stored record as JSON.
 */
import { createHash } from 'node:crypto';
import { bufferContent } from './content.js';
import { type Entity, respondEntity } from './entity.js';
import { type Piece, segmentFor, streamPieces } from './large-objects.js';
import {
  objectHeaders,
  readBody,
  type StorageRequest,
  storedHeaders,
  streamContent,
} from './objects.js';
import { pyJson } from './pyjson.js';
import { parseRange, rangesForLength } from './ranges.js';
import { type Container, type SloSegment, StoredObject } from './store.js';
import { httpDate, isoOfHttpDate } from './swift-time.js';

const MAX_MANIFEST_SIZE = 8 * 1024 * 1024;

/** GET or HEAD of an SLO: the concatenated segments. */
export async function getSlo(r: StorageRequest, o: StoredObject): Promise<void> {
  const slo = o.slo;
  if (slo === undefined) return;
  const etag = `"${slo.etag}"`;
  const entity: Entity = {
    headers: { ...objectHeaders(o, etag), 'X-Manifest-Etag': await o.md5() },
    etag,
    size: slo.size,
    ranges: 'multi',
    source: (start, end) => {
      const pieces = piecesOf(r, slo.segments, start, end);
      return streamPieces(r.ex, pieces, Math.min(end, slo.size) - start);
    },
    validateStart: async (start) => {
      const first = piecesOf(r, slo.segments, start, start + 1)[0];
      return first === undefined || (await segmentFor(first)) !== undefined;
    },
  };
  await respondEntity(r.ex, entity);
}

/** `GET ?multipart-manifest=get`: the stored segment record (or, with format=raw, the input). */
export async function getSloManifest(r: StorageRequest, o: StoredObject): Promise<void> {
  const raw = r.query.get('format') === 'raw';
  const body = raw ? Buffer.from(rawManifest(o.slo?.segments ?? [])) : undefined;
  const etag = body ? createHash('md5').update(body).digest('hex') : await o.md5();
  const content = body ? bufferContent(body) : o.data;
  const entity: Entity = {
    headers: { ...objectHeaders(o, etag), 'Content-Type': 'application/json; charset=utf-8' },
    etag,
    size: content.size,
    ranges: 'multi',
    source: (start, end) => streamContent(r.ex, content, start, end),
  };
  if (raw) entity.headers['Content-Type'] = o.contentType;
  await respondEntity(r.ex, entity);
}

/** `DELETE ?multipart-manifest=delete`: the segments, then the manifest (bulk-delete reply). */
export async function deleteSlo(r: StorageRequest, o: StoredObject): Promise<void> {
  let deleted = 0;
  let notFound = 0;
  for (const segment of o.slo?.segments ?? []) {
    const [container, name] = splitPath(segment.name);
    if (r.account.containers.get(container)?.delete(name)) deleted += 1;
    else notFound += 1;
  }
  r.account.containers.get(r.container)?.delete(r.object);
  deleted += 1;
  const body =
    `Number Deleted: ${deleted}\nNumber Not Found: ${notFound}\n` +
    'Response Body: \nResponse Status: 200 OK\nErrors: \n';
  await r.ex.send(200, { 'Content-Type': 'text/plain' }, body);
}

/** `PUT ?multipart-manifest=put`. */
export async function putSlo(r: StorageRequest, container: Container): Promise<void> {
  const { ex } = r;
  const body = await readBody(ex, MAX_MANIFEST_SIZE);
  if (typeof body === 'number') return ex.sendError(body);
  let input: unknown;
  try {
    input = JSON.parse(body.toString('utf8'));
  } catch {
    return ex.sendError(400, {}, 'Manifest must be valid JSON.\n');
  }
  if (!Array.isArray(input) || input.length === 0) {
    return ex.sendError(400, {}, 'Manifest must be a list.\n');
  }

  const problems: string[] = [];
  const records: SloSegment[] = [];
  for (const [i, item] of input.entries()) {
    const record = await checkSegment(r, item, i === input.length - 1, problems);
    if (record !== undefined) records.push(record);
  }
  if (problems.length > 0) {
    return ex.send(400, { 'Content-Type': 'text/plain' }, `Errors:\n${problems.join('\n')}\n`);
  }

  const etag = createHash('md5')
    .update(records.map((s) => (s.range ? `${s.hash}:${s.range};` : s.hash)).join(''))
    .digest('hex');
  const given = ex.req.headers.etag?.replace(/"/g, '');
  if (given && given !== etag) return ex.sendError(422);
  const json = Buffer.from(pyJson(records));
  const o = new StoredObject({
    container: container.name,
    name: r.object,
    data: bufferContent(json),
    contentType: ex.req.headers['content-type'] ?? 'application/octet-stream',
    headers: storedHeaders(ex),
    slo: { etag, size: records.reduce((n, s) => n + segmentLength(s), 0), segments: records },
    md5: createHash('md5').update(json).digest('hex'),
  });
  container.put(o);
  await ex.sendError(201, { Etag: `"${etag}"`, 'Last-Modified': httpDate(o.timestamp) }, '');
}

/** Checks one input segment against the stored object; returns Swift's record of it. */
async function checkSegment(
  r: StorageRequest,
  item: unknown,
  isLast: boolean,
  problems: string[],
): Promise<SloSegment | undefined> {
  const seg = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  const path = typeof seg.path === 'string' ? seg.path.replace(/^\/+/, '') : '';
  const [containerName, name] = splitPath(`/${path}`);
  if (!name) {
    problems.push(`${path}, Invalid Path`);
    return undefined;
  }
  const o = r.account.containers.get(containerName)?.objects.get(name);
  if (o === undefined || o.gone) {
    problems.push(`/${path}, 404 Not Found`);
    return undefined;
  }
  const hash = await o.md5();
  if (o.size < 1 && !isLast)
    problems.push(`/${path}, Too small; each segment must be at least 1 byte.`);
  if (seg.size_bytes != null && seg.size_bytes !== o.size) problems.push(`/${path}, Size Mismatch`);
  if (seg.etag != null && seg.etag !== hash) problems.push(`/${path}, Etag Mismatch`);
  const range = typeof seg.range === 'string' ? seg.range : undefined;
  const specs = range === undefined ? undefined : parseRange(`bytes=${range}`);
  const ranges = specs === undefined ? [] : rangesForLength(specs, o.size);
  if (range !== undefined && ranges.length !== 1) problems.push(`/${path}, Unsatisfiable Range`);
  const resolved = ranges[0];
  return {
    name: `/${path}`,
    bytes: o.size,
    hash,
    content_type: o.contentType.split(';')[0] ?? o.contentType,
    last_modified: isoOfHttpDate(o.timestamp),
    range: resolved && `${resolved.start}-${resolved.end - 1}`,
  };
}

/** The bytes a segment contributes: its range, or all of it. */
function segmentLength(s: SloSegment): number {
  const [a, b] = (s.range ?? '').split('-').map(Number);
  return s.range === undefined ? s.bytes : (b ?? 0) - (a ?? 0) + 1;
}

/** The pieces covering bytes [start, end) of an SLO. */
function piecesOf(r: StorageRequest, segments: SloSegment[], start: number, end: number): Piece[] {
  const pieces: Piece[] = [];
  let offset = 0;
  for (const s of segments) {
    const length = segmentLength(s);
    const base = s.range === undefined ? 0 : Number(s.range.split('-')[0]);
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, length);
    offset += length;
    if (from >= length) continue;
    if (to <= 0) break;
    const [containerName, name] = splitPath(s.name);
    pieces.push({
      container: r.account.containers.get(containerName),
      name,
      first: base + from,
      last: base + to,
      whole: s.range === undefined && from === 0 && to === length,
      expect: {
        hash: s.hash,
        bytes: s.range === undefined && from === 0 && to === length ? s.bytes : undefined,
      },
    });
  }
  return pieces;
}

/** `/container/object` → [container, object]. */
function splitPath(path: string): [string, string] {
  const rest = path.replace(/^\//, '');
  const slash = rest.indexOf('/');
  return slash < 0 ? [rest, ''] : [rest.slice(0, slash), rest.slice(slash + 1)];
}

/** `format=raw`: the manifest as it was put, keys sorted, as Swift's convert_segment_listing. */
function rawManifest(segments: SloSegment[]): string {
  return pyJson(
    segments.map((s) => ({ etag: s.hash, path: s.name, range: s.range, size_bytes: s.bytes })),
  );
}
