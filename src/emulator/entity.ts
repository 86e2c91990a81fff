/**
 * Answers GET/HEAD for any object body (plain, DLO, SLO) the way swob does, in swob's order:
 * If-None-Match / If-Match first (304 / 412), then HEAD, then Range (206, multipart/byteranges
 * for several ranges where allowed, 416 `bytes *\/SIZE`), else 200.
 */
import { randomBytes } from 'node:crypto';
import type { Exchange, Headers } from './exchange.js';
import { type ByteRange, contentRange, parseRange, rangesForLength } from './ranges.js';

/**
 * Streams bytes [start, end) of the body (`end` is Infinity for "to the end, length unknown");
 * resolves false when the body was cut short.
 */
export type BodySource = (start: number, end: number) => Promise<boolean>;

/** What `respondEntity` needs to know about a body. */
export interface Entity {
  /** Headers besides Content-Length (Content-Type, Etag, Last-Modified, …). */
  headers: Headers;
  /** The ETag as sent, quoted or not; conditionals compare it without quotes. */
  etag: string;
  /** The length ranges are computed against; also the Content-Length of a full 200. */
  size: number;
  /** The Content-Length of a full 200 when it differs from `size`; null for none (chunked). */
  fullLength?: number | null;
  /** Which Range headers are honoured: several (multipart), a single one, or none. */
  ranges: 'multi' | 'single' | 'none';
  source: BodySource;
  /** Checked before the headers go out, for the byte the body starts at; false means 409. */
  validateStart?: (start: number) => Promise<boolean>;
}

/** Compares ETags as swob does: quotes ignored, `*` matches anything. */
export function etagMatches(header: string, etag: string): boolean {
  const bare = unquote(etag);
  return header
    .split(',')
    .map((t) => unquote(t.trim()))
    .some((t) => t === '*' || t === bare);
}

function unquote(tag: string): string {
  return tag.length > 1 && tag.startsWith('"') && tag.endsWith('"') ? tag.slice(1, -1) : tag;
}

/** Answers a GET or HEAD for the entity. */
export async function respondEntity(ex: Exchange, entity: Entity): Promise<void> {
  const { headers } = ex.req;
  const ifNoneMatch = headers['if-none-match'];
  const ifMatch = headers['if-match'];
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, entity.etag)) {
    return ex.send(304, { ...entity.headers, 'Content-Length': 0 });
  }
  if (ifMatch !== undefined && !etagMatches(ifMatch, entity.etag)) {
    const { 'Accept-Ranges': _, ...headers } = entity.headers;
    return ex.send(412, { ...headers, 'Content-Type': 'text/html; charset=UTF-8' }, '');
  }

  const full = entity.fullLength === undefined ? entity.size : entity.fullLength;
  if (ex.method === 'HEAD') return ex.send(200, withLength(entity.headers, full));

  const specs = entity.ranges === 'none' ? undefined : parseRange(headers.range);
  if (specs !== undefined && (entity.ranges === 'multi' || specs.length === 1)) {
    const ranges = rangesForLength(specs, entity.size);
    if (ranges.length === 0) {
      const extra = { 'Content-Range': `bytes */${entity.size}`, 'Accept-Ranges': 'bytes' };
      return ex.sendError(416, { ...entity.headers, ...extra });
    }
    if (entity.size > 0) return sendRanges(ex, entity, ranges);
  }

  if (entity.validateStart && !(await entity.validateStart(0))) return ex.sendError(409);
  ex.begin(200, withLength(entity.headers, full));
  if (await entity.source(0, full ?? Number.POSITIVE_INFINITY)) ex.end();
}

function withLength(headers: Headers, length: number | null): Headers {
  return length === null ? headers : { ...headers, 'Content-Length': length };
}

async function sendRanges(ex: Exchange, entity: Entity, ranges: ByteRange[]): Promise<void> {
  const first = ranges[0] as ByteRange;
  if (entity.validateStart && !(await entity.validateStart(first.start))) {
    return ex.sendError(409);
  }
  if (ranges.length === 1) {
    ex.begin(206, {
      ...entity.headers,
      'Content-Range': contentRange(first, entity.size),
      'Content-Length': first.end - first.start,
    });
    if (await entity.source(first.start, first.end)) ex.end();
    return;
  }

  // multipart/byteranges exactly as swob frames it.
  const boundary = randomBytes(16).toString('hex');
  const type = String(entity.headers['Content-Type'] ?? 'application/octet-stream');
  const partHead = (r: ByteRange) =>
    Buffer.from(
      `--${boundary}\r\nContent-Type: ${type}\r\n` +
        `Content-Range: ${contentRange(r, entity.size)}\r\n\r\n`,
    );
  const tail = Buffer.from(`--${boundary}--`);
  const length =
    ranges.reduce((n, r) => n + partHead(r).length + (r.end - r.start) + 2, 0) + tail.length;
  ex.begin(206, {
    ...entity.headers,
    'Content-Type': `multipart/byteranges;boundary=${boundary}`,
    'Content-Length': length,
  });
  for (const r of ranges) {
    if (!(await ex.write(partHead(r)))) return;
    if (!(await entity.source(r.start, r.end))) return;
    if (!(await ex.write(Buffer.from('\r\n')))) return;
  }
  if (await ex.write(tail)) ex.end();
}
