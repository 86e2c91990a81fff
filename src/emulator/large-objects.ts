/**
 * What DLOs and SLOs share: streaming a body made of segments the way Swift's
 * SegmentedIterable does. Headers have gone out before the segments are read, so when a segment
 * is missing, or (for SLO) no longer has the manifest's ETag and size, or its bytes turn out not
 * to match its own ETag once read whole, all the server can do is close the connection: the
 * client sees a premature end. Only the first segment is checked before the headers (409).
 */
import type { Exchange } from './exchange.js';
import { streamContent } from './objects.js';
import type { Container, StoredObject } from './store.js';

/** One piece of a large object's body: bytes [first, last) of a segment object. */
export interface Piece {
  container: Container | undefined;
  name: string;
  first: number;
  last: number;
  /** True when the whole segment is read (no sub-range), so Swift checks its MD5. */
  whole: boolean;
  /** SLO only: the manifest's record of the segment, checked before reading. */
  expect?: { hash: string; bytes: number | undefined };
}

/** A segment object that can be served for this piece, or undefined (missing or changed). */
export async function segmentFor(piece: Piece): Promise<StoredObject | undefined> {
  const o = piece.container?.objects.get(piece.name);
  if (o === undefined || o.gone) return undefined;
  const expect = piece.expect;
  if (expect !== undefined) {
    if ((await o.md5()) !== expect.hash) return undefined;
    if (expect.bytes !== undefined && o.size !== expect.bytes) return undefined;
  }
  return o;
}

/**
 * Streams the pieces in order and returns whether the body completed. Cuts the connection when a
 * segment is missing or changed, when a whole segment was read and its bytes were corrupted, or
 * when the bytes sent do not add up to `expected` (a segment shorter or longer than listed).
 */
export async function streamPieces(
  ex: Exchange,
  pieces: AsyncIterable<Piece> | Iterable<Piece>,
  expected: number | undefined,
  limiter?: SegmentRateLimiter,
): Promise<boolean> {
  let sent = 0;
  for await (const piece of pieces) {
    await limiter?.wait();
    const o = await segmentFor(piece);
    if (o === undefined) return cutShort(ex, `segment ${piece.name} missing or changed`);
    const last = Math.min(piece.last, o.size);
    if (!(await streamContent(ex, o.data, piece.first, last))) return false;
    sent += last - piece.first;
    if (piece.whole && o.corrupted) {
      o.noticeCorruption();
      return cutShort(ex, `segment ${piece.name} failed its MD5`);
    }
  }
  if (expected !== undefined && sent !== expected) {
    return cutShort(ex, `sent ${sent} of ${expected} bytes`);
  }
  return ex.writable;
}

function cutShort(ex: Exchange, why: string): false {
  ex.entry.fault ??= `server cut: ${why}`;
  ex.cut();
  return false;
}

/**
 * Swift's DLO throttle (RateLimitedIterator over an EventletRateLimiter with a 5 s buffer): the
 * first `after` segments go at once, later ones at most `perSec` a second.
 */
export class SegmentRateLimiter {
  private count = 0;
  private runningTime = 0;

  constructor(
    private readonly after: number,
    private readonly perSec: number,
  ) {}

  async wait(): Promise<void> {
    if (this.count < this.after) {
      this.count += 1;
      return;
    }
    const now = Date.now();
    const step = 1000 / this.perSec;
    if (now - this.runningTime > 5000) this.runningTime = now;
    const delay = this.runningTime - now;
    this.runningTime += step;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  }
}
