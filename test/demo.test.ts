import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedVhdImage } from '../src/emulator/vhd-image.js';
import { runCli, sha256 } from './support/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfimg-demo-test-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The SHA-256 of the image the demo generates for `name`, computed without the emulator. */
function expectedSha(name: string, mib: number): string {
  const image = fixedVhdImage({ size: mib * 1024 * 1024, seed: name });
  const hash = createHash('sha256');
  for (let at = 0; at < image.size; at += 1 << 22)
    hash.update(image.read(at, Math.min(image.size, at + (1 << 22))));
  return hash.digest('hex');
}

describe('cfimg demo', () => {
  it('runs head, get, verify, list, get-segments and reassemble and leaves the exact image', async () => {
    const r = await runCli(['demo', '--size', '20', '--dir', dir]);

    expect(r.code).toBe(0);
    const name = /exports\/([0-9a-f-]{36}\.vhd)/.exec(r.stderr)?.[1] as string;
    expect(name).toBeDefined();
    for (const command of ['head', 'get', 'verify --vhd', 'list --full', 'get-segments'])
      expect(r.stderr).toContain(`$ cfimg ${command} `);
    expect(r.stderr).toMatch(/verified: \d+ segments, MD5 and manifest ETag; 1 retry\n/);
    expect(r.stderr).toMatch(/VHD: fixed disk, virtual size 20\.0 MiB/);
    expect(r.stderr).not.toContain('demo-key');

    const sha = expectedSha(name, 20);
    expect(sha256(await readFile(join(dir, name)))).toBe(sha);
    expect(sha256(await readFile(join(dir, `reassembled-${name}`)))).toBe(sha);
    expect((await readdir(dir)).sort()).toEqual([name, `reassembled-${name}`, 'segments'].sort());
  });

  it('removes its temporary files when no --dir is given', async () => {
    const r = await runCli(['demo', '--size', '16'], { env: { TMPDIR: dir } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`\\$ cd ${dir}/cfimg-demo-`));
    expect(r.stderr).toContain('removed the demo files');
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a size it cannot split into segments, exit 2 and one line', async () => {
    const r = await runCli(['demo', '--size', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cfimg: --size 3: give a whole number of MiB from 16 to 65536\n');
  });
});
