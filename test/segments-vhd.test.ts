import { mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bufferContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { dynamicVhdImage, fixedVhdImage } from '../src/emulator/vhd-image.js';
import { runCli } from './support/cli.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const fixed = fixedVhdImage({ size: 256 * KiB, seed: 'vhd-fixed' });
const dynamic = dynamicVhdImage({ virtualSize: 8 * MiB, allocated: [2, 0], seed: 'vhd-dyn' });

let em: Emulator;
let tmp: string;

function env(): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

/** Downloads an object whole into the temporary directory and returns the path. */
async function fetchWhole(ref: string): Promise<string> {
  const out = join(tmp, ref.replaceAll('/', '_'));
  const r = await runCli(['get', ref, '-o', out], { env: env() });
  expect(r.code).toBe(0);
  return out;
}

beforeAll(async () => {
  em = await startEmulator();
  em.uploadImage({ container: 'vhd', name: 'fixed.vhd', content: fixed, segmentSize: 64 * KiB });
  em.uploadImage({
    container: 'vhd',
    name: 'dynamic.vhd',
    content: bufferContent(dynamic),
    segmentSize: MiB,
  });
  const whole = fixed.read(0, fixed.size);
  em.putObject('vhd', 'truncated.vhd', whole.subarray(0, whole.length - 1000));
  const badFooter = Buffer.from(whole);
  badFooter[whole.length - 512 + 100] = 0x55; // inside the footer: its checksum no longer holds
  em.putObject('vhd', 'bad-footer.vhd', badFooter);
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cfimg-vhd-verify-'));
  return () => rm(tmp, { recursive: true, force: true });
});

describe('cfimg verify --vhd', () => {
  it('accepts a valid fixed VHD as a whole file and as a directory of segments', async () => {
    const file = await fetchWhole('vhd/fixed.vhd');
    const f = await runCli(['verify', '--vhd', 'vhd/fixed.vhd', file], { env: env() });
    expect(f.stderr).toMatch(/VHD: fixed disk, virtual size 256\.0 KiB \(262144 bytes\)/);
    expect(f.code).toBe(0);

    const dir = join(tmp, 'segs');
    await runCli(['get-segments', 'vhd/fixed.vhd', '--dir', dir], { env: env() });
    const d = await runCli(['verify', '--vhd', 'vhd/fixed.vhd', dir], { env: env() });
    expect(d.stderr).toMatch(
      /VHD: fixed disk, virtual size .* \(from the segments: footer and size\)/,
    );
    expect(d.code).toBe(0);
  });

  it('accepts a valid dynamic VHD as a whole file and as a directory of segments', async () => {
    const file = await fetchWhole('vhd/dynamic.vhd');
    const f = await runCli(['--json', 'verify', '--vhd', 'vhd/dynamic.vhd', file], { env: env() });
    expect(f.code).toBe(0);
    const doc = JSON.parse(f.stdout.toString());
    expect(doc).toMatchObject({ ok: true, vhd: { ok: true, diskType: 'dynamic' } });
    expect(doc.vhd.virtualSize).toBe(8 * MiB);

    const dir = join(tmp, 'segs');
    await runCli(['get-segments', 'vhd/dynamic.vhd', '--dir', dir], { env: env() });
    const d = await runCli(['verify', '--vhd', '--offline', 'vhd/dynamic.vhd', dir]);
    expect(d.stderr).toMatch(
      /VHD: dynamic disk, virtual size 8\.0 MiB .*blocks need the joined file/,
    );
    expect(d.code).toBe(0);
  });

  it('fails with exit 3 on a VHD whose end is missing, though it matches its listing', async () => {
    const file = await fetchWhole('vhd/truncated.vhd');
    const plain = await runCli(['verify', 'vhd/truncated.vhd', file], { env: env() });
    expect(plain.code).toBe(0);
    const r = await runCli(['verify', '--vhd', 'vhd/truncated.vhd', file], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/VHD: .*not a VHD footer/);
  });

  it('fails with exit 3 on a VHD whose footer checksum is wrong', async () => {
    const file = await fetchWhole('vhd/bad-footer.vhd');
    const r = await runCli(['verify', '--vhd', 'vhd/bad-footer.vhd', file], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/VHD: The footer is damaged: .*checksum/i);
  });

  it('reports both the size and the VHD problem of a local file cut short', async () => {
    const file = await fetchWhole('vhd/fixed.vhd');
    await truncate(file, fixed.size - 4096);
    const r = await runCli(['--json', 'verify', '--vhd', 'vhd/fixed.vhd', file], { env: env() });
    expect(r.code).toBe(3);
    const kinds = JSON.parse(r.stdout.toString()).problems.map((p: { kind: string }) => p.kind);
    expect(kinds).toEqual(expect.arrayContaining(['size', 'missing', 'vhd']));
  });

  it('fails on a directory whose last segment has a damaged footer', async () => {
    const dir = join(tmp, 'segs');
    await runCli(['get-segments', 'vhd/fixed.vhd', '--dir', dir], { env: env() });
    const fh = await open(join(dir, 'fixed.vhd-00005'), 'r+');
    await fh.write(Buffer.from('XXXXXXXX'), 0, 8, 0); // the footer's cookie
    await fh.close();
    const r = await runCli(['verify', '--vhd', '--offline', 'vhd/fixed.vhd', dir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/segment fixed\.vhd-00005: MD5/);
    expect(r.stderr).toMatch(/VHD: the last 512 bytes of the last segment are not a VHD footer/);
  });
});
