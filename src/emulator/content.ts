/**
 * Object bodies for the emulator and the tests: anything that knows its size and can hand out
 * any byte range on demand, so a multi-GB image costs no memory until a range is asked for.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** A body of `size` bytes; `read(start, end)` returns exactly `end - start` bytes (end exclusive). */
export interface Content {
  readonly size: number;
  read(start: number, end: number): Buffer;
}

/** AES works on 16-byte blocks; CTR mode turns block number n into keystream bytes 16n..16n+15. */
const AES_BLOCK = 16;

/** Zeros to encrypt: the keystream of AES-CTR over zeros is the content itself. */
const ZEROS = Buffer.alloc(1 << 20);

/**
 * Reads up to this size are one `update` call; longer ones go in 256 KiB steps into one output
 * buffer, which measured faster than a single huge call (fewer fresh pages touched twice).
 */
const STEP = 256 << 10;

/**
 * Deterministic pseudo-random bytes: the AES-128-CTR keystream under the first 16 bytes of
 * sha256(seed), counter block 0 at offset 0. Any range is computed directly from its offset, so
 * slices agree with the whole and nothing is stored.
 */
export function generatedContent(size: number, seed: string): Content {
  checkSize(size);
  const key = createHash('sha256').update(seed, 'utf8').digest().subarray(0, AES_BLOCK);
  return {
    size,
    read(start, end) {
      checkRange(size, start, end);
      return keystream(key, start, end - start);
    },
  };
}

/** Content backed by a buffer; `read` returns views into it, so callers must not write to them. */
export function bufferContent(buf: Uint8Array): Content {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    size: bytes.length,
    read(start, end) {
      checkRange(bytes.length, start, end);
      return bytes.subarray(start, end);
    },
  };
}

/** The parts one after another, as one body (a data area and its footer, say). */
export function concatContent(parts: readonly Content[]): Content {
  const starts: number[] = [];
  let size = 0;
  for (const part of parts) {
    starts.push(size);
    size += part.size;
  }
  checkSize(size);

  return {
    size,
    read(start, end) {
      checkRange(size, start, end);
      const pieces: Buffer[] = [];
      parts.forEach((part, i) => {
        const base = starts[i] ?? 0;
        const from = Math.max(start, base);
        const to = Math.min(end, base + part.size);
        if (from < to) pieces.push(part.read(from - base, to - base));
      });
      return pieces.length === 1
        ? (pieces[0] ?? Buffer.alloc(0))
        : Buffer.concat(pieces, end - start);
    },
  };
}

/** Bytes `start..end` of `content` as a body of its own (one segment of an image, say). */
export function sliceContent(content: Content, start: number, end: number): Content {
  checkRange(content.size, start, end);
  return {
    size: end - start,
    read(from, to) {
      checkRange(end - start, from, to);
      return content.read(start + from, start + to);
    },
  };
}

function keystream(key: Buffer, start: number, length: number): Buffer {
  const skip = start % AES_BLOCK;
  const iv = Buffer.alloc(AES_BLOCK);
  iv.writeBigUInt64BE(BigInt((start - skip) / AES_BLOCK), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);

  // Start at the block boundary and drop the first `skip` bytes: unaligned reads then agree
  // byte for byte with aligned ones.
  const total = skip + length;
  if (total <= ZEROS.length) return cipher.update(ZEROS.subarray(0, total)).subarray(skip);

  const out = Buffer.allocUnsafe(total);
  for (let at = 0; at < total; at += STEP) {
    cipher.update(ZEROS.subarray(0, Math.min(STEP, total - at))).copy(out, at);
  }
  return out.subarray(skip);
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`content size must be a non-negative safe integer, got ${size}`);
  }
}

function checkRange(size: number, start: number, end: number): void {
  const valid =
    Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end;
  if (!valid || end > size) {
    throw new RangeError(`range ${start}..${end} is not inside content of ${size} bytes`);
  }
}
