/** Properties of the listing and SLO manifest parsers: faithful for Swift's JSON, safe for any. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransferError } from '../../src/core/errors.js';
import { parseListing, parseSloManifest } from '../../src/core/swift.js';

const md5 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => Buffer.from(b).toString('hex'));
const bytes = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const record = fc.record({
  name: fc.string({ unit: 'grapheme', minLength: 1 }),
  hash: md5,
  bytes,
  content_type: fc.string(),
  last_modified: fc.constantFrom('2014-02-28T21:33:46.410150', '2026-12-03T23:00:00.000000'),
});
/** JSON values in the places where a listing has them, and anything at all. */
const junk = fc.oneof(
  fc.jsonValue(),
  fc.array(
    fc.oneof(
      record,
      fc.jsonValue(),
      fc.record({ name: fc.string(), bytes: fc.jsonValue(), hash: fc.jsonValue() }),
    ),
  ),
);

function outcome(parse: () => unknown): { ok: unknown } | { err: unknown } {
  try {
    return { ok: parse() };
  } catch (err) {
    return { err };
  }
}

describe('parseListing', () => {
  it("reads Swift's records back exactly, hashes in lower case, in order", () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), (records) => {
        const shouted = records.map((r) => ({ ...r, hash: r.hash.toUpperCase() }));
        expect(parseListing(JSON.parse(JSON.stringify(shouted)))).toEqual(records);
      }),
    );
  });

  it('gives only records with a name and a whole, non-negative size, or refuses the page', () => {
    fc.assert(
      fc.property(junk, (doc) => {
        const r = outcome(() => parseListing(doc));
        if ('err' in r) {
          expect(r.err).toBeInstanceOf(TransferError);
          return;
        }
        for (const item of r.ok as ReturnType<typeof parseListing>) {
          expect(typeof item.name).toBe('string');
          expect(Number.isSafeInteger(item.bytes) && item.bytes >= 0).toBe(true);
          expect(typeof item.hash).toBe('string');
        }
      }),
    );
  });

  it('never drops a named record silently: a page is read whole or refused', () => {
    fc.assert(
      fc.property(junk, (doc) => {
        const r = outcome(() => parseListing(doc));
        if ('err' in r || !Array.isArray(doc)) return;
        const named = doc.filter((d) => typeof (d as { name?: unknown })?.name === 'string');
        expect((r.ok as unknown[]).length).toBe(named.length);
      }),
    );
  });
});

describe('parseSloManifest', () => {
  const entry = fc.record({
    container: fc.string({ minLength: 1 }).filter((c) => !c.includes('/')),
    object: fc.string({ minLength: 1 }),
    hash: md5,
    bytes,
  });

  it('splits each /container/object name at its first slash and keeps the rest', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        const doc = entries.map((e) => ({
          name: `/${e.container}/${e.object}`,
          hash: e.hash,
          bytes: e.bytes,
        }));
        expect(parseSloManifest(doc)).toEqual(entries);
      }),
    );
  });

  it('refuses anything else with a TransferError, never a crash', () => {
    fc.assert(
      fc.property(junk, (doc) => {
        const r = outcome(() => parseSloManifest(doc));
        if ('err' in r) {
          expect(r.err).toBeInstanceOf(TransferError);
          return;
        }
        for (const e of r.ok as ReturnType<typeof parseSloManifest>) {
          expect(e.container).not.toBe('');
          expect(Number.isSafeInteger(e.bytes) && e.bytes >= 0).toBe(true);
        }
      }),
    );
  });
});
