import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/core/errors.js';
import { localSegmentName, resolveInside } from '../src/core/local-names.js';

/** Only paths are computed here: the directory need not exist. */
const dir = resolve(tmpdir(), 'cfimg-names');

/** Any string: code points of the whole range, lone surrogates included. */
const anyCodePoints = fc.string({
  unit: fc.integer({ min: 0, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
  maxLength: 40,
});

/** Strings from the characters that matter, so near-collisions (`/` against `%2F`) come up. */
const tricky = fc.string({
  unit: fc.constantFrom(
    'a',
    '.',
    '/',
    '\\',
    '%',
    '2',
    'F',
    'E',
    ' ',
    '~',
    '\0',
    'c',
    'o',
    'n',
    ':',
  ),
  maxLength: 12,
});

/** Names over the 255-byte limit that differ only near their ends. */
const long = fc
  .tuple(
    fc.constantFrom('a', 'é', '€', '𝄞', '%', '/'),
    fc.integer({ min: 60, max: 300 }),
    fc.string({ maxLength: 6 }),
  )
  .map(([char, count, tail]) => char.repeat(count) + tail);

const anyName = fc.oneof(fc.string(), anyCodePoints, tricky, long);

/** Undoes the encoding of an uncut name: `%XX` are bytes, decoded as UTF-8 that allows lone surrogates. */
function decode(name: string): string {
  if (name === '%empty') return '';
  const bytes: number[] = [];
  for (const token of name.match(/%[0-9A-F]{2}|[\s\S]/gu) ?? []) {
    if (token.startsWith('%') && token.length === 3)
      bytes.push(Number.parseInt(token.slice(1), 16));
    else bytes.push(...Buffer.from(token, 'utf8'));
  }
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] ?? 0;
    const extra = lead < 0x80 ? 0 : lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : 3;
    let code = extra === 0 ? lead : lead & (0x3f >> extra);
    for (let k = 1; k <= extra; k++) code = (code << 6) | ((bytes[i + k] ?? 0) & 0x3f);
    out += String.fromCodePoint(code);
    i += extra + 1;
  }
  return out;
}

describe('localSegmentName', () => {
  it.each([
    [
      '9af8acc8-8189-48b9-b3d6-8152c60074d8.vhd-00001',
      '9af8acc8-8189-48b9-b3d6-8152c60074d8.vhd-00001',
    ],
    ['café.vhd-00002', 'café.vhd-00002'],
    ['images/disk.vhd-00001', 'images%2Fdisk.vhd-00001'],
    ['../etc/passwd', '..%2Fetc%2Fpasswd'],
    ['/leading', '%2Fleading'],
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['', '%empty'],
    ['a\\b', 'a%5Cb'],
    ['nul\0byte', 'nul%00byte'],
    ['tab\there\n', 'tab%09here%0A'],
    ['del\u007f and \u0085', 'del%7F and %C2%85'],
    ['100%', '100%25'],
    ['%2F', '%252F'],
    ['C:\\Windows', 'C%3A%5CWindows'],
    ['what?<*>|"', 'what%3F%3C%2A%3E%7C%22'],
    ['con', '%63on'],
    ['NUL.txt', '%4EUL.txt'],
    ['lpt1', '%6Cpt1'],
    ['console', 'console'],
    ['trailing.', 'trailing%2E'],
    ['trailing ', 'trailing%20'],
    ['lone \ud800 surrogate', 'lone %ED%A0%80 surrogate'],
  ])('maps %j to %j', (input, expected) => {
    expect(localSegmentName(input)).toEqual({ name: expected, encoded: input !== expected });
  });

  it('cuts a name over 255 bytes to a readable head and a hash, and keeps it unique', () => {
    const name = localSegmentName('a'.repeat(300)).name;
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^a{237}%~[0-9a-f]{16}$/);
    expect(localSegmentName('a'.repeat(301)).name).not.toBe(name);
  });

  it('cuts a long name between whole characters and whole %XX escapes', () => {
    for (const input of ['€'.repeat(100), '/'.repeat(100), `x${'𝄞'.repeat(70)}`]) {
      const { name, encoded } = localSegmentName(input);
      expect(encoded).toBe(true);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      expect(name).not.toContain('\ufffd');
      expect(name).toMatch(/^(?:%2F|[^%])*%~[0-9a-f]{16}$/u);
    }
  });

  it('gives one component strictly inside the directory for any string', () => {
    fc.assert(
      fc.property(anyName, (input) => {
        const { name } = localSegmentName(input);
        const path = resolve(dir, name);
        expect(dirname(path)).toBe(dir);
        expect(basename(path)).toBe(name);
        expect(name).not.toMatch(/^\.{0,2}$|[/\\\0]/);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
        expect(resolveInside(dir, name)).toBe(path);
      }),
      { numRuns: 2000 },
    );
  });

  it('can be decoded back to the object name unless it was cut', () => {
    fc.assert(
      fc.property(anyName, (input) => {
        const { name } = localSegmentName(input);
        if (!name.includes('%~')) expect(decode(name)).toBe(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives distinct names to distinct strings', () => {
    fc.assert(
      fc.property(fc.uniqueArray(anyName, { minLength: 2, maxLength: 30 }), (inputs) => {
        const names = new Set(inputs.map((input) => localSegmentName(input).name));
        expect(names.size).toBe(inputs.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('says a name is encoded exactly when it differs from the object name', () => {
    fc.assert(
      fc.property(anyName, (input) => {
        const { name, encoded } = localSegmentName(input);
        expect(encoded).toBe(name !== input);
      }),
    );
  });
});

describe('resolveInside', () => {
  it.each(['segment', 'a/b', '..hidden', '%2E%2E'])('joins %j inside the directory', (name) => {
    expect(resolveInside(dir, name)).toBe(join(dir, name));
  });

  it.each(['', '.', '..', '../x', 'a/../..', '/etc/passwd', 'nul\0byte'])(
    'refuses %j with a usage error',
    (name) => {
      expect(() => resolveInside(dir, name)).toThrow(UsageError);
      try {
        resolveInside(dir, name);
      } catch (err) {
        expect(err).toMatchObject({ code: 'E_USAGE' });
      }
    },
  );

  it('accepts a directory written with a trailing slash or a `..` step', () => {
    expect(resolveInside(`${dir}/`, 'x')).toBe(join(dir, 'x'));
    expect(resolveInside(`${dir}/sub/..`, 'x')).toBe(join(dir, 'x'));
  });
});
