/** Contract cases: plain objects, Range, conditionals, tokens. */
import { beforeAll, describe, expect, it } from 'vitest';
import { byteranges, bytes, md5, TRANS_ID } from './helpers.js';
import { encodePath, type SwiftTarget } from './target.js';

export function objectCases(getTarget: () => SwiftTarget): void {
  describe('plain objects', () => {
    let t: SwiftTarget;
    let container: string;
    let path: string;
    const data = bytes('plain', 100_000);
    const SIZE = data.length;
    const get = (headers: Record<string, string> = {}) => t.call('GET', path, { headers });

    beforeAll(async () => {
      t = getTarget();
      container = t.uniqueContainer('objects');
      await t.putContainer(container);
      path = encodePath(container, 'plain.bin');
      await t.putObject(container, 'plain.bin', data, {
        'content-type': 'application/x-test',
        'x-object-meta-colour': 'blue',
      });
    });

    it('answers HEAD with length, unquoted MD5 ETag, dates, type, metadata and X-Trans-Id', async () => {
      const res = await t.call('HEAD', path);
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
      expect(res.headers['content-length']).toBe(String(SIZE));
      expect(res.headers.etag).toBe(md5(data));
      expect(res.headers['content-type']).toBe('application/x-test');
      expect(res.headers['x-object-meta-colour']).toBe('blue');
      expect(res.headers['accept-ranges']).toBe('bytes');
      expect(res.headers['x-timestamp']).toMatch(/^\d{10}\.\d{5}$/);
      expect(res.headers['x-trans-id']).toMatch(TRANS_ID);
      const lastModified = Date.parse(res.headers['last-modified'] ?? '');
      const stamp = Number(res.headers['x-timestamp']) * 1000;
      expect(lastModified).toBe(Math.ceil(stamp / 1000) * 1000);
    });

    it('sends the bytes with GET', async () => {
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.headers.etag).toBe(md5(data));
      expect(res.body.equals(data)).toBe(true);
    });

    it.each([
      ['bytes=10-19', 10, 20],
      ['bytes=-7', SIZE - 7, SIZE],
      [`bytes=${SIZE - 3}-`, SIZE - 3, SIZE],
      [`bytes=${SIZE - 5}-${SIZE + 100}`, SIZE - 5, SIZE],
      ['bytes=0-0', 0, 1],
    ])('answers Range %s with 206 and Content-Range', async (range, start, end) => {
      const res = await get({ range });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${start}-${end - 1}/${SIZE}`);
      expect(res.headers['content-length']).toBe(String(end - start));
      expect(res.body.equals(data.subarray(start, end))).toBe(true);
    });

    it('answers a range past the end with 416 and bytes */SIZE', async () => {
      const res = await get({ range: `bytes=${SIZE}-` });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${SIZE}`);
    });

    it('ignores a malformed Range and a Range on HEAD', async () => {
      expect((await get({ range: 'bytes=9-3' })).status).toBe(200);
      expect((await get({ range: 'items=0-3' })).status).toBe(200);
      const head = await t.call('HEAD', path, { headers: { range: 'bytes=0-9' } });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe(String(SIZE));
    });

    it('answers several ranges with multipart/byteranges', async () => {
      const res = await get({ range: 'bytes=0-9,500-509' });
      expect(res.status).toBe(206);
      expect(res.headers['content-type']).toMatch(/^multipart\/byteranges;\s*boundary=/);
      expect(res.headers['content-length']).toBe(String(res.body.length));
      const parts = byteranges(res.headers['content-type'] ?? '', res.body);
      expect(parts.map((p) => p.range)).toEqual([`bytes 0-9/${SIZE}`, `bytes 500-509/${SIZE}`]);
      expect(parts[1]?.data.equals(data.subarray(500, 510))).toBe(true);
      expect(parts[0]?.type).toBe('application/x-test');
    });

    it('honours If-Match quoted, unquoted and *, and answers 412 otherwise', async () => {
      for (const tag of [`"${md5(data)}"`, md5(data), '*', `"nope", "${md5(data)}"`]) {
        expect((await get({ 'if-match': tag })).status, tag).toBe(200);
      }
      const ranged = await get({ 'if-match': `"${md5(data)}"`, range: 'bytes=1-2' });
      expect(ranged.status).toBe(206);
      const wrong = await get({
        'if-match': '"0123456789abcdef0123456789abcdef"',
        range: 'bytes=1-2',
      });
      expect(wrong.status).toBe(412);
      expect(wrong.headers['x-trans-id']).toMatch(TRANS_ID);
      const head = await t.call('HEAD', path, { headers: { 'if-match': 'x' } });
      expect(head.status).toBe(412);
    });

    it('answers If-None-Match with the ETag with 304', async () => {
      expect((await get({ 'if-none-match': md5(data) })).status).toBe(304);
    });

    it('answers 404 for a missing object or container', async () => {
      const res = await t.call('GET', encodePath(container, 'nope'));
      expect(res.status).toBe(404);
      expect(res.headers['x-trans-id']).toMatch(TRANS_ID);
      const head = await t.call('HEAD', encodePath(t.uniqueContainer('nope'), 'x'));
      expect(head.status).toBe(404);
    });

    it('answers 401 with X-Trans-Id for a bad or missing token', async () => {
      const bad = await t.call('GET', path, { token: 'AUTH_tk0123456789abcdef0123456789abcdef' });
      expect(bad.status).toBe(401);
      expect(bad.headers['x-trans-id']).toMatch(TRANS_ID);
      expect((await t.call('HEAD', path, { token: '' })).status).toBe(401);
      expect((await t.call('GET', encodePath(container), { token: 'nope' })).status).toBe(401);
    });

    it('takes a PUT with a wrong ETag as 422 and a PUT to a missing container as 404', async () => {
      const headers = { etag: md5('something else') };
      const res = await t.call('PUT', encodePath(container, 'bad-etag'), { body: 'x', headers });
      expect(res.status).toBe(422);
      const missing = await t.call('PUT', encodePath(t.uniqueContainer('nope'), 'x'), {
        body: 'x',
      });
      expect(missing.status).toBe(404);
    });
  });
}
