/**
 * Properties of the VHD footer and dynamic header parsers that test/vhd.test.ts does not cover:
 * any footer or header the generator writes reads back whole, any single changed byte of one is
 * caught (the checksum sees every byte), and no input at all gets anything but a verdict.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDynamicHeader, parseFooter } from '../../src/core/vhd.js';
import { buildDynamicHeader, buildFooter } from '../../src/emulator/vhd-image.js';

const SECTOR = 512;
const footerOptions = fc.record({
  sectors: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  diskType: fc.constantFrom('fixed' as const, 'dynamic' as const),
  uuid: fc.uuid(),
});
const headerOptions = fc.record({
  tableOffset: fc.integer({ min: 1536, max: 2 ** 40 }),
  maxTableEntries: fc.integer({ min: 1, max: 2 ** 20 }),
  blockSize: fc.integer({ min: 1, max: 2 ** 12 }).map((n) => n * SECTOR),
});
/** A byte position and a value other than the one there. */
const change = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }));

describe('parseFooter', () => {
  it('reads back the size, type and UUID of any footer, with no problem', () => {
    fc.assert(
      fc.property(footerOptions, ({ sectors, diskType, uuid }) => {
        const size = BigInt(sectors) * 512n;
        const verdict = parseFooter(buildFooter({ currentSize: size, diskType, uuid }));
        expect(verdict.problems).toEqual([]);
        expect(verdict.footer).toMatchObject({
          currentSize: size,
          diskTypeName: diskType,
          uuid: uuid.replaceAll('-', ''),
        });
      }),
    );
  });

  it('finds any single changed byte', () => {
    fc.assert(
      fc.property(footerOptions, change, ({ sectors, diskType, uuid }, [at, delta]) => {
        const footer = buildFooter({ currentSize: BigInt(sectors) * 512n, diskType, uuid });
        const i = at % footer.length;
        footer[i] = ((footer[i] ?? 0) + delta) & 0xff;
        const verdict = parseFooter(footer);
        expect(verdict.ok).toBe(false);
        expect(verdict.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it('gives a verdict, never an exception, for footers with random fields and a right checksum', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 512, maxLength: 512 }),
        fc.boolean(),
        (bytes, cookie) => {
          const buf = Buffer.from(bytes);
          if (cookie) buf.write('conectix', 0, 'latin1');
          let sum = 0;
          for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += buf[i] ?? 0;
          buf.writeUInt32BE(~sum >>> 0, 64);
          const verdict = parseFooter(buf);
          expect(verdict.ok).toBe(verdict.problems.length === 0);
          for (const p of verdict.problems) expect(p).toMatch(/^[a-zA-Z].{8,}$/);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parseDynamicHeader', () => {
  it('reads back the table offset, entries and block size of any header', () => {
    fc.assert(
      fc.property(headerOptions, (o) => {
        const verdict = parseDynamicHeader(buildDynamicHeader(o));
        expect(verdict.problems).toEqual([]);
        expect(verdict.header).toMatchObject({
          tableOffset: BigInt(o.tableOffset),
          maxTableEntries: o.maxTableEntries,
          blockSize: o.blockSize,
        });
      }),
    );
  });

  it('finds any single changed byte', () => {
    fc.assert(
      fc.property(headerOptions, change, (o, [at, delta]) => {
        const header = buildDynamicHeader(o);
        const i = at % header.length;
        header[i] = ((header[i] ?? 0) + delta) & 0xff;
        expect(parseDynamicHeader(header).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
