/**
 * `cfimg list` of a container holding more than one listing page (10,000 names) on the real
 * Swift, signed in through the Identity v2 front. Filling the container costs about a minute, so
 * it has a fixed name and is filled only when it is not full already (a machine that ran the
 * suite before keeps it).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentityFront, startIdentityFront } from '../src/emulator/identity-front.js';
import { httpTarget } from './contract/target.js';
import { runCli } from './support/cli.js';
import { REAL_SWIFT_HINT, type RealSwift, realSwift } from './support/real-swift.js';

const swift = await realSwift();
if (!swift) console.warn(REAL_SWIFT_HINT);

const BOX = 'cfimg-list-10050x';
const NAMES = Array.from({ length: 10_050 }, (_, i) => `obj-${String(i).padStart(5, '0')}`);

async function objectCount(real: RealSwift): Promise<number> {
  const res = await request(`${real.storageUrl}/${BOX}`, {
    method: 'HEAD',
    headers: { 'x-auth-token': real.token },
  });
  await res.body.dump();
  return res.statusCode === 204 ? Number(res.headers['x-container-object-count']) : 0;
}

(swift ? describe : describe.skip)('cfimg list against the real Swift', () => {
  const real = swift as RealSwift;
  let front: IdentityFront;
  const cli = (args: string[]) =>
    runCli(['--auth-url', front.url, '--username', real.user, '--api-key', real.key, ...args], {
      env: { CF_TOKEN_CACHE: '0' },
    });

  beforeAll(async () => {
    front = await startIdentityFront({ authV1Url: real.authV1Url, region: 'ORD' });
    if ((await objectCount(real)) === NAMES.length) return;
    const target = httpTarget('real Swift', real.storageUrl, real.token);
    await target.putContainer(BOX);
    const queue = [...NAMES];
    const body = Buffer.from('x');
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let name = queue.shift(); name; name = queue.shift())
          await target.putObject(BOX, name, body);
      }),
    );
    expect(await objectCount(real)).toBe(NAMES.length);
  }, 300_000);
  afterAll(() => front?.close());

  it('prints all 10,050 names across two listing pages, once each and in order', async () => {
    const r = await cli(['list', BOX]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8')).toBe(`${NAMES.join('\n')}\n`);
  });

  it('stops at --limit past the first page and filters by --prefix', async () => {
    const limited = await cli(['list', BOX, '--limit', '10001']);
    expect(limited.stdout.toString('utf8')).toBe(`${NAMES.slice(0, 10_001).join('\n')}\n`);

    const prefixed = await cli(['list', BOX, '--prefix', 'obj-100']);
    expect(prefixed.stdout.toString('utf8').trim().split('\n')).toEqual(
      NAMES.filter((n) => n.startsWith('obj-100')),
    );
  });

  it('gives every record with --json: name, bytes, hash, content type, last-modified', async () => {
    const r = await cli(['--json', 'list', BOX]);
    const records = JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>[];
    expect(records.map((x) => x.name)).toEqual(NAMES);
    expect(records[10_049]).toEqual({
      name: 'obj-10049',
      bytes: 1,
      hash: '9dd4e461268c8034f5c8564e155c67a6',
      content_type: expect.any(String),
      last_modified: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/),
    });
  });
});
