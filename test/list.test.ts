import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedContent } from '../src/emulator/content.js';
import { type Emulator, startEmulator } from '../src/emulator/index.js';
import { runCli } from './support/cli.js';

const COUNT = 10_050;
let em: Emulator;
const names: string[] = [];

function env(): Record<string, string> {
  return { CF_STORAGE_URL: em.storageUrl(), CF_AUTH_TOKEN: em.token() };
}

beforeAll(async () => {
  em = await startEmulator();
  for (let i = 0; i < COUNT; i++) {
    const name = `obj-${String(i).padStart(6, '0')}`;
    names.push(name);
    em.putObject('many', name, '', { md5: 'd41d8cd98f00b204e9800998ecf8427e' });
  }
  const image = generatedContent(3 * 1000 + 17, 'list-image');
  em.uploadImage({ container: 'exports', name: 'img.vhd', content: image, segmentSize: 1000 });
});

afterAll(async () => {
  await em.close();
});

describe('cfimg list', () => {
  it('lists every name of a container with more than 10,000 objects, once each', async () => {
    em.clearRequests();
    const r = await runCli(['list', 'many'], { env: env() });
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines).toEqual(names);
    const pages = em.requests.filter((q) => q.method === 'GET' && q.path === '/many');
    expect(pages.length).toBeGreaterThanOrEqual(2);
  });

  it('prints bytes, date, MD5, type and name with --full, and marks the DLO manifest', async () => {
    const r = await runCli(['list', '--full', 'exports'], { env: env() });
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(
      /^ +manifest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d +[0-9a-f]{32} application\/octet-stream img\.vhd {2}-> exports\/img\.vhd-$/,
    );
    expect(lines[1]).toMatch(
      /^ +1000 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d +[0-9a-f]{32} application\/octet-stream img\.vhd-00001$/,
    );
    expect(lines[4]).toMatch(/^ +17 .* img\.vhd-00004$/);
  });

  it('marks the manifest in --json records', async () => {
    const r = await runCli(['--json', 'list', 'exports', '--prefix', 'img.vhd'], { env: env() });
    const records = JSON.parse(r.stdout.toString());
    expect(records[0]).toMatchObject({
      name: 'img.vhd',
      bytes: 0,
      dlo_manifest: 'exports/img.vhd-',
    });
    expect(records.slice(1).map((x: { name: string }) => x.name)).toEqual([
      'img.vhd-00001',
      'img.vhd-00002',
      'img.vhd-00003',
      'img.vhd-00004',
    ]);
  });
});
