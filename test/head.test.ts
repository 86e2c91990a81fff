import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bufferContent, type Content, generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { runCli } from './support/cli.js';
import { parseHead } from './support/head-output.js';

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const REGIONS = 'DFW, ORD, IAD, LON, SYD, HKG';

let em: Emulator;
let tmp: string;
/** The image: three 1000-byte segments and a 17-byte last one. */
const image = generatedContent(3 * 1000 + 17, 'head-image');
const pieces = [0, 1, 2, 3].map((i) => image.read(i * 1000, Math.min(image.size, (i + 1) * 1000)));
const sloParts = [100_000, 70_000, 3].map((n, i) => generatedContent(n, `head-slo-${i}`));
const plain = generatedContent(300_000, 'head-plain');

function bytesOf(content: Content): Buffer {
  return content.read(0, content.size);
}

/** Storage URL and token given directly: no Identity involved. */
function direct(): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

/** Credentials for the emulator's Identity, with the token cache in this test's directory. */
function signIn(extra: Record<string, string> = {}): Record<string, string> {
  return {
    CF_AUTH_URL: em.authUrl,
    CF_USERNAME: 'demo',
    CF_API_KEY: 'demo-key',
    XDG_CACHE_HOME: tmp,
    ...extra,
  };
}

function tokenPosts(server: Emulator = em): number {
  return server.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/tokens')).length;
}

beforeAll(async () => {
  em = await startEmulator();
  em.uploadImage({ container: 'exports', name: 'img.vhd', content: image, segmentSize: 1000 });
  for (const [i, p] of sloParts.entries()) em.putObject('slo-segs', `part-${i}`, p);
  em.putSlo(
    'images',
    'slo.vhd',
    sloParts.map((_, i) => ({ container: 'slo-segs', name: `part-${i}` })),
  );
  em.putObject('images', 'plain.bin', plain, { contentType: 'application/x-test' });

  const one = (seed: string, size = 1000) => generatedContent(size, seed);
  for (const n of [1, 2, 4]) em.putObject('health', `gap.vhd-0000${n}`, one(`gap${n}`));
  em.putDlo('health', 'gap.vhd', 'health/gap.vhd-');
  for (const [n, size] of [1000, 700, 1000].entries())
    em.putObject('health', `odd.vhd-0000${n + 1}`, one(`odd${n}`, size));
  em.putDlo('health', 'odd.vhd', 'health/odd.vhd-');
  em.putDlo('health', 'empty.vhd', 'health/nothing-');
  em.putDlo('health', 'orphan.vhd', 'gone%20segs/orphan.vhd-');
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cfimg-head-'));
  em.faults.clear();
  em.clearRequests();
  return () => rm(tmp, { recursive: true, force: true });
});

describe('cfimg head', () => {
  it('prints the headers aligned, then the size, ETag and segments of a DLO', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: direct() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { headers, aligned, summary } = parseHead(r.stdout);
    expect(aligned).toBe(true);
    const etag = md5(Buffer.from(pieces.map((p) => md5(p)).join('')));
    expect(headers).toMatchObject({
      'Content-Length': '3017',
      Etag: `"${etag}"`,
      'X-Object-Manifest': 'exports/img.vhd-',
      'X-Trans-Id': expect.stringMatching(/^tx/),
    });
    expect(summary).toEqual([
      'size: 3017 bytes (2.9 KiB)',
      `etag: ${etag}`,
      'kind: dynamic large object, segments exports/img.vhd-*',
      'segments: 4',
    ]);
  });

  it('calls an SLO a static large object, with the composite ETag of its segments', async () => {
    const r = await runCli(['head', 'images/slo.vhd'], { env: direct() });
    expect(r.code).toBe(0);
    const etag = md5(Buffer.from(sloParts.map((p) => md5(bytesOf(p))).join('')));
    const { headers, summary } = parseHead(r.stdout);
    expect(headers['X-Static-Large-Object']).toBe('True');
    expect(summary).toEqual([
      'size: 170003 bytes (166.0 KiB)',
      `etag: ${etag}`,
      'kind: static large object',
    ]);
  });

  it('calls a plain object an object, with its MD5 as the ETag', async () => {
    const r = await runCli(['head', 'images/plain.bin'], { env: direct() });
    expect(r.code).toBe(0);
    const { headers, summary } = parseHead(r.stdout);
    expect(headers['Content-Type']).toBe('application/x-test');
    expect(summary).toEqual([
      'size: 300000 bytes (293.0 KiB)',
      `etag: ${md5(bytesOf(plain))}`,
      'kind: object',
    ]);
  });

  it('prints the raw headers and the derived fields as one JSON document with --json', async () => {
    const r = await runCli(['--json', 'head', 'exports/img.vhd'], { env: direct() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout.toString());
    const etag = md5(Buffer.from(pieces.map((p) => md5(p)).join('')));
    expect(doc).toEqual({
      container: 'exports',
      object: 'img.vhd',
      kind: 'dlo',
      size: 3017,
      etag,
      manifest: { container: 'exports', prefix: 'img.vhd-' },
      segments: 4,
      warnings: [],
      headers: expect.objectContaining({
        'content-length': '3017',
        etag: `"${etag}"`,
        'x-object-manifest': 'exports/img.vhd-',
      }),
    });
    expect(r.stderr).toBe('');
  });

  const oddNames = ['with space.vhd', 'hash#and?query%.vhd', '100%25 literal.vhd', 'dïr/ünï ✓.vhd'];
  it.each(oddNames)('finds the object named %j', async (name) => {
    const data = Buffer.from(`payload of ${name}`);
    em.putObject('odd names ü', name, bufferContent(data));
    const r = await runCli(['--json', 'head', `odd names ü/${name}`], { env: direct() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      container: 'odd names ü',
      object: name,
      kind: 'object',
      size: data.length,
      etag: md5(data),
    });
    expect(em.requests[0]).toMatchObject({ method: 'HEAD', path: `/odd names ü/${name}` });
  });

  it('exits 5 naming the object, or the container when that is what is missing', async () => {
    const object = await runCli(['head', 'exports/nope.vhd'], { env: direct() });
    expect(object.code).toBe(5);
    expect(object.stderr).toBe("cfimg: object 'nope.vhd' not found in container 'exports'\n");
    const container = await runCli(['head', 'nosuch/nope.vhd'], { env: direct() });
    expect(container.code).toBe(5);
    expect(container.stderr).toBe("cfimg: container 'nosuch' not found\n");
    expect(container.stdout.length).toBe(0);
  });
});

describe('cfimg head: signing in', () => {
  it('signs in with an API key and uses the default region', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(0);
    expect(tokenPosts()).toBe(1);
    expect(em.requests.find((q) => q.method === 'HEAD')).toMatchObject({
      region: 'DFW',
      internal: false,
    });
  });

  it('exits 4 with one line naming the user and the API key when the key is wrong', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], { env: signIn({ CF_API_KEY: 'wrong' }) });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      "cfimg: Identity refused user 'demo': " +
        'check the username and API key (--api-key, CF_API_KEY)\n',
    );
    expect(r.stderr).not.toContain('wrong');
    expect(r.stdout.length).toBe(0);
  });

  it('signs in with a password, and names the password when it is wrong', async () => {
    const creds = { CF_API_KEY: '', CF_PASSWORD: 'demo-pass' };
    const ok = await runCli(['head', 'exports/img.vhd'], { env: signIn(creds) });
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toMatch(/^kind: dynamic large object/m);
    const bad = await runCli(['head', 'exports/img.vhd'], {
      env: signIn({ ...creds, CF_PASSWORD: 'nope', XDG_CACHE_HOME: join(tmp, 'other') }),
    });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/^cfimg: Identity refused user 'demo': .*password.*\n$/);
  });

  it('exits 2 naming the regions on offer when the region is unknown', async () => {
    const r = await runCli(['--region', 'XYZ', 'head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cfimg: region 'XYZ' has no Cloud Files endpoint: ` +
        `use --region (CF_REGION) with one of ${REGIONS}\n`,
    );
  });

  it('matches the region case-insensitively', async () => {
    const r = await runCli(['--region', 'lon', 'head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(0);
    expect(em.requests.find((q) => q.method === 'HEAD')?.region).toBe('LON');
  });

  it('uses the ServiceNet internalURL with --snet', async () => {
    const r = await runCli(['--snet', 'head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(0);
    const storage = em.requests.filter((q) => q.region !== undefined);
    expect(storage.length).toBeGreaterThan(0);
    expect(storage.every((q) => q.internal === true && q.fullPath.startsWith('/snet/'))).toBe(true);
  });

  it('signs in again once when storage answers 401, then succeeds', async () => {
    em.faults.add({ match: { method: 'HEAD', path: '/exports/img.vhd' }, action: { status: 401 } });
    const r = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^size: 3017 bytes/m);
    expect(tokenPosts()).toBe(2);
    const heads = em.requests.filter((q) => q.method === 'HEAD' && q.path === '/exports/img.vhd');
    expect(heads.map((q) => q.status)).toEqual([401, 200]);
    expect(heads[0]?.requestHeaders['x-auth-token']).not.toBe(
      heads[1]?.requestHeaders['x-auth-token'],
    );
  });

  it('exits 4 with one line after a second 401, without signing in a third time', async () => {
    em.faults.add({
      match: { method: 'HEAD', path: '/exports/img.vhd' },
      times: Infinity,
      action: { status: 401 },
    });
    const r = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      'cfimg: storage refused a fresh token (401 twice): check the account has access\n',
    );
    expect(tokenPosts()).toBe(2);
  });

  it('exits 4 telling to get a new token when a given --auth-token is refused', async () => {
    const r = await runCli(['head', 'exports/img.vhd'], {
      env: { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: 'expired-token' },
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(
      /^cfimg: storage refused the token \(401\): get a new one for --auth-token/,
    );
    expect(r.stderr).not.toContain('expired-token');
  });

  it('skips Identity with --storage-url and --auth-token', async () => {
    const r = await runCli(
      [
        '--storage-url',
        em.storageUrl('ORD'),
        '--auth-token',
        em.token(),
        'head',
        'exports/img.vhd',
      ],
      { env: { XDG_CACHE_HOME: tmp } },
    );
    expect(r.code).toBe(0);
    expect(tokenPosts()).toBe(0);
    expect(em.requests.find((q) => q.method === 'HEAD')?.region).toBe('ORD');
    await expect(stat(join(tmp, 'cfimg'))).rejects.toThrow();
  });

  it('exits 2 naming the variables to set when there are no credentials', async () => {
    const none = await runCli(['head', 'exports/img.vhd'], { env: { XDG_CACHE_HOME: tmp } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^cfimg: no credentials: set CF_USERNAME and CF_API_KEY/);
    expect(none.stderr).toContain('CF_STORAGE_URL and CF_AUTH_TOKEN');
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const noKey = await runCli(['head', 'exports/img.vhd'], {
      env: { CF_USERNAME: 'demo', CF_AUTH_URL: em.authUrl },
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/CF_API_KEY \(or CF_PASSWORD\)/);
    const tokenOnly = await runCli(['head', 'exports/img.vhd'], {
      env: { CF_AUTH_TOKEN: em.token() },
    });
    expect(tokenOnly.code).toBe(2);
    expect(tokenOnly.stderr).toMatch(/--auth-token needs --storage-url \(CF_STORAGE_URL\) too/);
    expect(em.requests).toEqual([]);
  });
});

describe('cfimg head: the token cache', () => {
  const cacheFile = () => join(tmp, 'cfimg', 'tokens.json');

  it('reuses the token on the next run: no second sign-in', async () => {
    expect((await runCli(['head', 'exports/img.vhd'], { env: signIn() })).code).toBe(0);
    expect(tokenPosts()).toBe(1);
    em.clearRequests();
    const again = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(again.code).toBe(0);
    expect(tokenPosts()).toBe(0);
    expect(em.requests.filter((q) => q.method === 'HEAD').map((q) => q.status)).toEqual([200]);
  });

  it('keeps the file at mode 0600 in a 0700 directory, with the token and no secret', async () => {
    await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    await runCli(['head', 'exports/img.vhd'], {
      env: signIn({ CF_API_KEY: '', CF_PASSWORD: 'demo-pass' }),
    });
    expect((await stat(cacheFile())).mode & 0o777).toBe(0o600);
    expect((await stat(join(tmp, 'cfimg'))).mode & 0o777).toBe(0o700);
    const text = await readFile(cacheFile(), 'utf8');
    const tokens = em.requests
      .filter((q) => q.method === 'HEAD')
      .map((q) => q.requestHeaders['x-auth-token']);
    for (const token of tokens) expect(text).toContain(token);
    expect(text).not.toContain('demo-key');
    expect(text).not.toContain('demo-pass');
    expect(text).not.toContain(Buffer.from('demo-key').toString('base64'));
  });

  it('is not reused for another secret, region or auth URL', async () => {
    expect((await runCli(['head', 'exports/img.vhd'], { env: signIn() })).code).toBe(0);
    em.clearRequests();

    const wrongKey = await runCli(['head', 'exports/img.vhd'], {
      env: signIn({ CF_API_KEY: 'wrong' }),
    });
    expect(wrongKey.code).toBe(4);
    const password = await runCli(['head', 'exports/img.vhd'], {
      env: signIn({ CF_API_KEY: '', CF_PASSWORD: 'demo-pass' }),
    });
    expect(password.code).toBe(0);
    const region = await runCli(['head', 'exports/img.vhd'], { env: signIn({ CF_REGION: 'SYD' }) });
    expect(region.code).toBe(0);
    expect(tokenPosts()).toBe(3);
    expect(em.requests.filter((q) => q.method === 'HEAD').map((q) => q.region)).toEqual([
      'DFW',
      'SYD',
    ]);

    const other = await startEmulator();
    try {
      other.uploadImage({
        container: 'exports',
        name: 'img.vhd',
        content: image,
        segmentSize: 500,
      });
      const r = await runCli(['--json', 'head', 'exports/img.vhd'], {
        env: signIn({ CF_AUTH_URL: other.authUrl }),
      });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout.toString()).segments).toBe(7);
      expect(tokenPosts(other)).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('is not reused for a password that equals the cached API key', async () => {
    const twin = await startEmulator({
      users: [{ username: 'twin', apiKey: 'same', password: 'other' }],
    });
    try {
      twin.putObject('c', 'o', 'x');
      const env = { CF_AUTH_URL: twin.authUrl, CF_USERNAME: 'twin', XDG_CACHE_HOME: tmp };
      const key = await runCli(['head', 'c/o'], { env: { ...env, CF_API_KEY: 'same' } });
      expect(key.code).toBe(0);
      const password = await runCli(['head', 'c/o'], { env: { ...env, CF_PASSWORD: 'same' } });
      expect(password.code).toBe(4);
      expect(password.stderr).toMatch(/^cfimg: Identity refused user 'twin': .*password/);
      expect(tokenPosts(twin)).toBe(2);
    } finally {
      await twin.close();
    }
  });

  it('drops a token the server refused and caches the new one', async () => {
    await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    em.expireTokens();
    em.clearRequests();
    const renewed = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(renewed.code).toBe(0);
    expect(tokenPosts()).toBe(1);
    em.clearRequests();
    const third = await runCli(['head', 'exports/img.vhd'], { env: signIn() });
    expect(third.code).toBe(0);
    expect(tokenPosts()).toBe(0);
  });

  it('is neither read nor written with --no-token-cache', async () => {
    await runCli(['--no-token-cache', 'head', 'exports/img.vhd'], { env: signIn() });
    await runCli(['--no-token-cache', 'head', 'exports/img.vhd'], { env: signIn() });
    expect(tokenPosts()).toBe(2);
    await expect(stat(cacheFile())).rejects.toThrow();
  });
});

describe('remote health warnings', () => {
  it('head warns about a gap in the segment numbering', async () => {
    const r = await runCli(['head', 'health/gap.vhd'], { env: direct() });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'cfimg: warning: segment numbering jumps from 00002 to 00004: ' +
        'segments may have been deleted\n',
    );
    expect(r.stdout.toString()).toMatch(/^segments: 3$/m);
  });

  it('head warns about a segment other than the last with a different size', async () => {
    const r = await runCli(['--json', 'head', 'health/odd.vhd'], { env: direct() });
    expect(r.code).toBe(0);
    const warning =
      'segment odd.vhd-00002 has 700 bytes, the first has 1000: only the last may differ';
    expect(JSON.parse(r.stdout.toString()).warnings).toEqual([warning]);
    expect(r.stderr).toBe(`cfimg: warning: ${warning}\n`);
  });

  it('head warns when the manifest prefix matches nothing', async () => {
    const r = await runCli(['head', 'health/empty.vhd'], { env: direct() });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "cfimg: warning: the manifest prefix 'nothing-' matches no segment: " +
        'the image is empty or its segments were deleted\n',
    );
    expect(r.stdout.toString()).toMatch(
      /^size: 0 bytes .*\netag: .*\nkind: dynamic large object, segments health\/nothing-\*\n/m,
    );
    expect(r.stdout.toString()).toMatch(/^segments: 0$/m);
  });

  it('exits 3 naming a segment container that is gone (Swift answers 404 to the DLO)', async () => {
    const runs = [
      ['head', 'health/orphan.vhd'],
      ['get', 'health/orphan.vhd', '-o', join(tmp, 'x')],
    ];
    for (const args of runs) {
      const r = await runCli(args, { env: direct() });
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(
        "cfimg: health/orphan.vhd is a DLO manifest whose segment container 'gone segs' " +
          "does not exist: the image's segments are gone\n",
      );
    }
  });

  it('verify passes a whole copy of an image with a gap but warns, online and offline', async () => {
    const dir = join(tmp, 'gap');
    const got = await runCli(['get-segments', 'health/gap.vhd', '--dir', dir], { env: direct() });
    expect(got.code).toBe(0);
    expect(got.stderr).toMatch(/warning: segment numbering jumps from 00002 to 00004/);
    for (const args of [['verify'], ['verify', '--offline']]) {
      const r = await runCli([...args, 'health/gap.vhd', dir], { env: direct() });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning: segment numbering jumps from 00002 to 00004/);
      expect(r.stderr).toMatch(/all 3 segments match/);
    }
  });

  it('verify warns about an odd-sized segment in the middle', async () => {
    const dir = join(tmp, 'odd');
    expect(
      (await runCli(['get-segments', 'health/odd.vhd', '--dir', dir], { env: direct() })).code,
    ).toBe(0);
    const r = await runCli(['verify', 'health/odd.vhd', dir], { env: direct() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: segment odd\.vhd-00002 has 700 bytes, the first has 1000/);
  });
});
