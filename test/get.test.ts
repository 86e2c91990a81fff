import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bufferContent, type Content, generatedContent } from '../src/emulator/content.js';
import { type Emulator, type FaultAction, startEmulator } from '../src/emulator/index.js';
import { runCli, sha256 } from './support/cli.js';

const SEG = 256 * 1024;
let em: Emulator;
let dir: string;
let image: Content;
let imageSha: string;

function contentSha(content: Content): string {
  return sha256(content.read(0, content.size));
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token(), ...extra };
}

function bytesServed(filter: (path: string) => boolean = () => true): number {
  return em.requests
    .filter((r) => r.method === 'GET' && filter(r.path))
    .reduce((n, r) => n + (r.bytesSent ?? 0), 0);
}

beforeAll(async () => {
  em = await startEmulator();
  image = generatedContent(13 * SEG + 12_345, 'get-test-image');
  imageSha = contentSha(image);
  em.uploadImage({ container: 'exports', name: 'img.vhd', content: image, segmentSize: SEG });
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfimg-get-'));
  em.faults.clear();
  em.clearRequests();
});

afterEach(() => rm(dir, { recursive: true, force: true }));

describe('cfimg get of a DLO', () => {
  it('downloads a DLO of more than 10 segments byte for byte, fetching the segments directly', async () => {
    const out = join(dir, 'img.vhd');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.stderr).toMatch(/verified: 14 segments, MD5 and manifest ETag/);
    expect(r.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect(await readdir(dir)).toEqual(['img.vhd']);
    const gets = em.requests.filter(
      (q) => q.method === 'GET' && q.path.startsWith('/exports/img.vhd-'),
    );
    expect(gets).toHaveLength(14);
  });

  it('writes to the base name in the current directory by default', async () => {
    const r = await runCli(['get', 'exports/img.vhd'], { env: env(), cwd: dir });
    expect(r.code).toBe(0);
    expect(sha256(await readFile(join(dir, 'img.vhd')))).toBe(imageSha);
  });

  it('streams to stdout in order with -o -, messages on stderr only', async () => {
    const r = await runCli(['get', 'exports/img.vhd', '-o', '-', '--concurrency', '3'], {
      env: env(),
    });
    expect(r.code).toBe(0);
    expect(r.stdoutSha256).toBe(imageSha);
    expect(r.stderr).toMatch(/streamed/);
  });

  it('prints a JSON result with --json', async () => {
    const out = join(dir, 'img.vhd');
    const r = await runCli(['--json', 'get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout.toString());
    expect(doc).toMatchObject({ path: out, bytes: image.size, segments: 14, verified: 'segments' });
    expect(doc.etag).toMatch(/^[0-9a-f]{32}$/);
  });

  /** Gets the image with a fault on segment 3; returns the Range of each GET of segment 3. */
  async function rangesOfSegment3(action: FaultAction): Promise<(string | undefined)[]> {
    em.faults.add({ match: { method: 'GET', path: '/exports/img.vhd-00003' }, action });
    const out = join(dir, 'img.vhd');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    return em.requests.filter((q) => q.path === '/exports/img.vhd-00003').map((q) => q.range);
  }

  it('resumes after the server closes the connection mid-segment, with a Range from the last byte', async () => {
    const ranges = await rangesOfSegment3({ dropAfterBytes: 100_000 });
    expect(ranges).toEqual([undefined, 'bytes=100000-262143']);
  });

  it('resumes a body that ends cleanly but short of the segment, from the byte it ended at', async () => {
    const ranges = await rangesOfSegment3({
      status: 200,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: image.read(2 * SEG, 2 * SEG + 5000),
    });
    expect(ranges).toEqual([undefined, `bytes=5000-${SEG - 1}`]);
  });

  it('survives the connection dropping four times in a row on one segment', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00005' },
      times: 4,
      action: { dropAfterBytes: 20_000 },
    });
    const out = join(dir, 'img.vhd');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect(bytesServed((p) => p === '/exports/img.vhd-00005')).toBe(SEG);
  });

  it('fetches a segment again when a byte is flipped in transit', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00002' },
      action: { flipByteAt: 777 },
    });
    const out = join(dir, 'img.vhd');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
    expect(em.requests.filter((q) => q.path === '/exports/img.vhd-00002')).toHaveLength(2);
  });

  it('fails with exit 3 naming the segment when its bytes keep failing the MD5 check', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00002' },
      times: Infinity,
      action: { flipByteAt: 5 },
    });
    const out = join(dir, 'img.vhd');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/segment exports\/img\.vhd-00002 failed its MD5 check 3 times/);
    await expect(stat(out)).rejects.toThrow();
  });

  it('retries 503s and a 429 with Retry-After, then succeeds', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00001' },
      times: 2,
      action: { status: 503 },
    });
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00004' },
      action: { status: 429, headers: { 'Retry-After': '1' } },
    });
    const out = join(dir, 'img.vhd');
    const started = Date.now();
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sha256(await readFile(out))).toBe(imageSha);
  });

  it('exits 6 with the status and X-Trans-Id when the server keeps failing', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00006' },
      times: Infinity,
      action: { status: 503 },
    });
    const out = join(dir, 'img.vhd');
    const r = await runCli(['--retries', '2', 'get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/failed after 2 retries: HTTP 503 \(X-Trans-Id: tx[0-9a-f-]+/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await expect(stat(out)).rejects.toThrow();
  });

  it('does not retry an answer no retry can change, and does not claim it did', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00004' },
      times: Infinity,
      action: { status: 400 },
    });
    const r = await runCli(['get', 'exports/img.vhd', '-o', join(dir, 'img.vhd')], { env: env() });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^cfimg: GET exports\/img\.vhd-00004 failed: HTTP 400 \(X-Trans-Id: /);
    const asked = em.requests.filter((q) => q.path === '/exports/img.vhd-00004');
    expect(asked).toHaveLength(1);
  });

  it('exits 6 within the retry budget when the server is dead', async () => {
    const r = await runCli(['--retries', '2', 'get', 'exports/img.vhd', '-o', join(dir, 'x')], {
      env: { CF_STORAGE_URL: 'http://127.0.0.1:9/v1/AUTH_x', CF_AUTH_TOKEN: 'tok-dead' },
    });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /HEAD http:\/\/127\.0\.0\.1:9\/v1\/AUTH_x\/exports\/img\.vhd failed after 2 retries: .*ECONNREFUSED/,
    );
  });

  it('exits 3 when the listing disagrees with the manifest ETag', async () => {
    const stale = JSON.stringify([
      {
        name: 'img.vhd-00001',
        hash: '0'.repeat(32),
        bytes: image.size,
        content_type: 'x',
        last_modified: '2026-01-01T00:00:00.000000',
      },
    ]);
    em.faults.add({
      match: { method: 'GET', path: '/exports', query: { prefix: 'img.vhd-' } },
      times: Infinity,
      action: {
        status: 200,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: stale,
      },
    });
    const r = await runCli(['get', 'exports/img.vhd', '-o', join(dir, 'x')], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /does not match its manifest \(segment hashes give ETag [0-9a-f]{32}, the manifest says [0-9a-f]{32}\)/,
    );
  });

  it('exits 3 naming a listed segment that vanished from the server', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00007' },
      times: Infinity,
      action: { status: 404 },
    });
    const r = await runCli(['get', 'exports/img.vhd', '-o', join(dir, 'x')], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /segment exports\/img\.vhd-00007 is listed but missing on the server \(HTTP 404\)/,
    );
  });

  it('refuses to overwrite an existing file without --force, and keeps it', async () => {
    const out = join(dir, 'img.vhd');
    await writeFile(out, 'precious');
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists: .* --force/);
    expect(await readFile(out, 'utf8')).toBe('precious');
    const forced = await runCli(['get', 'exports/img.vhd', '-o', out, '--force'], { env: env() });
    expect(forced.code).toBe(0);
    expect(sha256(await readFile(out))).toBe(imageSha);
  });

  it('exits 1 with one line for a missing output directory', async () => {
    const r = await runCli(['get', 'exports/img.vhd', '-o', join(dir, 'no/such/dir/x.vhd')], {
      env: env(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such file or directory/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 5 naming the missing object or container', async () => {
    const r1 = await runCli(['get', 'exports/nope.vhd', '-o', join(dir, 'x')], { env: env() });
    expect(r1.code).toBe(5);
    expect(r1.stderr).toMatch(/object 'nope.vhd' not found in container 'exports'/);
    const r2 = await runCli(['get', 'nosuch/nope.vhd', '-o', join(dir, 'x')], { env: env() });
    expect(r2.code).toBe(5);
    expect(r2.stderr).toMatch(/container 'nosuch' not found/);
  });
});

describe('cfimg get of other kinds of object', () => {
  it('downloads an SLO through its manifest and verifies each segment', async () => {
    const parts = [
      generatedContent(100_000, 'slo-a'),
      generatedContent(70_000, 'slo-b'),
      generatedContent(3, 'slo-c'),
    ];
    for (const [i, p] of parts.entries()) em.putObject('slo-segs', `part-${i}`, p);
    em.putSlo(
      'images',
      'slo.vhd',
      parts.map((_, i) => ({ container: 'slo-segs', name: `part-${i}` })),
    );
    const whole = Buffer.concat(parts.map((p) => p.read(0, p.size)));
    const r = await runCli(['get', 'images/slo.vhd', '-o', join(dir, 'slo.vhd')], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/verified: 3 segments/);
    expect(sha256(await readFile(join(dir, 'slo.vhd')))).toBe(sha256(whole));
  });

  it('downloads a plain object and checks its MD5 against the ETag', async () => {
    const data = generatedContent(300_000, 'plain');
    em.putObject('images', 'plain.bin', data);
    const r = await runCli(['get', 'images/plain.bin', '-o', join(dir, 'plain.bin')], {
      env: env(),
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/verified: MD5 of the object/);
    expect(sha256(await readFile(join(dir, 'plain.bin')))).toBe(contentSha(data));
  });

  it.each(['with space.vhd', 'hash#and?query%.vhd', 'dïr/ünïcødé ✓.vhd'])(
    'handles the name %j',
    async (name) => {
      const data = bufferContent(Buffer.from(`payload of ${name}`));
      em.putObject('odd names', name, data);
      const r = await runCli(['get', `odd names/${name}`, '-o', '-'], { env: env() });
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe(`payload of ${name}`);
    },
  );
});

describe('cfimg get through Identity', () => {
  it('signs in again once when storage answers 401 mid-run, then finishes', async () => {
    em.faults.add({
      match: { method: 'GET', path: '/exports/img.vhd-00008' },
      action: { status: 401 },
    });
    const r = await runCli(
      ['--no-token-cache', 'get', 'exports/img.vhd', '-o', join(dir, 'img.vhd')],
      {
        env: {
          CF_AUTH_URL: em.authUrl,
          CF_USERNAME: 'demo',
          CF_API_KEY: 'demo-key',
          CF_REGION: 'ORD',
        },
      },
    );
    expect(r.code).toBe(0);
    expect(sha256(await readFile(join(dir, 'img.vhd')))).toBe(imageSha);
    expect(
      em.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/tokens')),
    ).toHaveLength(2);
  });
});

describe('interruption and resume (the real binary)', () => {
  const bin = join(process.cwd(), 'bin', 'cfimg.js');

  function spawnGet(out: string, extraEnv: Record<string, string> = {}) {
    return spawnCli(['get', 'exports/big.vhd', '-o', out], extraEnv);
  }

  function spawnCli(args: string[], extraEnv: Record<string, string> = {}) {
    const child = spawn(process.execPath, [bin, '--concurrency', '2', ...args], {
      env: { PATH: process.env.PATH, HOME: dir, ...env(), CF_RETRY_BASE_MS: '10', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const done = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    return { child, done, stderr: () => stderr };
  }

  it('stops on SIGINT with exit 130, keeps the partial, and the next run fetches only the rest', async () => {
    const big = generatedContent(16 * SEG, 'resume-image');
    em.uploadImage({ container: 'exports', name: 'big.vhd', content: big, segmentSize: SEG });
    em.faults.add({
      match: { method: 'GET', path: /^\/exports\/big\.vhd-000(0[5-9]|1)/ },
      times: Infinity,
      action: { throttleBytesPerSec: 256 * 1024 },
    });
    const out = join(dir, 'big.vhd');
    const first = spawnGet(out);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const state = await readFile(`${out}.part.json`, 'utf8').catch(() => '');
      if (state && JSON.parse(state).done.length >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = Date.now();
    first.child.kill('SIGINT');
    expect(await first.done).toBe(130);
    expect(Date.now() - sent).toBeLessThan(1500);
    expect(first.stderr()).toBe(
      `cfimg: interrupted by SIGINT: ${out}.part is kept; run the same command again to resume\n`,
    );
    await expect(stat(out)).rejects.toThrow();
    expect((await stat(`${out}.part`)).size).toBe(big.size);

    em.faults.clear();
    em.clearRequests();
    const second = spawnGet(out);
    expect(await second.done).toBe(0);
    expect(second.stderr()).toMatch(/resuming: \d+ of 16 segments/);
    const fetched = bytesServed((p) => p.startsWith('/exports/big.vhd-'));
    expect(fetched).toBeLessThanOrEqual(big.size - 4 * SEG);
    expect(sha256(await readFile(out))).toBe(contentSha(big));
    await expect(stat(`${out}.part.json`)).rejects.toThrow();
  });

  it('stops on SIGTERM with exit 143 and keeps the partial and its state', async () => {
    const big = generatedContent(8 * SEG, 'term-image');
    em.uploadImage({ container: 'exports', name: 'big.vhd', content: big, segmentSize: SEG });
    em.faults.add({
      match: { method: 'GET', path: '/exports/big.vhd-' },
      times: Infinity,
      action: { throttleBytesPerSec: 128 * 1024 },
    });
    const out = join(dir, 'big.vhd');
    const run = spawnGet(out);
    while (!(await stat(`${out}.part.json`).catch(() => undefined)))
      await new Promise((r) => setTimeout(r, 50));
    run.child.kill('SIGTERM');
    expect(await run.done).toBe(143);
    expect(run.stderr()).toMatch(/^cfimg: interrupted by SIGTERM: .*run the same command again/);
    await expect(stat(out)).rejects.toThrow();
    expect(JSON.parse(await readFile(`${out}.part.json`, 'utf8')).object).toBe('big.vhd');
  });

  it('stops get-segments on SIGINT with exit 130 saying what is kept; the next run fetches the rest', async () => {
    const big = generatedContent(12 * SEG, 'segments-interrupted');
    em.uploadImage({ container: 'exports', name: 'parts.vhd', content: big, segmentSize: SEG });
    em.faults.add({
      match: { method: 'GET', path: /^\/exports\/parts\.vhd-000(0[4-9]|1)/ },
      times: Infinity,
      action: { throttleBytesPerSec: 256 * 1024 },
    });
    const segs = join(dir, 'segs');
    const first = spawnCli(['get-segments', 'exports/parts.vhd', '--dir', segs]);
    const finished = async () =>
      (await readdir(segs).catch(() => [] as string[])).filter((f) => /-\d{5}$/.test(f));
    while ((await finished()).length < 3) await new Promise((r) => setTimeout(r, 50));
    first.child.kill('SIGINT');
    expect(await first.done).toBe(130);
    const kept = (await finished()).length;
    expect(first.stderr()).toBe(
      `cfimg: interrupted by SIGINT: ${kept} of 12 segments are in ${segs}, each verified; ` +
        'run the same command again to fetch the rest\n',
    );

    em.faults.clear();
    em.clearRequests();
    const second = spawnCli(['get-segments', 'exports/parts.vhd', '--dir', segs]);
    expect(await second.done).toBe(0);
    expect(second.stderr()).toMatch(new RegExp(`${12 - kept} fetched, ${kept} kept, 0 repaired`));
    expect(bytesServed((p) => p.startsWith('/exports/parts.vhd-'))).toBe((12 - kept) * SEG);
    const files = (await finished()).sort();
    const joined = Buffer.concat(await Promise.all(files.map((f) => readFile(join(segs, f)))));
    expect(sha256(joined)).toBe(contentSha(big));
  });

  it('starts over, and says so, when the object changed since the partial download', async () => {
    const out = join(dir, 'img.vhd');
    await writeFile(`${out}.part`, Buffer.alloc(image.size));
    await writeFile(
      `${out}.part.json`,
      JSON.stringify({
        version: 1,
        container: 'exports',
        object: 'img.vhd',
        etag: 'old',
        size: image.size,
        segments: [],
        done: [],
      }),
    );
    const r = await runCli(['get', 'exports/img.vhd', '-o', out], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/changed since the partial download was made: starting over/);
    expect(sha256(await readFile(out))).toBe(imageSha);
  });
});

describe('a full disk', () => {
  let mnt: string | undefined;

  async function mountTmpfs(size: string): Promise<string | undefined> {
    const point = join(dir, 'small');
    await mkdir(point);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', point], {
        stdio: 'ignore',
      });
      mnt = point;
      return point;
    } catch {
      console.warn('skipping a full-disk test: mounting a tmpfs needs root');
      return undefined;
    }
  }

  afterEach(() => {
    if (mnt) execFileSync('umount', [mnt]);
    mnt = undefined;
  });

  it('refuses up front, exit 1 and one line, when the image cannot fit', async () => {
    const small = await mountTmpfs('1m');
    if (!small) return;
    const r = await runCli(['get', 'exports/img.vhd', '-o', join(small, 'img.vhd')], {
      env: env(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not enough space in .*: need \d+ bytes, \d+ free/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readdir(small)).toEqual([]);
  });

  it('exits 1 with one line when the disk fills up during the download, nothing under the final name', async () => {
    const small = await mountTmpfs('5m');
    if (!small) return;
    // Each image fits alone; two at once do not, so writes run into ENOSPC mid-transfer.
    const [a, b] = await Promise.all(
      ['a.vhd', 'b.vhd'].map((name) =>
        runCli(['get', 'exports/img.vhd', '-o', join(small, name)], { env: env() }),
      ),
    );
    const failed = [a, b].filter((r) => r?.code !== 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) {
      expect(r?.code).toBe(1);
      expect(r?.stderr).toMatch(
        /the disk is full: free some space and run the command again to resume/,
      );
      expect(r?.stderr.trim().split('\n')).toHaveLength(1);
    }
    for (const [name, r] of [
      ['a.vhd', a],
      ['b.vhd', b],
    ] as const) {
      if (r?.code === 0) expect(sha256(await readFile(join(small, name)))).toBe(imageSha);
      else await expect(stat(join(small, name))).rejects.toThrow();
    }
  });
});
