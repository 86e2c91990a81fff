import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { runCli, sha256 } from './support/cli.js';

const parts = [0, 1, 2].map((i) => generatedContent(40_000 + i, `names-${i}`).read(0, 40_000 + i));

let em: Emulator;
let tmp: string;
let dir: string;

function env(): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

beforeAll(async () => {
  em = await startEmulator();
  // A DLO whose segment names climb out of any directory they are written to.
  for (const [i, p] of parts.entries()) em.putObject('evil', `../../escape-0000${i + 1}`, p);
  em.putDlo('evil', 'img.vhd', 'evil/../../escape-');
  // An SLO whose segments do not sort in image order, one of them used twice.
  em.putObject('slo', 'b-part', parts[0] as Buffer);
  em.putObject('slo', 'a-part', parts[1] as Buffer);
  em.putSlo('slo', 'img.slo', [
    { container: 'slo', name: 'b-part' },
    { container: 'slo', name: 'a-part' },
    { container: 'slo', name: 'b-part' },
  ]);
});

afterAll(async () => {
  await em.close();
});

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cfimg-names-'));
  dir = join(tmp, 'inner', 'segs');
  await mkdir(join(tmp, 'inner'));
  return () => rm(tmp, { recursive: true, force: true });
});

describe('segment names', () => {
  it('never writes a segment named ../../x outside the directory, and warns that it was encoded', async () => {
    const r = await runCli(['get-segments', 'evil/img.vhd', '--dir', dir], { env: env() });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: segment name "\.\.\/\.\.\/escape-00001" .* stored as/);
    expect(await readdir(tmp)).toEqual(['inner']);
    expect(await readdir(join(tmp, 'inner'))).toEqual(['segs']);
    const files = (await readdir(dir)).sort();
    expect(files).toEqual([
      '..%2F..%2Fescape-00001',
      '..%2F..%2Fescape-00002',
      '..%2F..%2Fescape-00003',
      '.cfimg-manifest.json',
    ]);

    expect((await runCli(['verify', '--offline', 'evil/img.vhd', dir])).code).toBe(0);
    const out = join(tmp, 'img.vhd');
    expect((await runCli(['reassemble', dir, '-o', out])).code).toBe(0);
    expect(sha256(await readFile(out))).toBe(sha256(Buffer.concat(parts)));
  });

  it('refuses a manifest file edited to point outside the directory', async () => {
    await runCli(['get-segments', 'evil/img.vhd', '--dir', dir], { env: env() });
    const path = join(dir, '.cfimg-manifest.json');
    const doc = JSON.parse(await readFile(path, 'utf8'));
    doc.segments[0].file = '../../../escape';
    await writeFile(path, JSON.stringify(doc));
    const r = await runCli(['reassemble', dir, '-o', join(tmp, 'img.vhd')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is damaged \(segment 1: the file name .* not a plain name/);
    expect(await readdir(tmp)).toEqual(['inner']);
  });

  it('numbers the files of segments that would not sort in image order', async () => {
    const r = await runCli(['get-segments', 'slo/img.slo', '--dir', dir], { env: env() });
    expect(r.stderr).toMatch(/files are numbered 00001-/);
    expect(r.stderr).toMatch(/3 fetched, 0 kept, 0 repaired/);
    expect(r.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([
      '.cfimg-manifest.json',
      '00001-b-part',
      '00002-a-part',
      '00003-b-part',
    ]);
    const v = await runCli(['verify', 'slo/img.slo', dir], { env: env() });
    expect(v.stderr).toMatch(/all 3 segments match: sizes, MD5s and the manifest ETag/);
    const out = join(dir, 'img.slo');
    expect((await runCli(['reassemble', dir, '-o', out])).code).toBe(0);
    const expected = Buffer.concat([parts[0], parts[1], parts[0]] as Buffer[]);
    expect(sha256(await readFile(out))).toBe(sha256(expected));
  });
});
