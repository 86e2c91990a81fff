/**
 * What only the emulator does: identity and its catalog, token expiry, scripted faults, bit rot,
 * stale listings, the DLO throttle, huge generated objects and the request log. What Swift does
 * is pinned by the contract suite (test/contract), which runs against a real Swift too.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bufferContent, generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { fetchAll as http } from './contract/http.js';

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const KiB = 1024;
const MiB = 1024 * KiB;

let em: Emulator;
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  http(`${em.storageUrl()}/${path}`, {
    method,
    headers: { 'x-auth-token': em.token(), ...headers },
  });
const auth = (auth: unknown) =>
  http(`${em.authUrl}/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth }),
  });
const apiKey = (username: string, key: string) => ({
  'RAX-KSKEY:apiKeyCredentials': { username, apiKey: key },
});

beforeAll(async () => {
  em = await startEmulator({
    users: [
      { username: 'demo', apiKey: 'demo-key', password: 'demo-pass' },
      { username: 'off', apiKey: 'k', disabled: true },
    ],
  });
  em.putObject('c', 'small.bin', 'hello, world');
  for (const [i, part] of ['one', 'two', 'three'].entries()) {
    em.putObject('segs', `img-0000${i + 1}`, Buffer.alloc(1000, part));
  }
  em.putDlo('c', 'img', 'segs/img-');
});

afterAll(() => em.close());

beforeEach(() => {
  em.faults.clear();
  em.clearRequests();
});

describe('identity', () => {
  it('answers an API-key sign-in with a token and a Rackspace-shaped catalog', async () => {
    const res = await auth(apiKey('demo', 'demo-key'));
    expect(res.status).toBe(200);
    const { access } = JSON.parse(res.body.toString());
    expect(access.token.id).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(access.token.expires)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect(access.token.tenant).toEqual({ id: '123456', name: '123456' });
    expect(access.user).toMatchObject({ name: 'demo', 'RAX-AUTH:defaultRegion': 'DFW' });
    const files = access.serviceCatalog.find((s: { type: string }) => s.type === 'object-store');
    expect(files.name).toBe('cloudFiles');
    expect(files.endpoints.map((e: { region: string }) => e.region)).toEqual([
      'DFW',
      'ORD',
      'IAD',
      'LON',
      'SYD',
      'HKG',
    ]);
    expect(files.endpoints[1]).toEqual({
      region: 'ORD',
      tenantId: 'MossoCloudFS_123456',
      publicURL: em.storageUrl('ORD'),
      internalURL: em.storageUrl('ORD', true),
    });
    const types = access.serviceCatalog.map((s: { type: string }) => s.type);
    expect(types).toEqual(expect.arrayContaining(['rax:object-cdn', 'compute', 'rax:dns']));
    const regionless = access.serviceCatalog
      .flatMap((s: { endpoints: object[] }) => s.endpoints)
      .filter((e: object) => !('region' in e));
    expect(regionless.length).toBeGreaterThan(0);
  });

  it('takes password credentials too, and its tokens work on public and ServiceNet URLs', async () => {
    const res = await auth({ passwordCredentials: { username: 'demo', password: 'demo-pass' } });
    const token = JSON.parse(res.body.toString()).access.token.id;
    for (const url of [em.storageUrl('lon'), em.storageUrl('LON', true)]) {
      expect(
        (await http(`${url}/c/small.bin`, { headers: { 'x-auth-token': token } })).status,
      ).toBe(200);
    }
    expect(em.requests.slice(-2).map((r) => [r.region, r.internal])).toEqual([
      ['LON', false],
      ['LON', true],
    ]);
  });

  it('answers 401 to a wrong key, 400 to a malformed body, 403 to a disabled user', async () => {
    const wrong = await auth(apiKey('demo', 'nope'));
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body.toString())).toEqual({
      unauthorized: { code: 401, message: 'Username or api key is invalid.' },
    });
    expect((await auth({ passwordCredentials: { username: 'demo', password: 'x' } })).status).toBe(
      401,
    );
    expect((await auth({ something: 1 })).status).toBe(400);
    expect((await http(`${em.authUrl}/tokens`, { method: 'POST', body: '{' })).status).toBe(400);
    expect((await auth(apiKey('off', 'k'))).status).toBe(403);
  });

  it('refuses expired tokens with 401 and X-Trans-Id, and a token for another account with 403', async () => {
    const old = em.token();
    em.expireTokens();
    const res = await http(`${em.storageUrl()}/c/small.bin`, { headers: { 'x-auth-token': old } });
    expect(res.status).toBe(401);
    expect(res.headers['x-trans-id']).toMatch(/^tx[0-9a-f]{21}-[0-9a-f]{10}$/);
    expect((await get('c/small.bin')).status).toBe(200); // token() issues a fresh one
    const other = `${em.url}/v1/MossoCloudFS_999/c/small.bin`;
    expect((await http(other, { headers: { 'x-auth-token': em.token() } })).status).toBe(403);
  });

  it('lets tokens expire after tokenTtlMs', async () => {
    const short = await startEmulator({ tokenTtlMs: 150 });
    const token = short.token();
    const head = () =>
      http(`${short.storageUrl()}/`, { method: 'HEAD', headers: { 'x-auth-token': token } });
    expect((await head()).status).toBe(204);
    await new Promise((r) => setTimeout(r, 200));
    expect((await head()).status).toBe(401);
    await short.close();
  });
});

describe('faults', () => {
  it('answers a scripted status with its headers, for `times` matching requests only', async () => {
    const rule = em.faults.add({
      match: { method: 'GET', path: '/c/small' },
      times: 2,
      action: { status: 503, headers: { 'Retry-After': '7' } },
    });
    expect((await get('c/small.bin', {}, 'HEAD')).status).toBe(200);
    const first = await get('c/small.bin');
    expect([first.status, first.headers['retry-after']]).toEqual([503, '7']);
    expect((await get('c/small.bin')).status).toBe(503);
    expect((await get('c/small.bin')).status).toBe(200);
    expect([rule.hits, rule.remaining]).toEqual([2, 0]);
  });

  it('matches a RegExp path and query parameters, and applies to identity too', async () => {
    em.faults.add({
      match: { path: /^\/segs$/, query: { prefix: 'img-' } },
      action: { status: 500 },
    });
    expect((await get('segs?format=json')).status).toBe(200);
    expect((await get('segs?prefix=img-')).status).toBe(500);
    em.faults.add({ match: { path: '/v2.0/tokens' }, action: { status: 429 } });
    expect((await auth(apiKey('demo', 'demo-key'))).status).toBe(429);
  });

  it('drops the connection after n body bytes', async () => {
    em.faults.add({ match: { path: '/segs/img-00002' }, action: { dropAfterBytes: 300 } });
    const res = await get('segs/img-00002');
    expect([res.status, res.body.length]).toEqual([200, 300]);
    expect(res.error).toBeDefined();
    expect(em.requests[0]).toMatchObject({ bytesSent: 300, aborted: true });
  });

  it('resets the connection before any response', async () => {
    em.faults.add({ action: { reset: true } });
    await expect(get('c/small.bin')).rejects.toThrow();
    expect((await get('c/small.bin')).status).toBe(200);
  });

  it('flips one byte in transit without touching the stored object', async () => {
    em.faults.add({ match: { path: '/c/small.bin' }, action: { flipByteAt: 4 } });
    const res = await get('c/small.bin');
    expect(res.body.toString()).not.toBe('hello, world');
    expect(res.body[4]).toBe('o'.charCodeAt(0) ^ 0xff);
    expect((await get('c/small.bin')).body.toString()).toBe('hello, world');
  });

  it('stalls before the headers, or after some bytes', async () => {
    em.faults.add({ action: { stallMs: 300 } });
    expect((await get('c/small.bin')).ms).toBeGreaterThanOrEqual(280);
    em.faults.add({ action: { stallMs: 300, stallAfterBytes: 500 } });
    const res = await get('segs/img-00001');
    expect(res.body.equals(Buffer.alloc(1000, 'one'))).toBe(true);
    expect(res.ms).toBeGreaterThanOrEqual(280);
  });

  it('throttles the body', async () => {
    em.putObject('c', 'mid.bin', generatedContent(200 * KiB, 'mid'));
    em.faults.add({ action: { throttleBytesPerSec: 400 * KiB } });
    const res = await get('c/mid.bin');
    expect(res.body.length).toBe(200 * KiB);
    expect(res.ms).toBeGreaterThanOrEqual(420);
  });
});

describe('bit rot and stale listings', () => {
  beforeAll(() => {
    for (let i = 1; i <= 3; i++)
      em.putObject('rot', `r-${i}`, generatedContent(300 * KiB, `rot${i}`));
    em.putDlo('rot', 'rotten', 'rot/r-');
  });

  it('keeps the listed MD5, serves a plain object whole and cuts a DLO after the bad segment', async () => {
    const before = md5((await get('rot/r-2')).body);
    em.corrupt('rot', 'r-2', 1234);
    const list = JSON.parse((await get('rot?format=json&prefix=r-2')).body.toString());
    expect(list[0].hash).toBe(before);
    const plain = await get('rot/r-2');
    expect([plain.status, plain.body.length, plain.error]).toEqual([200, 300 * KiB, undefined]);
    expect(md5(plain.body)).not.toBe(before);
    const dlo = await get('rot/rotten');
    expect(dlo.status).toBe(200);
    expect(dlo.error).toBeDefined();
    expect(dlo.body.length).toBe(600 * KiB);
    expect(em.requests.at(-1)?.fault).toMatch(/r-2 failed its MD5/);
    const ranged = await get('rot/rotten', { range: `bytes=${300 * KiB + 2000}-` });
    expect([ranged.status, ranged.error]).toEqual([206, undefined]); // a part-read segment is not checked
  });

  it('quarantines a segment once noticed, like a one-replica Swift, or heals like three', async () => {
    for (const mode of ['quarantine', 'heal'] as const) {
      for (let i = 1; i <= 2; i++)
        em.putObject(mode, `s-${i}`, generatedContent(5000, `${mode}${i}`));
      em.putDlo(mode, 'dlo', `${mode}/s-`);
      em.corrupt(mode, 's-1', 10, { onNotice: mode });
      const first = await get(`${mode}/dlo`);
      expect([first.status, first.body.length, first.error !== undefined]).toEqual([
        200,
        5000,
        true,
      ]);
    }
    expect((await get('quarantine/s-1')).status).toBe(404);
    expect((await get('quarantine/dlo')).status).toBe(409);
    expect((await get('quarantine?format=json')).body.toString()).toContain('"s-1"');
    const healed = await get('heal/dlo');
    expect([healed.status, healed.body.length, healed.error]).toEqual([200, 10_000, undefined]);
  });

  it('keeps a deleted segment listed with keepListed: the DLO is cut there, a Range into it is 409', async () => {
    em.deleteObject('segs', 'img-00002', { keepListed: true });
    const res = await get('c/img');
    expect([res.status, res.body.length, res.error !== undefined]).toEqual([200, 1000, true]);
    expect((await get('c/img', { range: 'bytes=1500-' })).status).toBe(409);
    em.putObject('segs', 'img-00002', Buffer.alloc(1000, 'two'));
  });

  it('can hold an object out of listings, as a listing that lags a write', async () => {
    em.putObject('segs', 'img-00004', 'late', { listed: false });
    expect((await get('segs/img-00004')).status).toBe(200);
    expect((await get('c/img', {}, 'HEAD')).headers['content-length']).toBe('3000');
    em.deleteObject('segs', 'img-00004');
  });
});

describe('large objects and huge content', () => {
  it('throttles DLO segments after the first ones when asked to', async () => {
    const slow = await startEmulator({ dloRateLimit: { afterSegments: 2, segmentsPerSec: 10 } });
    for (let i = 1; i <= 6; i++) slow.putObject('s', `p-${i}`, `part ${i}`);
    slow.putDlo('s', 'dlo', 's/p-');
    const res = await http(`${slow.storageUrl()}/s/dlo`, {
      headers: { 'x-auth-token': slow.token() },
    });
    expect(res.body.toString()).toBe('part 1part 2part 3part 4part 5part 6');
    expect(res.ms).toBeGreaterThanOrEqual(280); // parts 4, 5 and 6 wait 100 ms each
    await slow.close();
  });

  it('serves a DLO with a full first listing page chunked, with the manifest ETag', async () => {
    const small = await startEmulator({ listingLimit: 3 });
    for (let i = 1; i <= 5; i++) small.putObject('s', `p-${i}`, `${i}`);
    small.putDlo('s', 'dlo', 's/p-');
    const res = await http(`${small.storageUrl()}/s/dlo`, {
      headers: { 'x-auth-token': small.token() },
    });
    expect(res.body.toString()).toBe('12345');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers.etag).toBe(md5(''));
    const page = await http(`${small.storageUrl()}/s?limit=4`, {
      headers: { 'x-auth-token': small.token() },
    });
    expect(page.status).toBe(412);
    await small.close();
  });

  it('splits an image into segments plus a manifest with uploadImage', async () => {
    const content = bufferContent(Buffer.from('abcdefghij'));
    const { segments } = em.uploadImage({
      container: 'up',
      name: 'x.vhd',
      content,
      segmentSize: 4,
    });
    expect(segments).toEqual(['x.vhd-00001', 'x.vhd-00002', 'x.vhd-00003']);
    expect((await get('up/x.vhd')).body.toString()).toBe('abcdefghij');
    expect((await get('up/x.vhd', {}, 'HEAD')).headers['x-object-manifest']).toBe('up/x.vhd-');
  });

  it('answers HEAD of a 2 GiB generated object and a range from its end, holding none of it', async () => {
    const size = 2048 * MiB;
    const content = generatedContent(size, 'huge');
    em.putObject('big', 'huge.bin', content, { md5: '0123456789abcdef0123456789abcdef' });
    const rss = process.memoryUsage().rss;
    const head = await get('big/huge.bin', {}, 'HEAD');
    expect([head.status, head.headers['content-length']]).toEqual([200, String(size)]);
    const tail = await get('big/huge.bin', { range: 'bytes=-1000' });
    expect(tail.body.equals(content.read(size - 1000, size))).toBe(true);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100 * MiB);
  });

  it('stops generating when the client goes away early', async () => {
    em.putObject('big', 'huge2.bin', generatedContent(1024 * MiB, 'huge2'), { md5: md5('x') });
    const res = await request(`${em.storageUrl()}/big/huge2.bin`, {
      headers: { 'x-auth-token': em.token() },
    });
    for await (const _ of res.body) break;
    await new Promise((r) => setTimeout(r, 100));
    const entry = em.requests.at(-1);
    expect(entry?.aborted).toBe(true);
    expect(entry?.bytesSent).toBeLessThan(64 * MiB);
  });

  it('streams a generated 512 MiB object whole, its last bytes as generated', async () => {
    const size = 512 * MiB;
    const content = generatedContent(size, 'fast');
    em.putObject('big', 'fast.bin', content, { md5: md5('y') });
    const res = await request(`${em.storageUrl()}/big/fast.bin`, {
      headers: { 'x-auth-token': em.token() },
    });
    let n = 0;
    let last: Buffer = Buffer.alloc(0);
    for await (const chunk of res.body) {
      n += (chunk as Buffer).length;
      last = chunk as Buffer;
    }
    expect(n).toBe(size);
    expect(last.equals(content.read(size - last.length, size))).toBe(true);
  });
});

describe('request log', () => {
  it('records method, path below the account, query, range, status and bytes', async () => {
    await get('c/small.bin?x=1', { range: 'bytes=0-3' });
    expect(em.requests).toHaveLength(1);
    expect(em.requests[0]).toMatchObject({
      method: 'GET',
      path: '/c/small.bin',
      query: { x: '1' },
      range: 'bytes=0-3',
      status: 206,
      bytesSent: 4,
      container: 'c',
      object: 'small.bin',
      region: 'DFW',
      internal: false,
      aborted: false,
    });
    expect(em.requests[0]?.fullPath).toBe('/dfw/v1/MossoCloudFS_123456/c/small.bin');
  });
});
