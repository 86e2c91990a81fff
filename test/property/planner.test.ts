/**
 * Properties of the segment planner: where each segment lands in the image, for any segment
 * list, and what the composite ETag and the listing health checks can tell.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compositeEtag, dloHealth, layOut, parseSloRange } from '../../src/core/large-object.js';
import type { ListingItem } from '../../src/core/swift.js';

const sizes = fc.array(fc.nat({ max: 2 ** 40 }), { maxLength: 60 });
const md5 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => Buffer.from(b).toString('hex'));

function item(name: string, bytes: number, hash = 'd41d8cd98f00b204e9800998ecf8427e'): ListingItem {
  return { name, bytes, hash, content_type: '', last_modified: '' };
}

describe('layOut', () => {
  it('puts each piece right after the one before, in order, and the last ends at the total', () => {
    fc.assert(
      fc.property(sizes, (list) => {
        const laid = layOut(list.map((size, i) => ({ size, tag: i })));
        let expected = 0;
        laid.forEach((piece, i) => {
          expect(piece).toMatchObject({ index: i, tag: i, size: list[i], offset: expected });
          expected += piece.size;
        });
        const end = laid.length ? (laid.at(-1)?.offset ?? 0) + (laid.at(-1)?.size ?? 0) : 0;
        expect(end).toBe(list.reduce((a, b) => a + b, 0));
      }),
    );
  });
});

describe('compositeEtag', () => {
  it('is the MD5 of the hex digests laid end to end, so order and every digest count', () => {
    fc.assert(
      fc.property(fc.array(md5, { minLength: 2, maxLength: 20 }), fc.nat(), (hashes, k) => {
        const etag = compositeEtag(hashes.map((hash) => ({ hash })));
        const joined = createHash('md5').update(hashes.join(''), 'ascii').digest('hex');
        expect(etag).toBe(joined);
        const i = k % hashes.length;
        const j = (i + 1) % hashes.length;
        if (hashes[i] !== hashes[j]) {
          const swapped = [...hashes];
          [swapped[i], swapped[j]] = [swapped[j] as string, swapped[i] as string];
          expect(compositeEtag(swapped.map((hash) => ({ hash })))).not.toBe(etag);
        }
        const changed = hashes.map((h, n) =>
          n === i ? (h.startsWith('0') ? `1${h.slice(1)}` : `0${h.slice(1)}`) : h,
        );
        expect(compositeEtag(changed.map((hash) => ({ hash })))).not.toBe(etag);
      }),
    );
  });
});

describe('dloHealth', () => {
  const listing = fc
    .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.nat())
    .map(([count, size, last]) =>
      Array.from({ length: count }, (_, i) =>
        item(
          `img.vhd-${String(i + 1).padStart(5, '0')}`,
          i === count - 1 ? (last % size) + 1 : size,
        ),
      ),
    );

  it('finds nothing wrong with consecutive segments of one size and a shorter last one', () => {
    fc.assert(
      fc.property(listing, (items) => {
        expect(dloHealth('img.vhd-', items)).toEqual([]);
      }),
    );
  });

  it('names a gap wherever a segment is missing, and a segment of the wrong size', () => {
    fc.assert(
      fc.property(listing, fc.nat(), (items, k) => {
        fc.pre(items.length >= 3);
        const gone = 1 + (k % (items.length - 2));
        const gap = items.filter((_, i) => i !== gone);
        expect(dloHealth('img.vhd-', gap).join('\n')).toMatch(/numbering jumps/);
        const odd = items.map((it, i) => (i === gone ? { ...it, bytes: it.bytes + 1 } : it));
        expect(dloHealth('img.vhd-', odd).join('\n')).toMatch(/only the last may differ/);
      }),
    );
    expect(dloHealth('img.vhd-', [])).toHaveLength(1);
  });
});

describe('parseSloRange', () => {
  const text = fc.oneof(
    fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}-${b}`),
    fc.nat().map((a) => `${a}-`),
    fc.nat({ max: 10 }).map((n) => `-${n}`),
    fc.nat().map((n) => `-${n}`),
    fc.string(),
  );

  const segmentSize = fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 2 ** 40 }));

  it('gives a non-empty range inside the segment, or nothing', () => {
    fc.assert(
      fc.property(text, segmentSize, (range, size) => {
        const r = parseSloRange(range, size);
        if (r === undefined) return;
        expect(r.start).toBeGreaterThanOrEqual(0);
        expect(r.end).toBeGreaterThanOrEqual(r.start);
        expect(r.end).toBeLessThan(size);
      }),
    );
  });

  it('reads start-end, start- and -suffix as RFC 9110 byte ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.nat(), fc.nat(), (size, x, y) => {
        const [a, b] = [x % size, y % size].sort((p, q) => p - q) as [number, number];
        expect(parseSloRange(`${a}-${b}`, size)).toEqual({ start: a, end: b });
        expect(parseSloRange(`${a}-`, size)).toEqual({ start: a, end: size - 1 });
        expect(parseSloRange(`-${b + 1}`, size)).toEqual({ start: size - b - 1, end: size - 1 });
        expect(parseSloRange(`${a}-${size + y}`, size)).toEqual({ start: a, end: size - 1 });
      }),
    );
  });
});
