/**
 * Properties of object references, URL paths and local names: every name reaches the server as
 * itself, and no name, however hostile, yields a local path outside the directory it belongs in.
 */
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { resolveInside } from '../../src/core/local-names.js';
import { defaultFileName, encodePart, objectPath, parseObjectRef } from '../../src/core/paths.js';
import { compareBytes, localFileNames } from '../../src/core/segments-manifest.js';

const cwd = resolve(tmpdir(), 'cfimg-paths');

/** Names from the characters that make trouble, so `..`, `//` and `%2F` come up often. */
const tricky = fc.string({
  unit: fc.constantFrom(
    'a',
    '.',
    '/',
    '\\',
    '%',
    '2',
    'F',
    ' ',
    '\0',
    '\ufffd',
    '~',
    'é',
    '\ud83d',
  ),
  maxLength: 10,
});
const anyName = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), tricky);
const wellFormed = (s: string) =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** Undoes the URL path: one decoded part per `/`. */
function decodePath(path: string): string[] {
  return path.slice(1).split('/').map(decodeURIComponent);
}

describe('objectPath', () => {
  it('encodes every part so that decoding gives the container and the object back', () => {
    fc.assert(
      fc.property(anyName, anyName, (container, object) => {
        fc.pre(container !== '' && !container.includes('/') && wellFormed(container + object));
        const path = objectPath(container, object);
        expect(decodePath(path)).toEqual([container, ...object.split('/')]);
      }),
    );
  });

  it('leaves no dot segment and nothing but URL-safe characters in the path', () => {
    fc.assert(
      fc.property(anyName, anyName, (container, object) => {
        fc.pre(container !== '' && !container.includes('/'));
        const path = objectPath(container, object);
        expect(path).toMatch(/^\/[A-Za-z0-9\-_.!~*'()%/]*$/);
        for (const part of path.slice(1).split('/')) expect(['.', '..']).not.toContain(part);
      }),
    );
  });

  it('never throws on a part, lone surrogates included', () => {
    fc.assert(
      fc.property(anyName, (part) => {
        expect(encodePart(part)).not.toContain('/');
      }),
    );
  });
});

describe('parseObjectRef', () => {
  it('splits CONTAINER/OBJECT at the first slash, keeping slashes in the object', () => {
    fc.assert(
      fc.property(anyName, anyName, (container, object) => {
        fc.pre(container !== '' && object !== '' && !container.includes('/'));
        const text = `${container}/${object}`;
        const clean = wellFormed(text) && !/[\0\ufffd]/.test(text);
        if (clean) expect(parseObjectRef(text)).toEqual({ container, object });
        else expect(() => parseObjectRef(text)).toThrow(UsageError);
      }),
    );
  });

  it('throws only usage errors, whatever the text', () => {
    fc.assert(
      fc.property(anyName, (text) => {
        try {
          const ref = parseObjectRef(text);
          expect(`${ref.container}/${ref.object}`).toBe(text);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
});

describe('the default file name of get', () => {
  it('is a file directly inside the current directory, or a usage error', () => {
    fc.assert(
      fc.property(anyName, (object) => {
        fc.pre(object !== '');
        let name: string;
        try {
          name = defaultFileName(object);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          return;
        }
        const target = resolve(cwd, name);
        expect(dirname(target)).toBe(cwd);
        expect(resolveInside(cwd, name)).toBe(target);
      }),
    );
    for (const object of ['..', 'a/..', '.', 'x/.', '/', '//'])
      expect(() => defaultFileName(object)).toThrow(UsageError);
  });

  it('is the last part of an ordinary name', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/), { minLength: 1 }),
        (parts) => {
          expect(defaultFileName(parts.join('/'))).toBe(parts.at(-1));
        },
      ),
    );
  });
});

describe('segment file names', () => {
  it('are distinct, sort in image order, and stay inside the directory for any segment list', () => {
    fc.assert(
      fc.property(fc.array(anyName, { maxLength: 12 }), (names) => {
        const { files } = localFileNames(names.map((object) => ({ object })));
        expect(files).toHaveLength(names.length);
        for (let i = 1; i < files.length; i++)
          expect(compareBytes(files[i - 1] as string, files[i] as string)).toBeLessThan(0);
        for (const file of files) {
          expect(dirname(resolveInside(cwd, file))).toBe(cwd);
          expect(file).not.toMatch(/^\.cfimg|\.part$/);
        }
      }),
    );
  });

  it('keep the Cloud Images names as they are', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1, max: 400 }), (uuid, count) => {
        const names = Array.from(
          { length: count },
          (_, i) => `${uuid}.vhd-${String(i + 1).padStart(5, '0')}`,
        );
        expect(localFileNames(names.map((object) => ({ object }))).files).toEqual(names);
      }),
      { numRuns: 20 },
    );
  });
});
