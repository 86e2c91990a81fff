/** Contract cases: account and container listings. */
import { beforeAll, describe, expect, it } from 'vitest';
import { byteOrder, bytes, ISO_MICROS, md5, TRANS_ID } from './helpers.js';
import { encodePath, type SwiftTarget } from './target.js';

/**
 * Names chosen to catch the usual sorting and encoding mistakes: upper before lower case, a
 * space, `#`, `?` and `%`, accents, CJK, and U+FF21 against U+1D11E, which sort one way by
 * UTF-16 code units (JavaScript's default) and the other way by UTF-8 bytes (Swift's).
 */
export const ODD_NAMES = [
  'a',
  'B',
  'a b',
  'a#b',
  'a?b',
  'a%b',
  'a%20b',
  'é',
  'über',
  '中文',
  '\uff21',
  '\u{1d11e}',
  'dir/one',
  'dir/two',
  'dir/sub/three',
  'z',
];

export function listingCases(getTarget: () => SwiftTarget): void {
  describe('container listings', () => {
    let t: SwiftTarget;
    let container: string;
    let empty: string;
    const body = (name: string) => bytes(name, 10 + Buffer.byteLength(name));
    const listing = async (query: Record<string, string> = {}) => {
      const res = await t.call('GET', encodePath(container), {
        query: { format: 'json', ...query },
      });
      expect(res.status, res.body.toString()).toBe(200);
      return JSON.parse(res.body.toString()) as Record<string, unknown>[];
    };
    const names = async (query: Record<string, string> = {}) =>
      (await listing(query)).map((i) => i.name ?? `subdir:${i.subdir}`);

    beforeAll(async () => {
      t = getTarget();
      container = t.uniqueContainer('listing');
      empty = t.uniqueContainer('empty');
      await t.putContainer(container);
      await t.putContainer(empty);
      for (const name of ODD_NAMES) {
        await t.putObject(container, name, body(name), { 'content-type': 'text/plain' });
      }
    });

    it('lists JSON items with exactly name, hash, bytes, content_type and last_modified', async () => {
      const items = await listing();
      const a = items.find((i) => i.name === 'a');
      expect(Object.keys(a ?? {}).sort()).toEqual(
        ['bytes', 'content_type', 'hash', 'last_modified', 'name'].sort(),
      );
      expect(a).toMatchObject({ hash: md5(body('a')), bytes: body('a').length });
      expect(a?.content_type).toBe('text/plain');
      expect(a?.last_modified).toMatch(ISO_MICROS);
    });

    it('orders names by their UTF-8 bytes, not by UTF-16 or locale', async () => {
      expect(await names()).toEqual(byteOrder(ODD_NAMES));
      expect((await names()).indexOf('\uff21')).toBeLessThan((await names()).indexOf('\u{1d11e}'));
    });

    it('escapes every non-ASCII character in JSON, as Python does', async () => {
      const res = await t.call('GET', encodePath(container), { query: { format: 'json' } });
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(/^[\x20-\x7e]*$/.test(res.body.toString('latin1'))).toBe(true);
      expect(res.body.toString()).toContain('"name": "\\u00e9"');
    });

    it('lists one name a line in plain text', async () => {
      const res = await t.call('GET', encodePath(container));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(res.body.toString('utf8')).toBe(
        byteOrder(ODD_NAMES)
          .map((n) => `${n}\n`)
          .join(''),
      );
    });

    it('pages with limit and marker until a short page', async () => {
      const pages: unknown[][] = [];
      let marker = '';
      for (;;) {
        const page = await names({ limit: '5', marker });
        pages.push(page);
        if (page.length < 5) break;
        marker = String(page[page.length - 1]);
      }
      expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 1]);
      expect(pages.flat()).toEqual(byteOrder(ODD_NAMES));
    });

    it('stops before end_marker and honours prefix', async () => {
      const all = byteOrder(ODD_NAMES);
      const before = (n: string) => Buffer.compare(Buffer.from(n), Buffer.from('a?b')) < 0;
      expect(await names({ end_marker: 'a?b' })).toEqual(all.filter(before));
      expect(await names({ prefix: 'dir/' })).toEqual(['dir/one', 'dir/sub/three', 'dir/two']);
      expect(await names({ prefix: 'a', marker: 'a#b', end_marker: 'a?b' })).toEqual([
        'a%20b',
        'a%b',
      ]);
    });

    it('rolls names up to subdirs with a delimiter', async () => {
      expect(await names({ prefix: 'dir/', delimiter: '/' })).toEqual([
        'dir/one',
        'subdir:dir/sub/',
        'dir/two',
      ]);
      expect(await names({ delimiter: '/', prefix: 'd' })).toEqual(['subdir:dir/']);
    });

    it('refuses a limit above 10,000 with 412', async () => {
      const res = await t.call('GET', encodePath(container), { query: { limit: '10001' } });
      expect(res.status).toBe(412);
      expect(res.body.toString()).toContain('Maximum limit is 10000');
      expect((await listing({ limit: '10000' })).length).toBe(ODD_NAMES.length);
    });

    it('answers 204 for an empty plain listing and [] for an empty JSON one', async () => {
      const plain = await t.call('GET', encodePath(empty));
      expect(plain.status).toBe(204);
      expect(plain.body.length).toBe(0);
      const json = await t.call('GET', encodePath(empty), { query: { format: 'json' } });
      expect(json.status).toBe(200);
      expect(JSON.parse(json.body.toString())).toEqual([]);
    });

    it('answers 404 for a missing container, with X-Trans-Id', async () => {
      const res = await t.call('GET', encodePath(t.uniqueContainer('missing')));
      expect(res.status).toBe(404);
      expect(res.headers['x-trans-id']).toMatch(TRANS_ID);
      const head = await t.call('HEAD', encodePath(t.uniqueContainer('missing')));
      expect(head.status).toBe(404);
    });

    it('counts objects and bytes in the container HEAD', async () => {
      const res = await t.call('HEAD', encodePath(container));
      expect(res.status).toBe(204);
      expect(res.headers['x-container-object-count']).toBe(String(ODD_NAMES.length));
      const total = ODD_NAMES.reduce((n, name) => n + body(name).length, 0);
      expect(res.headers['x-container-bytes-used']).toBe(String(total));
      expect(res.headers['x-trans-id']).toMatch(TRANS_ID);
    });

    it('lists the container in the account with count, bytes and last_modified', async () => {
      const res = await t.call('GET', '', { query: { format: 'json', prefix: container } });
      expect(res.status).toBe(200);
      const [item] = JSON.parse(res.body.toString()) as Record<string, unknown>[];
      expect(Object.keys(item ?? {}).sort()).toEqual(['bytes', 'count', 'last_modified', 'name']);
      expect(item?.name).toBe(container);
      // The counts reach the account only when Swift's container-updater runs (once a minute on
      // the test server): a real account listing lags; the emulator's is already up to date.
      expect([0, ODD_NAMES.length]).toContain(item?.count);
      expect(item?.last_modified).toMatch(ISO_MICROS);
    });

    it('serves objects whose names need percent-encoding', async () => {
      for (const name of ODD_NAMES) {
        const res = await t.call('GET', encodePath(container, name));
        expect(res.status, name).toBe(200);
        expect(res.body.equals(body(name)), name).toBe(true);
      }
    });
  });
}
