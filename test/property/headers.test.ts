/** Properties of the header parsers: exact round trips, and a clear `undefined` for the rest. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isMd5Etag,
  normalizeEtag,
  parseContentRange,
  parseLength,
  parseObjectManifest,
  parseRetryAfter,
} from '../../src/core/headers.js';

const space = fc.constantFrom('', ' ', '  ', '\t');
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
);
const size = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const md5 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => Buffer.from(b).toString('hex'));
const caseOf = (text: string, upper: boolean[]) =>
  [...text].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('');

describe('Content-Length', () => {
  it('reads back every safe length, with surrounding blanks', () => {
    fc.assert(
      fc.property(size, space, space, (n, a, b) => {
        expect(parseLength(`${a}${n}${b}`)).toBe(n);
      }),
    );
  });

  it('is undefined for anything that is not a plain decimal, and never throws', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const n = parseLength(text);
        if (!/^\s*\d+\s*$/.test(text)) expect(n).toBeUndefined();
        else if (n !== undefined) expect(n).toBe(Number(text.trim()));
      }),
    );
    expect(parseLength('-1')).toBeUndefined();
    expect(parseLength('1e3')).toBeUndefined();
    expect(parseLength('9007199254740993')).toBeUndefined();
  });
});

describe('Content-Range', () => {
  // The last byte is at most MAX_SAFE_INTEGER - 1, so that the size after it is safe too.
  const byte = fc.nat({ max: Number.MAX_SAFE_INTEGER - 1 });
  const range = fc.tuple(byte, byte, fc.nat({ max: 2 ** 40 })).map(([a, b, extra]) => {
    const [start, end] = a <= b ? [a, b] : [b, a];
    return { start, end, size: Math.min(Number.MAX_SAFE_INTEGER, end + 1 + extra) };
  });

  it('reads back start, end and size, whatever the case of "bytes"', () => {
    fc.assert(
      fc.property(range, fc.array(fc.boolean(), { minLength: 1 }), (r, upper) => {
        const unit = caseOf('bytes', upper);
        expect(parseContentRange(`${unit} ${r.start}-${r.end}/${r.size}`)).toEqual(r);
        expect(parseContentRange(`${unit} ${r.start}-${r.end}/*`)).toEqual({
          start: r.start,
          end: r.end,
        });
        expect(parseContentRange(`${unit} */${r.size}`)).toEqual({ size: r.size });
      }),
    );
  });

  it('refuses a range that ends before it starts or past the size', () => {
    fc.assert(
      fc.property(range, (r) => {
        if (r.start < r.end)
          expect(parseContentRange(`bytes ${r.end}-${r.start}/${r.size}`)).toBeUndefined();
        expect(parseContentRange(`bytes ${r.start}-${r.size}/${r.size}`)).toBeUndefined();
      }),
    );
  });

  it('gives only consistent ranges for any text, and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyText, fc.stringMatching(/^bytes \d{1,18}-\d{1,18}\/(\d{1,18}|\*)$/)),
        (text) => {
          const r = parseContentRange(text);
          if (r?.start !== undefined) expect(r.start).toBeLessThanOrEqual(r.end as number);
          if (r?.end !== undefined && r.size !== undefined) expect(r.end).toBeLessThan(r.size);
          for (const v of [r?.start, r?.end, r?.size])
            if (v !== undefined) expect(Number.isSafeInteger(v)).toBe(true);
        },
      ),
    );
  });
});

describe('ETag', () => {
  it('is the same digest quoted or not, weak or not, in either case', () => {
    fc.assert(
      fc.property(md5, fc.array(fc.boolean(), { minLength: 1 }), space, (hex, upper, pad) => {
        const shown = caseOf(hex, upper);
        for (const form of [shown, `"${shown}"`, `W/"${shown}"`, `${pad}"${shown}"${pad}`]) {
          expect(normalizeEtag(form)).toBe(hex);
          expect(isMd5Etag(form)).toBe(true);
        }
      }),
    );
  });

  it('is never an MD5 when it holds anything but 32 hex digits', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const tag = normalizeEtag(text);
        if (tag !== undefined) expect(tag).not.toMatch(/"/);
        expect(isMd5Etag(text)).toBe(/^[0-9a-f]{32}$/.test(tag ?? ''));
      }),
    );
    expect(isMd5Etag(`"${'0'.repeat(31)}g"`)).toBe(false);
    expect(isMd5Etag(`"${'0'.repeat(33)}"`)).toBe(false);
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 11, 3, 12, 0, 0);

  it('reads delta-seconds, capped at a day', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10 ** 9 }), space, (s, pad) => {
        expect(parseRetryAfter(`${pad}${s}${pad}`, now)).toBe(Math.min(s, 86_400) * 1000);
      }),
    );
  });

  it('reads an HTTP date as the time until it, never negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: -86_400 * 30, max: 86_400 * 30 }), (deltaS) => {
        const date = new Date(now + deltaS * 1000).toUTCString();
        expect(parseRetryAfter(date, now)).toBe(Math.max(0, deltaS * 1000));
      }),
    );
  });

  it('is undefined or a delay of zero or more for any text, and never throws', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const ms = parseRetryAfter(text, now);
        if (ms !== undefined) expect(ms).toBeGreaterThanOrEqual(0);
        if (ms !== undefined) expect(Number.isFinite(ms)).toBe(true);
      }),
    );
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});

describe('X-Object-Manifest', () => {
  const unicode = (minLength: number) =>
    fc.string({ unit: 'grapheme', minLength }).filter((t) => t.trim() === t);
  const container = unicode(1).filter((c) => !c.includes('/'));

  it('reads container and prefix as sent', () => {
    fc.assert(
      fc.property(container, unicode(0), (c, p) => {
        fc.pre(!/%[0-9a-f]{2}/i.test(c + p));
        expect(parseObjectManifest(`${c}/${p}`)).toEqual({ container: c, prefix: p });
      }),
    );
  });

  it('reads them percent-encoded, as some servers send them', () => {
    fc.assert(
      fc.property(container, unicode(0), (c, p) => {
        const encoded = `${encodeURIComponent(c)}/${p.split('/').map(encodeURIComponent).join('/')}`;
        expect(parseObjectManifest(encoded)).toEqual({ container: c, prefix: p });
      }),
    );
  });

  it('has no container for a value without one, and never throws', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const ref = parseObjectManifest(text);
        if (ref) expect(ref.container.length).toBeGreaterThan(0);
        if (ref) expect(ref.container).not.toContain('/');
      }),
    );
    expect(parseObjectManifest('/prefix')).toBeUndefined();
    expect(parseObjectManifest('nocontainer')).toBeUndefined();
  });
});
