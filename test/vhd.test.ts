import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkVhdFile,
  parseDynamicHeader,
  parseFooter,
  type VhdReport,
  vhdChecksum,
} from '../src/core/vhd.js';
import {
  buildDynamicHeader,
  buildFooter,
  diskGeometry,
  dynamicVhdImage,
  fixedVhdImage,
} from '../src/emulator/vhd-image.js';

const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;

let dir: string;
let fileCount = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfimg-vhd-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `bytes` to a fresh temporary file and checks it. */
async function check(bytes: Uint8Array): Promise<VhdReport> {
  const path = join(dir, `image-${fileCount++}.vhd`);
  await writeFile(path, bytes);
  return checkVhdFile(path);
}

/** A footer with a wrong checksum: one byte changed after the checksum was computed. */
function withBadChecksum(footer: Buffer): Buffer {
  const copy = Buffer.from(footer);
  copy[100] = 0x55;
  return copy;
}

/** A 4-block (8 MiB) dynamic image with blocks 2 and 0 allocated, in that order. */
const dynamic = dynamicVhdImage({ virtualSize: 8 * MiB, allocated: [2, 0], seed: 'dyn' });
const dynamicFooter = dynamic.subarray(dynamic.length - 512);

/**
 * The whole of an empty 10 MiB dynamic disk as `qemu-img create -f vpc` (7.2) wrote it: an
 * outside witness for field offsets, checksums and geometry. Bytes not listed are zero.
 */
const QEMU_FOOTER = fromHex(
  '636f6e6563746978 00000002 00010000 0000000000000200 32a49bbd 71656d75 00050003 5769326b' +
    ' 0000000000a07000 0000000000a07000 012e0411 00000003 ffffedd5' +
    ' ba66132ac18c452b8d7dcf5c5b7b17da',
  512,
);
const QEMU_HEADER = fromHex(
  '6378737061727365 ffffffffffffffff 0000000000000600 00010000 00000006 00200000 fffff471',
  1024,
);
const QEMU_IMAGE = Buffer.concat([QEMU_FOOTER, QEMU_HEADER, Buffer.alloc(512, 0xff), QEMU_FOOTER]);

function fromHex(hex: string, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  Buffer.from(hex.replaceAll(' ', ''), 'hex').copy(bytes);
  return bytes;
}

describe('a dynamic disk written by qemu-img', () => {
  it('has a footer that parses without problems', () => {
    const verdict = parseFooter(QEMU_FOOTER);
    expect(verdict.problems).toEqual([]);
    expect(verdict.footer).toMatchObject({
      dataOffset: 512n,
      creatorApp: 'qemu',
      creatorOs: 'Wi2k',
      currentSize: 10514432n,
      geometry: { cylinders: 302, heads: 4, sectorsPerTrack: 17 },
      diskTypeName: 'dynamic',
      checksum: { stored: 0xffffedd5, computed: 0xffffedd5 },
      uuid: 'ba66132ac18c452b8d7dcf5c5b7b17da',
    });
  });

  it('has a header that parses without problems', () => {
    const verdict = parseDynamicHeader(QEMU_HEADER);
    expect(verdict.problems).toEqual([]);
    expect(verdict.header).toMatchObject({
      tableOffset: 1536n,
      maxTableEntries: 6,
      blockSize: BLOCK,
      checksum: { stored: 0xfffff471, computed: 0xfffff471 },
    });
  });

  it('passes the file check with no block allocated', async () => {
    expect(await check(QEMU_IMAGE)).toMatchObject({ ok: true, allocatedBlocks: 0 });
  });
});

describe('vhdChecksum', () => {
  it('is all ones for a buffer of zeros', () => {
    expect(vhdChecksum(new Uint8Array(512), 64)).toBe(0xffffffff);
  });

  it('is the complement of the byte sum with the four checksum bytes left out', () => {
    const buf = new Uint8Array(16).fill(1);
    buf.fill(0xff, 4, 8);
    expect(vhdChecksum(buf, 4)).toBe(~12 >>> 0);
  });
});

describe('diskGeometry', () => {
  // Rows agree with the footers qemu-img 7.2 writes for disks of these sizes.
  it.each([
    [1079296, 31, 4, 17],
    [10514432, 302, 4, 17],
    [104865792, 1004, 12, 17],
    [524353536, 1016, 16, 63],
    [33286127616, 64496, 16, 63],
    [42951106560, 20561, 16, 255],
    [214748364800, 65535, 16, 255],
  ])('gives %i bytes %i cylinders, %i heads and %i sectors a track', (size, c, h, s) => {
    expect(diskGeometry(size)).toEqual({ cylinders: c, heads: h, sectorsPerTrack: s });
  });
});

describe('parseFooter', () => {
  it('reads back every field that buildFooter wrote', () => {
    const arbitrary = fc.record({
      currentSize: fc.bigInt({ min: 0n, max: 2n ** 50n }).map((n) => n * 512n),
      diskType: fc.constantFrom('fixed' as const, 'dynamic' as const),
      uuid: fc.uuid(),
      seconds: fc.integer({ min: 0, max: 0xffffffff }),
    });
    fc.assert(
      fc.property(arbitrary, ({ currentSize, diskType, uuid, seconds }) => {
        const timestamp = new Date(Date.UTC(2000, 0, 1) + seconds * 1000);
        const verdict = parseFooter(buildFooter({ currentSize, diskType, uuid, timestamp }));
        expect(verdict.problems).toEqual([]);
        expect(verdict.footer).toMatchObject({
          cookie: 'conectix',
          version: 0x00010000,
          dataOffset: diskType === 'fixed' ? 2n ** 64n - 1n : 512n,
          timestamp,
          creatorApp: 'tap\0',
          originalSize: currentSize,
          currentSize,
          geometry: diskGeometry(currentSize),
          diskType: diskType === 'fixed' ? 2 : 3,
          diskTypeName: diskType,
          uuid: uuid.replaceAll('-', ''),
          savedState: false,
        });
      }),
    );
  });

  it('names a wrong cookie, a bad checksum and an unknown disk type', () => {
    const footer = buildFooter({ currentSize: MiB, diskType: 'fixed' });
    footer.write('conectiz', 0, 'latin1');
    footer.writeUInt32BE(7, 60);
    const verdict = parseFooter(footer);
    expect(verdict.ok).toBe(false);
    expect(verdict.footer?.diskTypeName).toBe('unknown');
    expect(verdict.problems).toHaveLength(3);
    expect(verdict.problems[0]).toContain('"conectiz"');
    expect(verdict.problems[1]).toContain('checksum');
    expect(verdict.problems[2]).toContain('disk type 7');
  });

  it('says a short buffer is too short and returns no footer', () => {
    const verdict = parseFooter(new Uint8Array(100));
    expect(verdict).toEqual({ ok: false, footer: undefined, problems: [expect.any(String)] });
    expect(verdict.problems[0]).toContain('512 bytes');
  });

  it('reads the first 512 bytes of a longer buffer but says its length is wrong', () => {
    const footer = buildFooter({ currentSize: MiB, diskType: 'fixed' });
    const verdict = parseFooter(Buffer.concat([footer, Buffer.alloc(10)]));
    expect(verdict.footer?.currentSize).toBe(BigInt(MiB));
    expect(verdict.problems).toEqual(['a VHD footer is 512 bytes, 522 were given']);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1100 }), (bytes) => {
        const verdict = parseFooter(bytes);
        expect(verdict.ok).toBe(verdict.problems.length === 0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseDynamicHeader', () => {
  it('reads back the fields buildDynamicHeader wrote', () => {
    const header = buildDynamicHeader({ tableOffset: 1536, maxTableEntries: 20, blockSize: BLOCK });
    const verdict = parseDynamicHeader(header);
    expect(verdict.problems).toEqual([]);
    expect(verdict.header).toMatchObject({
      cookie: 'cxsparse',
      dataOffset: 2n ** 64n - 1n,
      tableOffset: 1536n,
      headerVersion: 0x00010000,
      maxTableEntries: 20,
      blockSize: BLOCK,
    });
  });

  it('names a wrong cookie, a bad checksum and a block size that is not whole sectors', () => {
    const header = buildDynamicHeader({ tableOffset: 1536, maxTableEntries: 1, blockSize: 1000 });
    header.write('cxsparsf', 0, 'latin1');
    const problems = parseDynamicHeader(header).problems;
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/cookie[\s\S]*checksum[\s\S]*block size 1000/);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2100 }), (bytes) => {
        expect(parseDynamicHeader(bytes).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('fixedVhdImage and dynamicVhdImage', () => {
  it('end a fixed image with a valid footer for its size', () => {
    const image = fixedVhdImage({ size: 3 * MiB, seed: 'f' });
    expect(image.size).toBe(3 * MiB + 512);
    const verdict = parseFooter(image.read(image.size - 512, image.size));
    expect(verdict.problems).toEqual([]);
    expect(verdict.footer?.currentSize).toBe(BigInt(3 * MiB));
  });

  it('read a fixed image consistently across the edge of the footer', () => {
    const image = fixedVhdImage({ size: 4096, seed: 'edge' });
    const whole = image.read(0, image.size);
    fc.assert(
      fc.property(fc.nat(image.size), fc.nat(image.size), (x, y) => {
        const [a, b] = x <= y ? [x, y] : [y, x];
        expect(image.read(a, b).equals(whole.subarray(a, b))).toBe(true);
      }),
    );
  });

  it('give the same image for the same seed and a different one for another seed', () => {
    const again = dynamicVhdImage({ virtualSize: 8 * MiB, allocated: [2, 0], seed: 'dyn' });
    const other = dynamicVhdImage({ virtualSize: 8 * MiB, allocated: [2, 0], seed: 'other' });
    expect(again.equals(dynamic)).toBe(true);
    expect(other.equals(dynamic)).toBe(false);
  });

  it('refuse sizes that are not whole sectors and blocks that do not exist', () => {
    expect(() => fixedVhdImage({ size: 1000, seed: 'x' })).toThrow(RangeError);
    expect(() => dynamicVhdImage({ virtualSize: 4 * MiB, allocated: [2], seed: 'x' })).toThrow(
      RangeError,
    );
    expect(() => dynamicVhdImage({ virtualSize: 4 * MiB, allocated: [1, 1], seed: 'x' })).toThrow(
      RangeError,
    );
  });
});

describe('checkVhdFile', () => {
  it('accepts a whole fixed image', async () => {
    const image = fixedVhdImage({ size: 5 * MiB, seed: 'fixed' });
    const report = await check(image.read(0, image.size));
    expect(report).toEqual({ ok: true, diskType: 'fixed', virtualSize: 5 * MiB, problems: [] });
  });

  it('says how much of a fixed image is missing when its data is short', async () => {
    const image = fixedVhdImage({ size: 5 * MiB, seed: 'fixed' });
    const footer = image.read(image.size - 512, image.size);
    const report = await check(Buffer.concat([image.read(0, MiB), footer]));
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.stringContaining(`${4 * MiB} short`)]);
  });

  it('accepts a whole dynamic image and counts its blocks', async () => {
    const report = await check(dynamic);
    expect(report).toEqual({
      ok: true,
      diskType: 'dynamic',
      virtualSize: 8 * MiB,
      problems: [],
      blockSize: BLOCK,
      allocatedBlocks: 2,
    });
  });

  it('finds an allocated block past the end of a dynamic image that kept its footer', async () => {
    const cut = Buffer.concat([dynamic.subarray(0, dynamic.length - 512 - MiB), dynamicFooter]);
    const report = await check(cut);
    expect(report.ok).toBe(false);
    expect(report.allocatedBlocks).toBe(2);
    expect(report.problems).toEqual([
      expect.stringMatching(/^1 of 2 allocated blocks .*truncated/),
    ]);
  });

  it('recognises a dynamic image that lost its end, footer included, by its footer copy', async () => {
    const report = await check(dynamic.subarray(0, dynamic.length - 512 - MiB));
    expect(report.ok).toBe(false);
    expect(report.diskType).toBe('dynamic');
    expect(report.problems).toHaveLength(2);
    expect(report.problems[0]).toContain('end of the file is missing');
    expect(report.problems[1]).toContain(`at least ${MiB + 512} bytes are missing`);
  });

  it('finds a truncated block in a table longer than one read chunk', async () => {
    const big = dynamicVhdImage({ virtualSize: 64 * 1024 * MiB, allocated: [3, 20000], seed: 'b' });
    expect((await check(big)).ok).toBe(true);

    const footer = big.subarray(big.length - 512);
    const report = await check(Buffer.concat([big.subarray(0, big.length - 1024), footer]));
    expect(report.problems).toEqual([expect.stringContaining('the first is block 20000')]);
  });

  it('computes the bitmap of a small block as one whole sector', async () => {
    const image = dynamicVhdImage({ virtualSize: MiB, blockSize: 4096, allocated: [5], seed: 's' });
    expect(image.length).toBe(512 + 1024 + 1024 + 512 + 4096 + 512);
    expect(await check(image)).toMatchObject({ ok: true, blockSize: 4096, allocatedBlocks: 1 });
  });

  it('reports a footer whose checksum is wrong', async () => {
    const image = fixedVhdImage({ size: MiB, seed: 'sum' });
    const footer = withBadChecksum(image.read(image.size - 512, image.size));
    const report = await check(Buffer.concat([image.read(0, MiB), footer]));
    expect(report.ok).toBe(false);
    expect(report.diskType).toBe('fixed');
    expect(report.problems).toEqual([expect.stringMatching(/^The footer is damaged: .*checksum/)]);
  });

  it('reports a footer copy that differs from the footer at the end', async () => {
    const image = Buffer.from(dynamic);
    withBadChecksum(dynamicFooter).copy(image, 0);
    const report = await check(image);
    expect(report.problems).toEqual([
      'The footer copy at offset 0 differs from the footer at the end of the file.',
    ]);
  });

  it('reports a damaged dynamic header and stops there', async () => {
    const image = Buffer.from(dynamic);
    image.write('notsparse', 512, 'latin1');
    const report = await check(image);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatch(/^The dynamic header is damaged: the cookie/);
    expect(report.allocatedBlocks).toBeUndefined();
  });

  it('reports a block allocation table too short for the virtual disk', async () => {
    const image = Buffer.from(dynamic);
    const header = buildDynamicHeader({ tableOffset: 1536, maxTableEntries: 2, blockSize: BLOCK });
    header.copy(image, 512);
    const report = await check(image);
    expect(report.problems).toEqual([
      expect.stringContaining('2 entries, fewer than the 4 blocks'),
    ]);
  });

  it('reports a header offset that points outside the file', async () => {
    const footer = buildFooter({ currentSize: 8 * MiB, diskType: 'dynamic', dataOffset: 2 ** 40 });
    const report = await check(Buffer.concat([footer, Buffer.alloc(4096), footer]));
    expect(report.problems).toEqual([expect.stringContaining('does not point at')]);
  });

  it('says a file without a footer is not a VHD', async () => {
    const report = await check(Buffer.from('just some text\n'.repeat(100)));
    expect(report).toEqual({
      ok: false,
      diskType: undefined,
      virtualSize: undefined,
      problems: [expect.stringContaining('not a VHD')],
    });
  });

  it.each([0, 1, 511])('says a file of %i bytes is too short for a footer', async (length) => {
    const report = await check(new Uint8Array(length));
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      `The file is ${length} bytes, shorter than the 512-byte VHD footer.`,
    ]);
  });

  it('rejects with the fs error when the file does not exist', async () => {
    await expect(checkVhdFile(join(dir, 'missing.vhd'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('never throws on arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), async (bytes) => {
        const report = await check(bytes);
        expect(report.ok).toBe(false);
        expect(report.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on a damaged or cut dynamic image, and never calls a cut one whole', async () => {
    const small = dynamicVhdImage({
      virtualSize: 64 * 1024,
      blockSize: 4096,
      allocated: [3, 0, 9],
      seed: 'z',
    });
    const damage = fc.record({
      cut: fc.nat(small.length),
      writes: fc.array(fc.tuple(fc.nat(small.length - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: 8,
      }),
      metadataOnly: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(damage, async ({ cut, writes, metadataOnly }) => {
        const image = Buffer.from(small);
        for (const [at, value] of writes) image[metadataOnly ? at % 2048 : at] = value;
        const report = await check(image.subarray(0, cut));
        if (cut < small.length) expect(report.ok).toBe(false);
        expect(report.ok).toBe(report.problems.length === 0);
      }),
      { numRuns: 150 },
    );
  });
});
