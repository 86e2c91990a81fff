/**
 * The streaming download core shared by `get`, `get-segments` and `verify`: fetch one piece of
 * an image (a segment, or a byte range of one) with retries, resuming a body that ends early
 * with a Range request from the last byte received, never from zero, and with If-Match on the
 * listed MD5 so a segment replaced on the server is noticed instead of spliced in.
 */
import { createHash } from 'node:crypto';
import { IntegrityError } from './errors.js';
import { headerValue, parseContentRange } from './headers.js';
import type { Segment } from './large-object.js';
import { type RetryPolicy, StatusError, withRetries } from './retry.js';
import { asTransferError, type SwiftClient } from './swift.js';

/** What the engine reports while it works; the CLI turns these into progress and log lines. */
export interface TransferEvents {
  /** Bytes received (negative when bytes are thrown away to be fetched again). */
  onBytes?: (delta: number) => void;
  onRetry?: (what: string, reason: string, delayMs: number) => void;
  onWarning?: (message: string) => void;
}

/** A body that ended before its Content-Length: transient, resumed from where it stopped. */
export class ShortBodyError extends Error {
  readonly code = 'CFIMG_SHORT_BODY';
  constructor(got: number, wanted: number) {
    super(`the body ended after ${got} of ${wanted} bytes`);
  }
}

export interface FetchRangeOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  events?: TransferEvents;
  /** Upper bound on resumptions that made progress (they do not use up the retry budget). */
  maxResumes?: number;
  /**
   * `onChunk` is done with each chunk (or has copied it) when it returns or its promise
   * settles: chunks may then be views of a reused read buffer, which spares an allocation per
   * read and the garbage collection after it.
   */
  borrow?: boolean;
}

/**
 * Streams bytes [from, to) of a piece to `onChunk(chunk, position)`, in order, exactly once
 * each, whatever the connection does. Throws IntegrityError for a piece that vanished (404,
 * 409) or changed (412), and TransferError when the retry budget is spent.
 */
export async function fetchRange(
  client: SwiftClient,
  piece: Segment,
  from: number,
  to: number,
  onChunk: (chunk: Buffer, position: number) => Promise<void> | void,
  opts: FetchRangeOptions,
): Promise<void> {
  let pos = from;
  let progressed = false;
  let resumes = 0;
  const base = piece.range?.start ?? 0;
  const label = `${piece.container}/${piece.object}`;
  const attempt = async (): Promise<void> => {
    progressed = false;
    if (pos >= to) return;
    const res = await client.open(piece.container, piece.object, {
      ...(pos > 0 || piece.range || to < piece.size
        ? { start: base + pos, end: base + to - 1 }
        : {}),
      ...(piece.md5 ? { ifMatch: piece.md5 } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let skip = 0;
    if (res.status === 206) {
      const range = parseContentRange(headerValue(res.headers, 'content-range'));
      if (range?.start !== base + pos) {
        await res.body.dump().catch(() => undefined);
        throw new IntegrityError(
          `${label}: the server answered a range request with the wrong range`,
        );
      }
    } else {
      skip = base + pos; // 200: the server ignored Range; drop what we already have
    }
    const body = opts.borrow && res.body.borrowed ? res.body.borrowed() : res.body;
    for await (const data of body) {
      let chunk = data as Buffer;
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) continue;
      }
      if (pos + chunk.length > to) chunk = chunk.subarray(0, to - pos);
      await onChunk(chunk, pos);
      pos += chunk.length;
      progressed = true;
      opts.events?.onBytes?.(chunk.length);
      if (pos >= to) {
        res.body.destroy();
        break;
      }
    }
    if (pos < to) throw new ShortBodyError(pos - from, to - from);
  };
  try {
    await withRetries(attempt, opts.policy, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      isFree: () => progressed && resumes++ < (opts.maxResumes ?? 100),
      onRetry: (err, _n, delayMs) => opts.events?.onRetry?.(label, describe(err), delayMs),
    });
  } catch (err) {
    throw pieceError(err, label, opts.policy.retries);
  }
}

/** Maps a piece's final failure: vanished or changed pieces are integrity failures (exit 3). */
function pieceError(err: unknown, label: string, retries: number): unknown {
  if (err instanceof StatusError) {
    const trans = err.transId ? ` (X-Trans-Id: ${err.transId})` : '';
    if (err.status === 404 || err.status === 409) {
      return new IntegrityError(
        `segment ${label} is listed but missing on the server (HTTP ${err.status})${trans}: ` +
          'the image in Cloud Files is damaged',
      );
    }
    if (err.status === 412) {
      return new IntegrityError(
        `segment ${label} changed on the server since it was listed (HTTP 412)${trans}: run the command again`,
      );
    }
    if (err.status === 416)
      return new IntegrityError(`segment ${label} is shorter than listed (HTTP 416)${trans}`);
  }
  return asTransferError(err, 'GET', label, retries);
}

/** A one-line reason for a retry, for the verbose log and progress. */
export function describe(err: unknown): string {
  if (err instanceof StatusError)
    return `HTTP ${err.status}${err.transId ? ` (${err.transId})` : ''}`;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : ((err as Error)?.message ?? String(err));
}

export interface FetchPieceOptions extends FetchRangeOptions {
  /** Whole fetches allowed when the bytes fail their MD5 check. */
  integrityAttempts?: number;
}

/**
 * Fetches a whole piece, hashing it as it streams, and fetches it again while its MD5 does not
 * match the listing. Returns the MD5 it verified (or computed, for a size-only piece).
 */
export async function fetchPiece(
  client: SwiftClient,
  piece: Segment,
  write: (chunk: Buffer, position: number) => Promise<void> | void,
  opts: FetchPieceOptions,
): Promise<string> {
  const attempts = opts.integrityAttempts ?? 3;
  let actual = '';
  for (let n = 1; n <= attempts; n++) {
    const md5 = createHash('md5');
    await fetchRange(
      client,
      piece,
      0,
      piece.size,
      (chunk, pos) => {
        md5.update(chunk);
        return write(chunk, pos);
      },
      opts,
    );
    actual = md5.digest('hex');
    if (!piece.md5 || actual === piece.md5) return actual;
    opts.events?.onBytes?.(-piece.size);
    opts.events?.onRetry?.(
      `${piece.container}/${piece.object}`,
      `MD5 ${actual} is not the listed ${piece.md5}`,
      0,
    );
  }
  throw new IntegrityError(
    `segment ${piece.container}/${piece.object} failed its MD5 check ${attempts} times: ` +
      `expected ${piece.md5}, got ${actual}`,
  );
}

/**
 * Runs `work` over `items` with at most `limit` at once. The first failure aborts the rest
 * (through the signal it passes on) and is the one thrown.
 */
export async function runPool<T>(
  items: T[],
  limit: number,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  outer?: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', stop, { once: true });
  let next = 0;
  let failure: { err: unknown } | undefined;
  async function worker(): Promise<void> {
    while (!failure && !controller.signal.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item, controller.signal);
      } catch (err) {
        failure ??= { err };
        controller.abort(err);
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    outer?.removeEventListener('abort', stop);
  }
  if (failure) throw failure.err;
  // Work that does not watch the signal (a rename, an fsync) can finish normally after an
  // abort: the items never started must not pass for done.
  if (next < items.length) throw controller.signal.reason;
}
