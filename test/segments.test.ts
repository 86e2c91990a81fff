import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Content, sliceContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { fixedVhdImage } from '../src/emulator/vhd-image.js';
import { runCli, sha256 } from './support/cli.js';
import { flipByte } from './support/local-files.js';

const SEG = 64 * 1024;
/** 12 full segments and a short 13th: `-00010` and later exist, and a glob would misorder. */
const image: Content = fixedVhdImage({ size: 12 * SEG + 10 * 512, seed: 'segments-test' });
const imageSha = sha256(image.read(0, image.size));
const MANIFEST = '.cfimg-manifest.json';

let em: Emulator;
let tmp: string;
let dir: string;

function env(): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

/** Paths of segment GETs the server saw since the log was cleared. */
function segmentGets(): string[] {
  return em.requests
    .filter((r) => r.method === 'GET' && r.path.startsWith('/exports/img.vhd-'))
    .map((r) => r.path.replace('/exports/', ''));
}

function seg(n: number): string {
  return `img.vhd-${String(n).padStart(5, '0')}`;
}

beforeAll(async () => {
  em = await startEmulator();
  em.uploadImage({ container: 'exports', name: 'img.vhd', content: image, segmentSize: SEG });
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cfimg-segments-'));
  dir = join(tmp, 'segs');
  em.clearRequests();
  return () => rm(tmp, { recursive: true, force: true });
});

async function getSegments(extra: string[] = []) {
  return runCli([...extra, 'get-segments', 'exports/img.vhd', '--dir', dir], { env: env() });
}

describe('cfimg get-segments', () => {
  it('fetches every segment into a new directory, named in order, with a manifest file', async () => {
    const r = await getSegments();
    expect(r.stderr).toMatch(/13 fetched, 0 kept, 0 repaired/);
    expect(r.code).toBe(0);
    const files = await readdir(dir);
    expect(files.sort()).toEqual([MANIFEST, ...Array.from({ length: 13 }, (_, i) => seg(i + 1))]);
    const joined = Buffer.concat(
      await Promise.all(files.filter((f) => f !== MANIFEST).map((f) => readFile(join(dir, f)))),
    );
    expect(sha256(joined)).toBe(imageSha);
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
    expect(manifest).toMatchObject({ container: 'exports', object: 'img.vhd', size: image.size });
    expect(manifest.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(manifest.segments[9]).toMatchObject({ name: seg(10), file: seg(10), bytes: SEG });
    expect(segmentGets()).toHaveLength(13);
  });

  it('fetches nothing on a second run: every segment is kept after its MD5 is checked', async () => {
    await getSegments();
    em.clearRequests();
    const r = await getSegments();
    expect(r.stderr).toMatch(/0 fetched, 13 kept, 0 repaired/);
    expect(r.code).toBe(0);
    expect(segmentGets()).toEqual([]);
  });

  it('fetches again only the local segment that was corrupted', async () => {
    await getSegments();
    await flipByte(join(dir, seg(11)), 1234);
    em.clearRequests();
    const r = await getSegments();
    expect(r.stderr).toMatch(/0 fetched, 12 kept, 1 repaired/);
    expect(r.stderr).toContain(seg(11));
    expect(segmentGets()).toEqual([seg(11)]);
    expect(sha256(await readFile(join(dir, seg(11))))).toBe(sha256(image.read(10 * SEG, 11 * SEG)));
  });

  it('fetches only the local segment that was deleted, and prints a JSON document with --json', async () => {
    await getSegments();
    await unlink(join(dir, seg(3)));
    em.clearRequests();
    const r = await getSegments(['--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      fetched: 1,
      kept: 12,
      repaired: 0,
      segments: 13,
      bytes: image.size,
    });
    expect(segmentGets()).toEqual([seg(3)]);
  });

  it('ends with exit 3 naming a segment corrupted on the server, leaving no file under its name', async () => {
    em.corrupt('exports', seg(5), 100);
    try {
      const r = await getSegments(['--concurrency', '1']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`segment exports/${seg(5)} failed its MD5 check`));
      const files = await readdir(dir);
      expect(files).not.toContain(seg(5));
      expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);
      // The manifest is the unfinished one written before the first segment: nothing joins it.
      expect(JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')).finished).toBe(false);
      const joined = await runCli(['reassemble', dir, '-o', join(tmp, 'img.vhd')]);
      expect(joined.code).toBe(2);
      expect(joined.stderr.trim()).toBe(
        `cfimg: ${dir} holds a get-segments run of exports/img.vhd that did not finish: ` +
          'run cfimg get-segments again to complete it',
      );
      expect(await readdir(tmp)).toEqual(['segs']);
      const checked = await runCli(['verify', '--offline', 'exports/img.vhd', dir]);
      expect(checked.code).toBe(2);
      expect(checked.stderr).toMatch(/did not finish: run cfimg get-segments again/);
    } finally {
      em.putObject('exports', seg(5), sliceContent(image, 4 * SEG, 5 * SEG));
    }
  });

  it('reads the listing again when a byte of a name in it was damaged on the way', async () => {
    const listing = await fetch(`${em.storageUrl()}/exports?format=json&prefix=img.vhd-`, {
      headers: { 'X-Auth-Token': em.token() },
    }).then((r) => r.text());
    const at = Buffer.from(listing).indexOf(seg(8)) + seg(8).length - 2;
    const rule = em.faults.add({
      match: { method: 'GET', path: '/exports', query: { format: 'json' } },
      action: { flipByteAt: at },
    });
    const r = await getSegments();
    expect(rule.hits).toBe(1);
    expect(r.code).toBe(0);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([MANIFEST, ...Array.from({ length: 13 }, (_, i) => seg(i + 1))]);
    const joined = Buffer.concat(
      await Promise.all(files.slice(1).map((f) => readFile(join(dir, f)))),
    );
    expect(sha256(joined)).toBe(imageSha);
  });

  it('reads the listing again when a damaged name breaks its order, as Swift never sends', async () => {
    const url = `${em.storageUrl()}/exports?format=json&prefix=img.vhd-`;
    const items = (await fetch(url, { headers: { 'X-Auth-Token': em.token() } }).then((r) =>
      r.json(),
    )) as { name: string }[];
    // Still ASCII, so still JSON, but no such object: it would end the run with a 404.
    const damaged = items.map((item) =>
      item.name === seg(8) ? { ...item, name: 'img.vhd-0000z' } : item,
    );
    const rule = em.faults.add({
      match: { method: 'GET', path: '/exports', query: { format: 'json' } },
      action: {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(damaged),
      },
    });
    const r = await getSegments();
    expect(rule.hits).toBe(1);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/numbered/);
    expect((await readdir(dir)).sort()).toEqual([
      MANIFEST,
      ...Array.from({ length: 13 }, (_, i) => seg(i + 1)),
    ]);
  });

  it('takes over the files an unfinished earlier run left under other names, once each', async () => {
    await getSegments();
    // What a run whose listing named the files differently leaves when it is cut off: numbered
    // files, one of them for a name that is not in the listing at all.
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
    manifest.finished = false;
    for (const [i, rec] of manifest.segments.entries()) {
      const numbered = `${String(i + 1).padStart(5, '0')}-${rec.file}`;
      await rename(join(dir, rec.file), join(dir, numbered));
      rec.file = numbered;
    }
    manifest.segments[7].name = 'img.vhd-0000z';
    await writeFile(join(dir, MANIFEST), JSON.stringify(manifest));
    em.clearRequests();
    const r = await getSegments();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /an earlier run left 13 files under other names: 12 renamed .*, 1 removed/,
    );
    expect(r.stderr).toMatch(/1 fetched, 12 kept, 0 repaired/);
    expect(segmentGets()).toEqual([seg(8)]);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([MANIFEST, ...Array.from({ length: 13 }, (_, i) => seg(i + 1))]);
    const joined = Buffer.concat(
      await Promise.all(files.slice(1).map((f) => readFile(join(dir, f)))),
    );
    expect(sha256(joined)).toBe(imageSha);
    expect(JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')).finished).toBeUndefined();
  });

  it('refuses a directory whose parent does not exist, writing nothing', async () => {
    dir = join(tmp, 'no', 'such');
    const r = await getSegments();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot create .*: its parent .* does not exist; create it first/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(segmentGets()).toEqual([]);
  });
});

describe('cfimg verify', () => {
  it('passes on a directory of segments and on the whole file', async () => {
    await getSegments();
    const d = await runCli(['verify', 'exports/img.vhd', dir], { env: env() });
    expect(d.stderr).toMatch(/all 13 segments match: sizes, MD5s and the manifest ETag/);
    expect(d.code).toBe(0);

    const file = join(tmp, 'img.vhd');
    expect((await runCli(['get', 'exports/img.vhd', '-o', file], { env: env() })).code).toBe(0);
    const f = await runCli(['verify', 'exports/img.vhd', file], { env: env() });
    expect(f.stderr).toMatch(/all 13 segments match/);
    expect(f.code).toBe(0);
  });

  it('fails with exit 3 naming the segment with a flipped byte, and the one of the wrong size', async () => {
    await getSegments();
    await flipByte(join(dir, seg(10)), 99);
    await truncate(join(dir, seg(4)), SEG - 1);
    const r = await runCli(['verify', 'exports/img.vhd', dir], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`segment ${seg(10)}: MD5 [0-9a-f]{32}, expected`));
    expect(r.stderr).toMatch(
      new RegExp(`segment ${seg(4)}: size ${SEG - 1} bytes, expected ${SEG}`),
    );
    expect(r.stderr).toMatch(/2 problems \(2 of 13 segments differ\)/);
  });

  it('names the segment holding a flipped byte of a whole file', async () => {
    const file = join(tmp, 'img.vhd');
    await runCli(['get', 'exports/img.vhd', '-o', file], { env: env() });
    await flipByte(file, 11 * SEG + 7);
    const r = await runCli(['--json', 'verify', 'exports/img.vhd', file], { env: env() });
    expect(r.code).toBe(3);
    const doc = JSON.parse(r.stdout.toString());
    expect(doc.ok).toBe(false);
    expect(doc.problems).toEqual([expect.objectContaining({ kind: 'md5', segment: seg(12) })]);
  });

  it('checks a directory against its manifest file with --offline, without credentials', async () => {
    await getSegments();
    em.clearRequests();
    const ok = await runCli(['verify', '--offline', 'exports/img.vhd', dir]);
    expect(ok.stderr).toMatch(/all 13 segments match/);
    expect(ok.code).toBe(0);
    await flipByte(join(dir, seg(13)), 0);
    const bad = await runCli(['verify', '--offline', 'exports/img.vhd', dir]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`segment ${seg(13)}: MD5`);
    expect(em.requests).toEqual([]);
  });

  it('refuses --offline where there is no manifest file, with the fix', async () => {
    const r = await runCli(['verify', '--offline', 'exports/img.vhd', tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--offline needs the manifest file .* drop --offline/);
  });
});

describe('cfimg reassemble', () => {
  it('joins the segments into a byte-identical image, keeping them', async () => {
    await getSegments();
    const out = join(tmp, 'img.vhd');
    const r = await runCli(['reassemble', dir, '-o', out]);
    expect(r.stderr).toMatch(/from 13 segments .* size and MD5 checked/);
    expect(r.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect(await readdir(dir)).toHaveLength(14);
    expect(await readdir(tmp)).toEqual(expect.arrayContaining(['img.vhd', 'segs']));
    expect(await readdir(tmp)).toHaveLength(2);
  });

  it('removes each segment once joined with --remove-segments, writing into the directory', async () => {
    await getSegments();
    const out = join(dir, 'img.vhd');
    const r = await runCli(['reassemble', dir, '-o', out, '--remove-segments']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/13 segment files removed/);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect((await readdir(dir)).sort()).toEqual([MANIFEST, 'img.vhd']);
  });

  it('refuses to overwrite an existing file without --force, and overwrites with it', async () => {
    await getSegments();
    const out = join(tmp, 'img.vhd');
    await runCli(['reassemble', dir, '-o', out]);
    const refused = await runCli(['reassemble', dir, '-o', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists: .* --force/);
    const forced = await runCli(['reassemble', dir, '-o', out, '--force']);
    expect(forced.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
  });

  it('keeps FILE.part when a bad segment stops --remove-segments, and continues after a fix and a crash', async () => {
    await getSegments();
    await flipByte(join(dir, seg(8)), 5);
    const out = join(tmp, 'img.vhd');
    const failed = await runCli(['reassemble', dir, '-o', out, '--remove-segments']);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/holds the first 7 segments, whose files were removed: keep it/);
    expect(failed.stderr).toContain(`cfimg get exports/${seg(8)} -o ${join(dir, seg(8))} --force`);
    expect(await readdir(tmp)).toContain('img.vhd.part');
    expect(await readdir(tmp)).not.toContain('img.vhd');

    // A crash in the middle of a segment leaves a few bytes past the recorded end.
    await appendFile(join(tmp, 'img.vhd.part'), Buffer.alloc(1000, 7));
    const fix = ['get', `exports/${seg(8)}`, '-o', join(dir, seg(8)), '--force'];
    expect((await runCli(fix, { env: env() })).code).toBe(0);
    const again = await runCli(['reassemble', dir, '-o', out, '--remove-segments']);
    expect(again.stderr).toMatch(/continuing: 7 of 13 segments/);
    expect(again.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect((await readdir(tmp)).sort()).toEqual(['img.vhd', 'segs']);
    expect(await readdir(dir)).toEqual([MANIFEST]);
  });

  it('joins by byte-wise name order without a manifest, and warns that MD5s are not checked', async () => {
    await getSegments();
    await unlink(join(dir, MANIFEST));
    const out = join(tmp, 'img.vhd');
    const r = await runCli(['reassemble', dir, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: no \.cfimg-manifest\.json .* without MD5 checks/);
    expect(sha256(await readFile(out))).toBe(imageSha);
  });
});
