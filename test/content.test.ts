import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bufferContent,
  concatContent,
  generatedContent,
  sliceContent,
} from '../src/emulator/content.js';

const MiB = 1024 * 1024;

/** Offsets a <= b <= c inside `size`, biased towards AES block edges and the 1 MiB read limit. */
function threeOffsets(size: number) {
  const offset = fc.oneof(
    fc.integer({ min: 0, max: size }),
    fc.integer({ min: 0, max: Math.floor(size / 16) }).map((n) => n * 16),
    fc.integer({ min: -40, max: 40 }).map((d) => Math.min(size, Math.max(0, MiB + d))),
  );
  return fc.tuple(offset, offset, offset).map((t) => t.sort((x, y) => x - y));
}

describe('generatedContent', () => {
  it('reports the size it was given and reads exactly end - start bytes', () => {
    const content = generatedContent(1000, 'seed');
    expect(content.size).toBe(1000);
    expect(content.read(0, 1000)).toHaveLength(1000);
    expect(content.read(3, 17)).toHaveLength(14);
    expect(content.read(500, 500)).toHaveLength(0);
  });

  it('gives the same bytes for the same seed, even from a fresh instance', () => {
    const a = generatedContent(4096, 'image-1').read(0, 4096);
    const b = generatedContent(4096, 'image-1').read(0, 4096);
    expect(a.equals(b)).toBe(true);
  });

  it('gives different bytes for different seeds', () => {
    const a = generatedContent(4096, 'image-1').read(0, 4096);
    const b = generatedContent(4096, 'image-2').read(0, 4096);
    expect(a.equals(b)).toBe(false);
  });

  it('does not depend on the size, only on the seed and the offset', () => {
    const small = generatedContent(100, 'seed').read(10, 90);
    const large = generatedContent(10 * MiB, 'seed').read(10, 90);
    expect(small.equals(large)).toBe(true);
  });

  it('is the AES-128-CTR keystream with the block index as a 128-bit big-endian counter', () => {
    const key = createHash('sha256').update('seed').digest().subarray(0, 16);
    const content = generatedContent(2 ** 45, 'seed');
    for (const block of [0, 1, 255, 256, 2 ** 33 + 5]) {
      const counter = Buffer.alloc(16);
      counter.writeBigUInt64BE(BigInt(block), 8);
      const expected = createCipheriv('aes-128-ecb', key, null).update(counter);
      expect(content.read(block * 16, block * 16 + 16).equals(expected)).toBe(true);
    }
  });

  it('agrees with itself however a range is split', () => {
    const size = 3 * MiB + 7;
    const content = generatedContent(size, 'split');
    fc.assert(
      fc.property(threeOffsets(size), ([a, b, c]) => {
        const whole = content.read(a, c);
        const joined = Buffer.concat([content.read(a, b), content.read(b, c)]);
        expect(whole).toHaveLength(c - a);
        expect(whole.equals(joined)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reads a range deep inside a 1 TiB content without generating what comes before it', () => {
    const content = generatedContent(2 ** 40, 'fast');
    const at = 2 ** 39 + 3;
    const bytes = content.read(at, at + 64 * MiB);
    expect(bytes).toHaveLength(64 * MiB);
    const tail = content.read(at + 64 * MiB - 100, at + 64 * MiB);
    expect(bytes.subarray(64 * MiB - 100).equals(tail)).toBe(true);
  });

  it('refuses ranges outside the content or backwards', () => {
    const content = generatedContent(100, 'seed');
    expect(() => content.read(-1, 10)).toThrow(RangeError);
    expect(() => content.read(10, 101)).toThrow(RangeError);
    expect(() => content.read(20, 10)).toThrow(RangeError);
    expect(() => content.read(0.5, 10)).toThrow(RangeError);
    expect(() => generatedContent(-1, 'seed')).toThrow(RangeError);
  });
});

describe('bufferContent, concatContent and sliceContent', () => {
  const bytes = Buffer.from('0123456789abcdefghij');

  it('reads ranges of a buffer', () => {
    const content = bufferContent(bytes);
    expect(content.size).toBe(20);
    expect(content.read(2, 5).toString()).toBe('234');
    expect(() => content.read(0, 21)).toThrow(RangeError);
  });

  it('reads a Uint8Array view at its own offset', () => {
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 10, 5);
    expect(bufferContent(view).read(0, 5).toString()).toBe('abcde');
  });

  it('joins parts and reads across their edges', () => {
    const content = concatContent([
      bufferContent(Buffer.from('abc')),
      bufferContent(Buffer.alloc(0)),
      bufferContent(Buffer.from('defg')),
    ]);
    expect(content.size).toBe(7);
    expect(content.read(0, 7).toString()).toBe('abcdefg');
    expect(content.read(2, 5).toString()).toBe('cde');
    expect(content.read(3, 3)).toHaveLength(0);
  });

  it('joins parts consistently however a range is split', () => {
    const content = concatContent([
      generatedContent(1000, 'x'),
      bufferContent(bytes),
      generatedContent(MiB + 5, 'y'),
    ]);
    const expected = Buffer.concat([
      content.read(0, 1000),
      bytes,
      content.read(1020, content.size),
    ]);
    fc.assert(
      fc.property(threeOffsets(content.size), ([a, b, c]) => {
        const joined = Buffer.concat([content.read(a, b), content.read(b, c)]);
        expect(joined.equals(expected.subarray(a, c))).toBe(true);
      }),
    );
  });

  it('cuts a slice that reads as the same bytes of the whole', () => {
    const whole = generatedContent(5000, 'slice');
    const slice = sliceContent(whole, 1000, 3000);
    expect(slice.size).toBe(2000);
    expect(slice.read(10, 20).equals(whole.read(1010, 1020))).toBe(true);
    expect(() => slice.read(0, 2001)).toThrow(RangeError);
    expect(() => sliceContent(whole, 4000, 6000)).toThrow(RangeError);
  });
});
