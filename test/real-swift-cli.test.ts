/**
 * The CLI end to end against the real Swift (scripts/swift-saio.sh), signing in as a user would:
 * --auth-url, --username and --api-key through the Identity v2 front over tempauth. A counting
 * proxy sits between cfimg and Swift, so the tests see every request cfimg makes, and can change
 * the server at an exact moment of a run. The fixtures are uploaded here, in containers unique
 * to this run, and deleted afterwards.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Content, generatedContent } from '../src/emulator/content.js';
import { type IdentityFront, startIdentityFront } from '../src/emulator/identity-front.js';
import { encodePath, httpTarget, type SwiftTarget } from './contract/target.js';
import { type CliResult, runCli, sha256 } from './support/cli.js';
import { type CountingProxy, startCountingProxy } from './support/counting-proxy.js';
import { parseHead } from './support/head-output.js';
import { flipByte } from './support/local-files.js';
import { REAL_SWIFT_HINT, type RealSwift, realSwift } from './support/real-swift.js';

const swift = await realSwift();
if (!swift) console.warn(REAL_SWIFT_HINT);

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const composite = (parts: Buffer[]) => md5(Buffer.from(parts.map(md5).join('')));
const MANIFEST = '.cfimg-manifest.json';

const SEG = 128 * 1024;
const COUNT = 17;
/** 16 full segments and a short 17th: `-00010` and later exist, a shell glob would misorder. */
const image = generatedContent((COUNT - 1) * SEG + 12_345, 'real-swift-cli-image');
const pieces = Array.from({ length: COUNT }, (_, i) =>
  image.read(i * SEG, Math.min(image.size, (i + 1) * SEG)),
);
const imageSha = sha256(image.read(0, image.size));
const sloParts = [100_000, 70_000, 3].map((n, i) => bytesOf(generatedContent(n, `slo-${i}`)));
const plain = bytesOf(generatedContent(300_000, 'real-plain'));
const ODD_NAMES = ['with space.vhd', 'hash#and?query%.vhd', 'dïr/ünïcødé ✓.vhd'];
/** A DLO in the odd container whose name needs encoding, and its three segments. */
const ODD_DLO = 'ünï image #1?.vhd';
const oddPieces = [3000, 3000, 5].map((n, i) => bytesOf(generatedContent(n, `odd-dlo-${i}`)));
/** Sizes and rates as cfimg prints them: whole bytes, or a binary unit with one decimal. */
const BYTES = String.raw`(\d+ B|\d+\.\d [KMG]iB)`;
const STREAMED = new RegExp(
  `^cfimg: streamed: ${BYTES} in \\d+\\.\\d s \\(${BYTES}/s\\); verified: `,
);

function bytesOf(content: Content): Buffer {
  return content.read(0, content.size);
}

function segName(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(5, '0')}`;
}

/** Runs `tasks` with at most `n` at once. */
async function inParallel(n: number, tasks: (() => Promise<void>)[]): Promise<void> {
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    }),
  );
}

(swift ? describe : describe.skip)('cfimg against the real Swift', () => {
  const real = swift as RealSwift;
  const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  /** The images: a DLO, an SLO and a plain object, as Cloud Images leaves them. */
  const box = `cfimg-cli-${run}`;
  const sloBox = `cfimg-cli-${run}-slo`;
  const oddBox = `cfimg-cli-${run} ödd #1`;
  /** For the tests that change an image on the server. */
  const scratch = `cfimg-cli-${run}-scratch`;
  const uuid = randomUUID();
  const dlo = `${uuid}.vhd`;
  let target: SwiftTarget;
  let proxy: CountingProxy;
  let front: IdentityFront;
  let cache: string;
  let tmp: string;

  const cli = (args: string[], cwd?: string): Promise<CliResult> =>
    runCli(['--auth-url', front.url, '--username', real.user, '--api-key', real.key, ...args], {
      env: { XDG_CACHE_HOME: cache },
      ...(cwd ? { cwd } : {}),
    });

  /** Object GETs cfimg made in `container` (listings and manifests excluded). */
  const objectGets = (container = box) =>
    proxy.requests
      .filter((r) => r.method === 'GET' && r.path.startsWith(`/v1/AUTH_test/${container}/`))
      .map((r) => r.path.slice(`/v1/AUTH_test/${container}/`.length));

  const put = (container: string, name: string, body: Buffer) =>
    target.putObject(container, name, body);

  beforeAll(async () => {
    proxy = await startCountingProxy(real.proxyUrl);
    front = await startIdentityFront({ authV1Url: `${proxy.url}/auth/v1.0`, region: 'ORD' });
    target = httpTarget('real Swift', real.storageUrl, real.token);
    cache = await mkdtemp(join(tmpdir(), 'cfimg-real-cache-'));
    for (const c of [box, sloBox, oddBox, scratch]) await target.putContainer(c);

    const uploads = pieces.map((p, i) => () => put(box, segName(dlo, i + 1), p));
    await inParallel(4, uploads);
    await target.putDlo(box, dlo, `${box}/${dlo}-`);
    for (const [i, p] of sloParts.entries()) await put(sloBox, `part-${i}`, p);
    await target.putSlo(
      box,
      'slo.vhd',
      sloParts.map((p, i) => ({
        path: `/${sloBox}/part-${i}`,
        etag: md5(p),
        size_bytes: p.length,
      })),
    );
    await put(box, 'plain.bin', plain);
    for (const name of ODD_NAMES) await put(oddBox, name, Buffer.from(`payload of ${name}`));
    for (const [i, p] of oddPieces.entries()) await put(oddBox, segName(ODD_DLO, i + 1), p);
    const encoded = `${encodeURIComponent(oddBox)}/${encodeURIComponent(`${ODD_DLO}-`)}`;
    await target.putDlo(oddBox, ODD_DLO, encoded);
  }, 30_000);

  afterAll(async () => {
    await target?.cleanup();
    await proxy?.close();
    await front?.close();
    if (cache) await rm(cache, { recursive: true, force: true });
  });

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cfimg-real-'));
    proxy.hook = undefined;
    proxy.clear();
    return () => rm(tmp, { recursive: true, force: true });
  });

  describe('head', () => {
    it('shows a DLO: aligned headers, size, the composite ETag and its segments', async () => {
      const r = await cli(['head', `${box}/${dlo}`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { headers, aligned, summary } = parseHead(r.stdout);
      expect(aligned).toBe(true);
      expect(headers).toMatchObject({
        'Content-Length': String(image.size),
        Etag: `"${composite(pieces)}"`,
        'X-Object-Manifest': `${box}/${dlo}-`,
        'X-Trans-Id': expect.stringMatching(/^tx[0-9a-f]{21}-[0-9a-f]{10}$/),
      });
      expect(summary).toEqual([
        `size: ${image.size} bytes (2.0 MiB)`,
        `etag: ${composite(pieces)}`,
        `kind: dynamic large object, segments ${box}/${dlo}-*`,
        `segments: ${COUNT}`,
      ]);
    });

    it('shows an SLO and a plain object with their kind, size and ETag', async () => {
      const slo = await cli(['--json', 'head', `${box}/slo.vhd`]);
      expect(slo.code).toBe(0);
      expect(JSON.parse(slo.stdout.toString())).toMatchObject({
        kind: 'slo',
        size: 170_003,
        etag: composite(sloParts),
        headers: { 'x-static-large-object': 'True' },
      });
      const obj = await cli(['head', `${box}/plain.bin`]);
      expect(obj.code).toBe(0);
      expect(obj.stdout.toString()).toContain(
        `\nsize: 300000 bytes (293.0 KiB)\netag: ${md5(plain)}\nkind: object\n`,
      );
    });

    it('exits 5 naming the object, or the container', async () => {
      const object = await cli(['head', `${box}/nope.vhd`]);
      expect(object.code).toBe(5);
      expect(object.stderr).toBe(`cfimg: object 'nope.vhd' not found in container '${box}'\n`);
      const container = await cli(['head', `${box}-nosuch/x`]);
      expect(container.code).toBe(5);
      expect(container.stderr).toBe(`cfimg: container '${box}-nosuch' not found\n`);
    });

    it('signs in once, then reuses the cached token; a password works like the key', async () => {
      const signIns = () => proxy.requests.filter((q) => q.path === '/auth/v1.0').length;
      const as = (secret: string[]) =>
        runCli(
          ['--auth-url', front.url, '--username', real.user, ...secret, 'head', `${box}/${dlo}`],
          { env: { XDG_CACHE_HOME: tmp } },
        );
      expect((await as(['--api-key', real.key])).code).toBe(0);
      expect(signIns()).toBe(1);
      expect((await as(['--api-key', real.key])).code).toBe(0);
      expect(signIns()).toBe(1);
      const password = await as(['--password', real.key]);
      expect(password.code).toBe(0);
      expect(parseHead(password.stdout).summary).toContain(`segments: ${COUNT}`);
      expect(signIns()).toBe(2);
    });

    it('exits 4 with one line when the API key is wrong', async () => {
      const args = ['--username', real.user, '--api-key', 'wrong', 'head', `${box}/${dlo}`];
      const r = await runCli(['--auth-url', front.url, ...args], { env: { XDG_CACHE_HOME: tmp } });
      expect(r.code).toBe(4);
      expect(r.stderr).toBe(
        `cfimg: Identity refused user '${real.user}': ` +
          'check the username and API key (--api-key, CF_API_KEY)\n',
      );
    });
  });

  describe('get', () => {
    it('downloads the DLO byte for byte, fetching its 17 segments directly', async () => {
      const out = join(tmp, 'img.vhd');
      const r = await cli(['get', `${box}/${dlo}`, '-o', out]);
      expect(r.stderr).toMatch(/verified: 17 segments, MD5 and manifest ETag/);
      expect(r.code).toBe(0);
      expect(sha256(await readFile(out))).toBe(imageSha);
      const gets = objectGets();
      expect(gets.sort()).toEqual(pieces.map((_, i) => segName(dlo, i + 1)));
      expect(await readdir(tmp)).toEqual(['img.vhd']);
    });

    it('streams the DLO to stdout with -o -, in order', async () => {
      const r = await cli(['get', `${box}/${dlo}`, '-o', '-']);
      expect(r.code).toBe(0);
      expect(r.stdoutSha256).toBe(imageSha);
      expect(r.stderr).toMatch(/streamed/);
    });

    it('downloads the SLO and checks each segment', async () => {
      const out = join(tmp, 'slo.vhd');
      const r = await cli(['get', `${box}/slo.vhd`, '-o', out]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/verified: 3 segments/);
      expect(sha256(await readFile(out))).toBe(sha256(Buffer.concat(sloParts)));
    });

    it('downloads a plain object and checks its MD5', async () => {
      const r = await cli(['get', `${box}/plain.bin`], tmp);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/verified: MD5 of the object/);
      expect(sha256(await readFile(join(tmp, 'plain.bin')))).toBe(sha256(plain));
    });

    it.each(ODD_NAMES)('gets and heads the object named %j', async (name) => {
      const r = await cli(['get', `${oddBox}/${name}`, '-o', '-']);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe(`payload of ${name}`);
      expect(r.stderr).toMatch(STREAMED);
      const head = await cli(['--json', 'head', `${oddBox}/${name}`]);
      expect(JSON.parse(head.stdout.toString())).toMatchObject({
        container: oddBox,
        object: name,
        kind: 'object',
        etag: md5(Buffer.from(`payload of ${name}`)),
      });
    });

    it('gets a DLO whose name and percent-encoded manifest need decoding', async () => {
      const r = await cli(['get', `${oddBox}/${ODD_DLO}`, '-o', '-']);
      expect(r.code).toBe(0);
      expect(r.stdoutSha256).toBe(sha256(Buffer.concat(oddPieces)));
      expect(r.stderr).toMatch(STREAMED);
      expect(r.stderr).toMatch(/verified: 3 segments, MD5 and manifest ETag/);
      const head = await cli(['head', `${oddBox}/${ODD_DLO}`]);
      expect(head.code).toBe(0);
      const text = head.stdout.toString();
      // Swift hands the manifest back as it was stored: encoded.
      expect(text).toMatch(/^X-Object-Manifest: +cfimg-cli-[^ ]*%20%C3%B6dd%20%231\/%C3%BC/m);
      expect(text).toContain(`\nkind: dynamic large object, segments ${oddBox}/${ODD_DLO}-*\n`);
      const list = await cli(['list', '--full', oddBox, '--prefix', 'ünï']);
      expect(list.stdout.toString()).toMatch(
        new RegExp(`^ +manifest .* ${ODD_DLO.replace(/[?.#]/g, '\\$&')} {2}-> `, 'm'),
      );
      expect(list.stdout.toString()).toContain(`-> ${oddBox}/${ODD_DLO}-\n`);
    });
  });

  describe('list', () => {
    it('prints every object with --full, the DLO manifest marked with its segments', async () => {
      const r = await cli(['list', '--full', box]);
      expect(r.code).toBe(0);
      const lines = r.stdout.toString().trimEnd().split('\n');
      const row = (size: string, hash: string, name: string) =>
        new RegExp(
          `^ *${size} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d\\d +${hash} ` +
            `application/octet-stream +${name.replace(/[.$]/g, '\\$&')}$`,
        );
      expect(lines).toHaveLength(COUNT + 3);
      expect(lines[0]).toMatch(row('manifest', md5(Buffer.alloc(0)), `${dlo}  -> ${box}/${dlo}-`));
      for (const [i, p] of pieces.entries())
        expect(lines[i + 1]).toMatch(row(String(p.length), md5(p), segName(dlo, i + 1)));
      expect(lines[COUNT + 1]).toMatch(row('300000', md5(plain), 'plain.bin'));
      // An SLO lists with its whole size and the MD5 of its manifest document: not marked.
      expect(lines[COUNT + 2]).toMatch(
        /^ *170003 .* [0-9a-f]{32} +application\/octet-stream +slo\.vhd$/,
      );
    });
  });

  describe('get-segments, verify and reassemble', () => {
    let dir: string;
    const seg = (n: number) => segName(dlo, n);
    const getSegments = (extra: string[] = []) =>
      cli([...extra, 'get-segments', `${box}/${dlo}`, '--dir', dir]);

    /** One directory fetched for the tests below that only need a good copy to start from. */
    let master: string;
    const copyOfMaster = () => cp(master, dir, { recursive: true });

    beforeAll(async () => {
      master = await mkdtemp(join(tmpdir(), 'cfimg-real-master-'));
      const r = await cli(['get-segments', `${box}/${dlo}`, '--dir', master]);
      if (r.code !== 0) throw new Error(`get-segments for the later tests: ${r.stderr}`);
      return () => rm(master, { recursive: true, force: true });
    });

    beforeEach(() => {
      dir = join(tmp, 'segs');
    });

    it('fetches each segment once, then nothing; then only a corrupted or deleted one', async () => {
      const first = await getSegments();
      expect(first.stderr).toMatch(/17 fetched, 0 kept, 0 repaired/);
      expect(first.code).toBe(0);
      expect(objectGets()).toHaveLength(COUNT);
      const files = (await readdir(dir)).filter((f) => f !== MANIFEST).sort();
      expect(files).toEqual(pieces.map((_, i) => seg(i + 1)));
      const joined = await Promise.all(files.map((f) => readFile(join(dir, f))));
      expect(sha256(Buffer.concat(joined))).toBe(imageSha);

      proxy.clear();
      const second = await getSegments();
      expect(second.stderr).toMatch(/0 fetched, 17 kept, 0 repaired/);
      expect(second.code).toBe(0);
      expect(objectGets()).toEqual([]);

      await flipByte(join(dir, seg(11)), 4321);
      proxy.clear();
      const repaired = await getSegments();
      expect(repaired.stderr).toMatch(/0 fetched, 16 kept, 1 repaired/);
      expect(repaired.code).toBe(0);
      expect(objectGets()).toEqual([seg(11)]);
      expect(md5(await readFile(join(dir, seg(11))))).toBe(md5(pieces[10] as Buffer));

      await unlink(join(dir, seg(3)));
      proxy.clear();
      const refetched = await getSegments(['--json']);
      expect(refetched.code).toBe(0);
      expect(JSON.parse(refetched.stdout.toString())).toMatchObject({
        fetched: 1,
        kept: 16,
        repaired: 0,
        segments: COUNT,
        bytes: image.size,
      });
      expect(objectGets()).toEqual([seg(3)]);
    });

    it('verify passes the directory and the whole file, and names what is wrong', async () => {
      await copyOfMaster();
      const ok = await cli(['verify', `${box}/${dlo}`, dir]);
      expect(ok.stderr).toMatch(/all 17 segments match: sizes, MD5s and the manifest ETag/);
      expect(ok.code).toBe(0);
      const file = join(tmp, 'img.vhd');
      expect((await runCli(['reassemble', dir, '-o', file])).code).toBe(0);
      const whole = await cli(['verify', `${box}/${dlo}`, file]);
      expect(whole.stderr).toMatch(/all 17 segments match/);
      expect(whole.code).toBe(0);

      await flipByte(join(dir, seg(12)), 99);
      const flipped = await cli(['verify', `${box}/${dlo}`, dir]);
      expect(flipped.code).toBe(3);
      const actual = md5(await readFile(join(dir, seg(12))));
      expect(flipped.stderr).toContain(
        `segment ${seg(12)}: MD5 ${actual}, expected ${md5(pieces[11] as Buffer)}`,
      );
      expect(flipped.stderr).toMatch(/1 problem/);

      await truncate(join(dir, seg(15)), SEG - 1);
      const short = await cli(['verify', `${box}/${dlo}`, dir]);
      expect(short.code).toBe(3);
      expect(short.stderr).toContain(`segment ${seg(15)}: size ${SEG - 1} bytes, expected ${SEG}`);
      expect(short.stderr).toMatch(/2 problems \(2 of 17 segments differ\)/);
    });

    it('reassembles a byte-identical image, keeping the segments or removing them', async () => {
      await copyOfMaster();
      const kept = join(tmp, 'kept.vhd');
      const r = await runCli(['reassemble', dir, '-o', kept]);
      expect(r.code).toBe(0);
      expect(sha256(await readFile(kept))).toBe(imageSha);
      expect(await readdir(dir)).toHaveLength(COUNT + 1);

      const out = join(dir, 'img.vhd');
      const removed = await runCli(['reassemble', dir, '-o', out, '--remove-segments']);
      expect(removed.code).toBe(0);
      expect(removed.stderr).toMatch(/17 segment files removed/);
      expect(sha256(await readFile(out))).toBe(imageSha);
      expect((await readdir(dir)).sort()).toEqual([MANIFEST, 'img.vhd']);
    });
  });

  describe('a DLO with its segments gone', () => {
    it('exits 3 naming a segment container that does not exist (Swift answers 404)', async () => {
      await target.putDlo(scratch, 'orphan.vhd', `${scratch}-gone/orphan.vhd-`);
      for (const args of [['head'], ['get', '-o', '-']]) {
        const r = await cli([...args, `${scratch}/orphan.vhd`]);
        expect(r.code).toBe(3);
        expect(r.stderr).toBe(
          `cfimg: ${scratch}/orphan.vhd is a DLO manifest whose segment container ` +
            `'${scratch}-gone' does not exist: the image's segments are gone\n`,
        );
      }
    });

    it('warns when the prefix matches nothing (Swift serves an empty object)', async () => {
      await target.putDlo(scratch, 'empty.vhd', `${scratch}/nothing-`);
      const r = await cli(['head', `${scratch}/empty.vhd`]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /^cfimg: warning: the manifest prefix 'nothing-' matches no segment/,
      );
      expect(parseHead(r.stdout).summary).toEqual([
        'size: 0 bytes (0 B)',
        `etag: ${md5(Buffer.alloc(0))}`,
        `kind: dynamic large object, segments ${scratch}/nothing-*`,
        'segments: 0',
      ]);
    });
  });

  describe('a DLO whose prefix also matches the manifest itself', () => {
    it('gets it byte for byte and warns of nothing: the 0-byte manifest in the list is no gap', async () => {
      const parts = [0, 1, 2].map((i) => Buffer.alloc(5000, 65 + i));
      for (const [i, part] of parts.entries()) await put(scratch, `self.vhd-${i + 1}`, part);
      await target.putDlo(scratch, 'self.vhd', `${scratch}/self.vhd`);
      const head = await cli(['head', `${scratch}/self.vhd`]);
      expect(head.code).toBe(0);
      expect(head.stderr).toBe('');
      expect(parseHead(head.stdout).summary).toContain('segments: 3');
      const out = join(tmp, 'self.vhd');
      const got = await cli(['get', `${scratch}/self.vhd`, '-o', out]);
      expect(got.code).toBe(0);
      expect(got.stderr).not.toMatch(/warning/);
      expect(sha256(await readFile(out))).toBe(sha256(Buffer.concat(parts)));
    });
  });

  describe('an image that changes on the server during a run', () => {
    /** A small DLO of its own in the scratch container: four segments of SEG bytes. */
    async function smallImage(label: string): Promise<{ name: string; parts: Buffer[] }> {
      const name = `${randomUUID()}-${label}.vhd`;
      const parts = [0, 1, 2, 3].map((i) => bytesOf(generatedContent(SEG, `${name}-${i}`)));
      for (const [i, p] of parts.entries()) await put(scratch, segName(name, i + 1), p);
      await target.putDlo(scratch, name, `${scratch}/${name}-`);
      return { name, parts };
    }

    it('exits 3 naming a segment deleted after the listing was read', async () => {
      const { name } = await smallImage('deleted');
      const victim = segName(name, 3);
      let deleted = false;
      proxy.hook = async (req) => {
        if (deleted || req.method !== 'GET' || !req.path.endsWith(`/${victim}`)) return;
        deleted = true;
        const res = await target.call('DELETE', encodePath(scratch, victim));
        if (res.status !== 204) throw new Error(`DELETE ${victim}: HTTP ${res.status}`);
      };
      const r = await cli(['get', `${scratch}/${name}`, '-o', join(tmp, 'x.vhd')]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        new RegExp(
          `segment ${scratch}/${victim} is listed but missing on the server \\(HTTP 404\\)`,
        ),
      );
      expect(await readdir(tmp)).not.toContain('x.vhd');

      // Swift now serves a shorter image without complaint, its size and ETag from the three
      // segments left: head and a new get can only warn about the gap in the numbering.
      const head = await cli(['head', `${scratch}/${name}`]);
      expect(head.code).toBe(0);
      expect(head.stdout.toString()).toMatch(new RegExp(`^size: ${3 * SEG} bytes`, 'm'));
      expect(head.stderr).toMatch(/warning: segment numbering jumps from 00002 to 00004/);
      const again = await cli(['get', `${scratch}/${name}`, '-o', '-']);
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(/warning: segment numbering jumps from 00002 to 00004/);
      expect(again.stdout.length).toBe(3 * SEG);
    });

    it('exits 3 when the listing disagrees with the manifest ETag of the HEAD', async () => {
      const { name, parts } = await smallImage('changed');
      const changed = segName(name, 2);
      let rewritten = false;
      // Rewrite segment 2 (same size, other bytes) between cfimg's HEAD and its listing.
      proxy.hook = async (req) => {
        if (rewritten || req.method !== 'GET' || req.query.prefix !== `${name}-`) return;
        rewritten = true;
        await put(scratch, changed, Buffer.alloc(SEG, 7));
      };
      const r = await cli(['get', `${scratch}/${name}`, '-o', join(tmp, 'x.vhd')]);
      expect(r.code).toBe(3);
      const was = composite(parts);
      const now = composite([parts[0], Buffer.alloc(SEG, 7), parts[2], parts[3]] as Buffer[]);
      expect(r.stderr).toBe(
        `cfimg: the segment listing of ${scratch}/${name} does not match its manifest ` +
          `(segment hashes give ETag ${now}, the manifest says ${was}): ` +
          'the listing is stale or the image changed; try again later\n',
      );
      expect(objectGets(scratch)).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    });
  });
});
