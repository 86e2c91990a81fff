/**
 * MD5s of local files and of byte ranges inside them, read in a stream of fixed-size buffers so
 * memory stays flat whatever the size of the segment or image.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { localError } from './local-io.js';

/** Bytes read at a time: large enough for disks to stream, small enough to stay flat. */
export const READ_CHUNK = 4 << 20;

export interface HashOptions {
  signal?: AbortSignal;
  /** Bytes hashed so far, as they are read (for progress). */
  onBytes?: (delta: number) => void;
}

/** Size and MD5 of a whole file, streamed. Throws a LocalIOError naming the file. */
export async function hashFile(
  path: string,
  opts: HashOptions = {},
): Promise<{ size: number; md5: string }> {
  const md5 = createHash('md5');
  let size = 0;
  try {
    const stream = createReadStream(path, {
      highWaterMark: READ_CHUNK,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      md5.update(buf);
      size += buf.length;
      opts.onBytes?.(buf.length);
    }
  } catch (err) {
    throw localError(err, path, 'reading');
  }
  return { size, md5: md5.digest('hex') };
}

/**
 * MD5 of bytes [start, end) of an open file, read positionally into one reused buffer. Returns
 * undefined when the file ends before `end` (the caller reports the short file).
 */
export async function hashSlice(
  fh: FileHandle,
  path: string,
  start: number,
  end: number,
  opts: HashOptions = {},
): Promise<string | undefined> {
  const md5 = createHash('md5');
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, Math.max(1, end - start)));
  let pos = start;
  while (pos < end) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos));
    } catch (err) {
      throw localError(err, path, 'reading');
    }
    if (bytesRead === 0) return undefined;
    md5.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
    opts.onBytes?.(bytesRead);
  }
  return md5.digest('hex');
}
