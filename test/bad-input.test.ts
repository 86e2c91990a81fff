/**
 * The bad-input matrix: malformed, conflicting, empty and huge arguments, names that are not
 * UTF-8, a directory where a file is expected and the reverse, unwritable or full disks, missing
 * segment directories, and garbage in cfimg's own state and manifest files. Each row gets its
 * documented exit code and exactly one line on stderr naming the problem and the fix, with no
 * stack trace, and leaves every file that was there before byte for byte as it was.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Content, generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { runCli, sha256 } from './support/cli.js';

const SEG = 64 * 1024;
const REF = 'exports/img.vhd';
let em: Emulator;
let image: Content;
let imageSha: string;
/** A verified segment directory from get-segments, copied into rows that need one. */
let segments: Map<string, Buffer>;

type Env = 'direct' | 'none' | 'identity';

interface Row {
  name: string;
  args: string[];
  code: number;
  /** The one stderr line; it must name the problem and what to do. */
  line: RegExp;
  env?: Env;
  /** Files to create first: text, bytes, or `{dir}`; `segs/*` gets the verified segments. */
  files?: Record<string, string | Buffer | { dir: true }>;
  segs?: boolean;
  /** A tmpfs mounted at `mnt` first. */
  mount?: 'ro' | 'full';
}

function envOf(kind: Env = 'direct'): Record<string, string> {
  const base = { XDG_CACHE_HOME: join(tmpdir(), 'cfimg-bad-input-cache') };
  if (kind === 'none') return base;
  if (kind === 'identity')
    return { ...base, CF_AUTH_URL: em.authUrl, CF_USERNAME: 'demo', CF_API_KEY: 'demo-key' };
  return { ...base, CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

/** sha256 of every file below `dir`, by relative path. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path.slice(dir.length + 1)] = sha256(await readFile(path));
  }
  return out;
}

const mounted: string[] = [];

function mountTmpfs(point: string, kind: 'ro' | 'full'): boolean {
  const opts = kind === 'ro' ? 'ro,size=64m' : 'size=64k';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', point], { stdio: 'ignore' });
    mounted.push(point);
    return true;
  } catch {
    console.warn('skipping a row that needs a tmpfs mount: mounting needs root');
    return false;
  }
}

async function prepare(row: Row): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'cfimg-bad-'));
  if (row.mount) {
    await mkdir(join(dir, 'mnt'));
    if (!mountTmpfs(join(dir, 'mnt'), row.mount)) return undefined;
  }
  if (row.segs) {
    await mkdir(join(dir, 'segs'));
    for (const [name, data] of segments) await writeFile(join(dir, 'segs', name), data);
  }
  for (const [path, content] of Object.entries(row.files ?? {})) {
    if (typeof content === 'object' && 'dir' in content) await mkdir(join(dir, path));
    else await writeFile(join(dir, path), content);
  }
  return dir;
}

beforeAll(async () => {
  em = await startEmulator();
  image = generatedContent(5 * SEG + 777, 'bad-input-image');
  imageSha = sha256(image.read(0, image.size));
  em.uploadImage({ container: 'exports', name: 'img.vhd', content: image, segmentSize: SEG });
  const dir = await mkdtemp(join(tmpdir(), 'cfimg-bad-segs-'));
  const r = await runCli(['get-segments', REF, '--dir', 'segs'], { env: envOf(), cwd: dir });
  expect(r.code).toBe(0);
  segments = new Map();
  for (const name of await readdir(join(dir, 'segs')))
    segments.set(name, await readFile(join(dir, 'segs', name)));
});

afterAll(async () => {
  for (const point of mounted) execFileSync('umount', [point]);
  await em.close();
});

const MANIFEST = 'segs/.cfimg-manifest.json';
const notUtf8 = 'exports/img\ufffd.vhd'; // what Node makes of the byte 0xff in argv
const lone = 'exports/img\udcff.vhd'; // a lone surrogate (Python's surrogateescape of 0xff)

const rows: Row[] = [
  // malformed arguments and unknown options
  {
    name: 'an unknown option',
    args: ['--bogus', 'head', REF],
    code: 2,
    line: /unknown option '--bogus' \(see cfimg --help\)/,
  },
  {
    name: 'an unknown command',
    args: ['fetch', REF],
    code: 2,
    line: /unknown command 'fetch'.*--help/,
  },
  {
    name: 'a missing argument',
    args: ['get'],
    code: 2,
    line: /missing required argument 'container\/object' \(see cfimg --help\)/,
  },
  {
    name: 'an extra argument',
    args: ['head', REF, 'more'],
    code: 2,
    line: /too many arguments for 'head'.*\(see cfimg --help\)/,
  },
  {
    name: 'a reference without a slash',
    args: ['get', 'images'],
    code: 2,
    line: /'images' is not CONTAINER\/OBJECT: give the container, a slash, then the object name/,
  },
  {
    name: 'an empty object name',
    args: ['get', 'exports/'],
    code: 2,
    line: /is not CONTAINER\/OBJECT/,
  },
  {
    name: 'an empty container name',
    args: ['head', '/img.vhd'],
    code: 2,
    line: /is not CONTAINER\/OBJECT/,
  },
  {
    name: 'a container name for list with a slash',
    args: ['list', 'a/b'],
    code: 2,
    line: /'a\/b' is not a container name: give it without slashes/,
  },
  {
    name: 'an auth URL that is not a URL',
    args: ['--auth-url', 'identity', 'head', REF],
    code: 2,
    line: /--auth-url 'identity' is not a URL: give it as https:\/\/host\/path/,
  },
  {
    name: 'an auth URL of another scheme',
    args: ['--auth-url', 'ftp://x/v2.0', 'head', REF],
    code: 2,
    line: /--auth-url must be an http or https URL, not ftp:/,
  },
  // conflicting options
  {
    name: '--api-key with --password',
    args: ['--api-key', 'k1234', '--password', 'p1234', 'head', REF],
    code: 2,
    line: /give --api-key or --password, not both/,
  },
  {
    name: '--quiet with --verbose',
    args: ['-q', '-v', 'head', REF],
    code: 2,
    line: /give --quiet or --verbose, not both/,
  },
  {
    name: 'reassemble to stdout',
    args: ['reassemble', 'segs', '-o', '-'],
    segs: true,
    code: 2,
    line: /reassemble writes a file: give -o FILE \(to stream an image, cfimg get -o -\)/,
  },
  {
    name: 'a token without a storage URL',
    args: ['--auth-token', 'tok1', 'head', REF],
    env: 'none',
    code: 2,
    line: /--auth-token needs --storage-url \(CF_STORAGE_URL\) too/,
  },
  {
    name: 'no credentials at all',
    args: ['head', REF],
    env: 'none',
    code: 2,
    line: /no credentials: set CF_USERNAME and CF_API_KEY/,
  },
  // empty and out-of-range values
  {
    name: '--concurrency 0',
    args: ['--concurrency', '0', 'get', REF],
    code: 2,
    line: /--concurrency must be a whole number from 1 to 64, not '0'/,
  },
  {
    name: '--concurrency 1e9',
    args: ['--concurrency', '1e9', 'get', REF],
    code: 2,
    line: /--concurrency must be a whole number from 1 to 64, not '1e9'/,
  },
  {
    name: '--concurrency 65',
    args: ['--concurrency', '65', 'get', REF],
    code: 2,
    line: /--concurrency must be a whole number from 1 to 64, not '65'/,
  },
  {
    name: 'an empty --concurrency',
    args: ['--concurrency', '', 'get', REF, '-o', '-'],
    code: 2,
    line: /--concurrency is empty: give a value, or leave the option out/,
  },
  {
    name: 'an empty --api-key',
    args: ['--api-key', '', 'head', REF],
    env: 'identity',
    code: 2,
    line: /--api-key is empty: give a value, or leave the option out/,
  },
  {
    name: '--retries -1',
    args: ['--retries', '-1', 'get', REF],
    code: 2,
    line: /--retries must be a whole number from 0 to 100, not '-1'/,
  },
  {
    name: '--retries 1.5',
    args: ['--retries', '1.5', 'get', REF],
    code: 2,
    line: /--retries must be a whole number from 0 to 100, not '1\.5'/,
  },
  {
    name: '--timeout 0',
    args: ['--timeout', '0', 'get', REF],
    code: 2,
    line: /--timeout must be a whole number from 1 to 3600, not '0'/,
  },
  {
    name: 'a huge --timeout',
    args: ['--timeout', '99999999999999999999', 'get', REF],
    code: 2,
    line: /--timeout must be a whole number from 1 to 3600/,
  },
  {
    name: 'list --limit 0',
    args: ['list', 'exports', '--limit', '0'],
    code: 2,
    line: /--limit must be a whole number from 1 to/,
  },
  {
    name: 'an empty --dir',
    args: ['get-segments', REF, '--dir', ''],
    code: 2,
    line: /--dir is empty: give a value, or leave the option out/,
  },
  {
    name: 'an empty -o',
    args: ['get', REF, '-o', ''],
    code: 2,
    line: /--output is empty: give a value, or leave the option out/,
  },
  // names that are not UTF-8
  {
    name: 'an object name with a byte that is not UTF-8',
    args: ['get', notUtf8],
    code: 2,
    line: /the object name holds a NUL or a byte that is not UTF-8: check it/,
  },
  {
    name: 'an object name with a lone surrogate',
    args: ['get', lone],
    code: 2,
    line: /the object name holds a NUL or a byte that is not UTF-8: check it/,
  },
  {
    name: 'a container name with a byte that is not UTF-8',
    args: ['list', 'ex\ufffd'],
    code: 2,
    line: /the container name holds a NUL or a byte that is not UTF-8: check it/,
  },
  // a directory where a file is expected, and the reverse
  {
    name: 'get -o to a directory',
    args: ['get', REF, '-o', 'out'],
    files: { out: { dir: true } },
    code: 2,
    line: /out is a directory: give a file name with -o/,
  },
  {
    name: 'reassemble -o to a directory',
    args: ['reassemble', 'segs', '-o', 'out'],
    segs: true,
    files: { out: { dir: true } },
    code: 2,
    line: /out is a directory: give a file name with -o/,
  },
  {
    name: 'get-segments --dir on a file',
    args: ['get-segments', REF, '--dir', 'f'],
    files: { f: 'precious' },
    code: 2,
    line: /f exists and is not a directory: give a directory with --dir/,
  },
  {
    name: 'reassemble of a file',
    args: ['reassemble', 'f', '-o', 'out'],
    files: { f: 'precious' },
    code: 2,
    line: /f is not a directory: give the directory of the segments/,
  },
  {
    name: 'reassemble of a directory without segments',
    args: ['reassemble', 'empty', '-o', 'out'],
    files: { empty: { dir: true } },
    code: 2,
    line: /empty holds no segments: give the directory cfimg get-segments wrote them to/,
  },
  {
    name: 'get over an existing file',
    args: ['get', REF, '-o', 'f'],
    files: { f: 'precious' },
    code: 2,
    line: /f already exists: remove it, choose another name with -o, or pass --force/,
  },
  // missing directories
  {
    name: 'a missing segment directory',
    args: ['reassemble', 'nodir', '-o', 'out'],
    code: 2,
    line: /nodir does not exist: give the directory of the segments/,
  },
  {
    name: 'a missing directory for verify --offline',
    args: ['verify', '--offline', REF, 'nodir'],
    code: 2,
    line: /nodir does not exist: give the directory get-segments wrote/,
  },
  {
    name: 'a missing parent of the output',
    args: ['get', REF, '-o', 'no/such/x.vhd'],
    code: 1,
    line: /no such file or directory: create the directory first or fix the path/,
  },
  // unwritable and full disks
  {
    name: 'an output on a read-only file system',
    args: ['get', REF, '-o', 'mnt/x.vhd'],
    mount: 'ro',
    code: 1,
    line: /the file system is read-only: choose another place/,
  },
  {
    name: 'segments on a read-only file system',
    args: ['get-segments', REF, '--dir', 'mnt/segs'],
    mount: 'ro',
    code: 1,
    line: /the file system is read-only: choose another place/,
  },
  {
    name: 'get onto a full disk',
    args: ['get', REF, '-o', 'mnt/x.vhd'],
    mount: 'full',
    code: 1,
    line: /not enough space in .*: need \d+ bytes, \d+ free; free some space or choose another place/,
  },
  {
    name: 'get-segments onto a full disk',
    args: ['get-segments', REF, '--dir', 'mnt/segs'],
    mount: 'full',
    code: 1,
    line: /the disk is full: free some space and run the command again to resume/,
  },
  {
    name: 'reassemble onto a full disk',
    args: ['reassemble', 'segs', '-o', 'mnt/x.vhd'],
    segs: true,
    mount: 'full',
    code: 1,
    line: /not enough space in .*free some space, or pass --remove-segments/,
  },
  // garbage in the segments manifest
  {
    name: 'a manifest that is not JSON',
    args: ['reassemble', 'segs', '-o', 'out'],
    segs: true,
    files: { [MANIFEST]: '{"version":1,' },
    code: 2,
    line: /\.cfimg-manifest\.json is damaged \(not JSON\): run cfimg get-segments again to rewrite it/,
  },
  {
    name: 'a manifest of another shape',
    args: ['reassemble', 'segs', '-o', 'out'],
    segs: true,
    files: { [MANIFEST]: '[1,2,3]' },
    code: 2,
    line: /is damaged \(not a cfimg segment manifest of version 1\): run cfimg get-segments again/,
  },
  {
    name: 'a manifest with an absurd size',
    args: ['verify', '--offline', REF, 'segs'],
    segs: true,
    files: {
      [MANIFEST]: JSON.stringify({
        version: 1,
        container: 'exports',
        object: 'img.vhd',
        kind: 'dlo',
        etag: null,
        size: 1,
        segments: [{ container: 'exports', name: 'x', file: 'x', bytes: 1e300, md5: null }],
      }),
    },
    code: 2,
    line: /is damaged \(segment 1: no size\): run cfimg get-segments again/,
  },
  {
    name: 'a manifest pointing outside its directory',
    args: ['reassemble', 'segs', '-o', 'out'],
    segs: true,
    files: {
      [MANIFEST]: JSON.stringify({
        version: 1,
        container: 'exports',
        object: 'img.vhd',
        kind: 'dlo',
        etag: null,
        size: 1,
        segments: [{ container: 'exports', name: 'x', file: '..', bytes: 1, md5: null }],
      }),
    },
    code: 2,
    line: /is damaged \(segment 1: the file name "\.\." would be outside the directory\)/,
  },
  {
    name: 'a manifest of binary garbage',
    args: ['verify', '--offline', REF, 'segs'],
    segs: true,
    files: { [MANIFEST]: Buffer.from([0xff, 0xfe, 0, 1, 2, 0x80]) },
    code: 2,
    line: /is damaged \(not JSON\): run cfimg get-segments again to rewrite it/,
  },
];

describe('bad input', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const dir = await prepare(row);
    if (!dir) return;
    const before = await snapshot(dir);
    const r = await runCli(row.args, { env: envOf(row.env), cwd: dir });
    const lines = r.stderr.trimEnd().split('\n');
    expect({ code: r.code, lines }).toEqual({
      code: row.code,
      lines: [expect.stringMatching(row.line)],
    });
    expect(lines[0]).toMatch(/^cfimg: /);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout.length).toBe(0);
    const after = await snapshot(dir);
    for (const [path, hash] of Object.entries(before)) expect(after[path], path).toBe(hash);
    for (const final of ['out', 'x.vhd', 'mnt/x.vhd', 'img.vhd', 'img\ufffd.vhd'])
      if (!(final in before)) expect(after[final], final).toBeUndefined();
  });
});

describe('sane combinations that are not errors', () => {
  it.each([
    ['-o - with --force (nothing to overwrite)', ['get', REF, '-o', '-', '--force']],
    ['-o - with --no-resume', ['get', REF, '-o', '-', '--no-resume']],
    ['--quiet with --json', ['--quiet', '--json', 'get', REF, '-o', '-']],
  ])('%s streams the image', async (_name, args) => {
    const r = await runCli(args, { env: envOf() });
    expect(r.code).toBe(0);
    expect(r.stdoutSha256).toBe(imageSha);
  });
});

describe('garbage in cfimg state files', () => {
  it.each([
    ['not JSON', '{"version":1,"done":[0'],
    ['binary', Buffer.from([0, 0xff, 0x13, 0x37])],
    ['of another shape', JSON.stringify({ version: 1, done: 'all' })],
    [
      'with segments out of range',
      JSON.stringify({
        version: 1,
        container: 'exports',
        object: 'img.vhd',
        etag: null,
        size: 1,
        segments: [],
        done: [7],
      }),
    ],
  ])(
    'a FILE.part record %s is not trusted: the download starts over, says so, and is whole',
    async (_n, garbage) => {
      const dir = await mkdtemp(join(tmpdir(), 'cfimg-bad-state-'));
      await writeFile(join(dir, 'img.vhd.part'), Buffer.alloc(image.size, 0x55));
      await writeFile(join(dir, 'img.vhd.part.json'), garbage);
      const r = await runCli(['get', REF, '-o', 'img.vhd'], { env: envOf(), cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /^cfimg: warning: the record of the partial download .* cannot be used \(.*\): starting over$/m,
      );
      expect(sha256(await readFile(join(dir, 'img.vhd')))).toBe(imageSha);
      expect((await readdir(dir)).sort()).toEqual(['img.vhd']);
    },
  );

  it('a damaged manifest in a directory get-segments repairs is replaced, with a warning', async () => {
    const dir = await prepare({
      name: '',
      args: [],
      code: 0,
      line: /./,
      segs: true,
      files: { [MANIFEST]: 'garbage' },
    });
    const r = await runCli(['get-segments', REF, '--dir', 'segs'], {
      env: envOf(),
      cwd: dir as string,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^cfimg: warning: .*\.cfimg-manifest\.json is damaged \(not JSON\): replacing it$/m,
    );
    const v = await runCli(['verify', '--offline', REF, 'segs'], { cwd: dir as string });
    expect(v.code).toBe(0);
  });

  it('a garbage reassemble record is not trusted: the join starts over and is whole', async () => {
    const dir = (await prepare({ name: '', args: [], code: 0, line: /./, segs: true })) as string;
    await writeFile(join(dir, 'out.part'), Buffer.alloc(SEG, 0x55));
    await writeFile(join(dir, 'out.part.join.json'), '{"version":1,"done":999,"bytes":-4');
    const r = await runCli(['reassemble', 'segs', '-o', 'out'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(sha256(await readFile(join(dir, 'out')))).toBe(imageSha);
    await expect(stat(join(dir, 'out.part.join.json'))).rejects.toThrow();
  });
});

describe('a reader that goes away (the real binary)', () => {
  it.each([
    [['list', 'exports']],
    [['list', '--full', 'exports']],
    [['head', REF]],
    [['--json', 'head', REF]],
    [['get', REF, '-o', '-']],
  ])('%j exits 1 with one line, no crash, when stdout is closed', async (args) => {
    const bin = join(process.cwd(), 'bin', 'cfimg.js');
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, ...envOf() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, lines: stderr.trimEnd().split('\n') }).toEqual({
      code: 1,
      lines: ['cfimg: writing standard output: the output pipe was closed by the reader'],
    });
  });
});

describe('a byte that is not UTF-8 in argv (the real binary)', () => {
  it('is refused as a usage error, not looked up as another name', async () => {
    const bin = join(process.cwd(), 'bin', 'cfimg.js');
    const child = spawn(
      'bash',
      ['-c', `exec "$0" "$1" get $'exports/img\\xff.vhd'`, process.execPath, bin],
      {
        env: { PATH: process.env.PATH, ...envOf() },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, lines: stderr.trimEnd().split('\n') }).toEqual({
      code: 2,
      lines: ['cfimg: the object name holds a NUL or a byte that is not UTF-8: check it'],
    });
    expect(em.requests.filter((r) => r.path.includes('\ufffd'))).toEqual([]);
  });
});

describe('Ctrl-C before any byte is fetched (the real binary)', () => {
  it.each<[string, 'POST' | 'HEAD', Env]>([
    ['while signing in', 'POST', 'identity'],
    ['while the object is looked up', 'HEAD', 'direct'],
  ])('%s: exit 130 with one line, not an "unexpected error"', async (_when, method, env) => {
    em.faults.clear();
    em.clearRequests();
    em.faults.add({ match: { method }, action: { stallMs: 20_000 } });
    const dir = await mkdtemp(join(tmpdir(), 'cfimg-bad-int-'));
    const bin = join(process.cwd(), 'bin', 'cfimg.js');
    const child = spawn(process.execPath, [bin, '--no-token-cache', 'get', REF, '-o', 'x.vhd'], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...envOf(env) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const closed = new Promise((resolve) => child.on('close', resolve));
    while (!em.requests.some((r) => r.method === method))
      await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    expect({ code: await closed, lines: stderr.trimEnd().split('\n') }).toEqual({
      code: 130,
      lines: ['cfimg: interrupted by SIGINT'],
    });
    expect(await readdir(dir)).toEqual([]);
    em.faults.clear();
  });
});
