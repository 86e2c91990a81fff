/**
 * Properties of cfimg's own files: the resume record beside FILE.part and the segments manifest.
 * Whatever is in them, reading gives a record that is safe to act on, or none (the record), or a
 * usage error that names the file (the manifest); never a crash, never a name outside the
 * directory. What cfimg writes it reads back the same.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { type DownloadPlan, layOut } from '../../src/core/large-object.js';
import { resolveInside } from '../../src/core/local-names.js';
import {
  localFileNames,
  MANIFEST_FILE,
  manifestFor,
  readManifest,
  writeManifest,
} from '../../src/core/segments-manifest.js';
import { newState, readState, sameDownload, writeState } from '../../src/core/state.js';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cfimg-state-prop-'));
});

const md5 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => Buffer.from(b).toString('hex'));
const plan: fc.Arbitrary<DownloadPlan> = fc
  .record({
    object: fc.string({ minLength: 1 }),
    etag: fc.option(md5, { nil: undefined }),
    segments: fc.array(fc.record({ object: fc.string(), size: fc.nat({ max: 2 ** 40 }), md5 }), {
      minLength: 1,
      maxLength: 8,
    }),
  })
  .map(({ object, etag, segments }) => {
    const laid = layOut(segments.map((s) => ({ ...s, container: 'segs' })));
    const size = laid.reduce((a, s) => a + s.size, 0);
    return {
      info: {
        container: 'images',
        object,
        size,
        kind: 'dlo',
        headers: {},
        manifest: { container: 'segs', prefix: '' },
      },
      size,
      ...(etag ? { etag } : {}),
      segments: laid,
      verification: 'segments',
      warnings: [],
    } as DownloadPlan;
  });

/** JSON shaped like the files, with any value in any field, and plain garbage. */
const garbage = fc.oneof(
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({
      version: fc.oneof(fc.constant(1), fc.jsonValue()),
      container: fc.oneof(fc.string(), fc.jsonValue()),
      object: fc.oneof(fc.string(), fc.jsonValue()),
      size: fc.oneof(fc.nat(), fc.jsonValue()),
      etag: fc.jsonValue(),
      segments: fc.oneof(
        fc.array(
          fc.record({
            container: fc.oneof(fc.string(), fc.jsonValue()),
            name: fc.oneof(fc.string(), fc.jsonValue()),
            file: fc.oneof(
              fc.constantFrom('..', '.', '../x', '/etc/passwd', 'a/b', MANIFEST_FILE, ''),
              fc.string(),
            ),
            bytes: fc.oneof(fc.nat(), fc.double(), fc.jsonValue()),
            md5: fc.oneof(md5, fc.constant(null), fc.string()),
          }),
        ),
        fc.array(fc.string()),
        fc.jsonValue(),
      ),
      done: fc.oneof(fc.array(fc.integer()), fc.jsonValue()),
    })
    .map((doc) => JSON.stringify(doc)),
);

describe('the resume record', () => {
  it('is read back as written, and describes the same download', async () => {
    await fc.assert(
      fc.asyncProperty(plan, fc.array(fc.nat()), async (p, done) => {
        const state = {
          ...newState(p),
          done: [...new Set(done.map((d) => d % p.segments.length))],
        };
        const path = join(dir, `state-${n++}.json`);
        await writeState(path, state);
        const read = await readState(path);
        expect(read).toEqual(state);
        expect(sameDownload(read as typeof state, p)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('is trusted only when every index it says is done names a segment of it', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (text) => {
        const path = join(dir, `garbage-${n++}.json`);
        await writeFile(path, text);
        const state = await readState(path);
        if (state === undefined) return;
        expect(state.version).toBe(1);
        for (const i of state.done) {
          expect(Number.isInteger(i) && i >= 0).toBe(true);
          expect(i).toBeLessThan(state.segments.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('the segments manifest', () => {
  it('is read back as written, its files inside the directory', async () => {
    await fc.assert(
      fc.asyncProperty(plan, async (p) => {
        const where = await mkdtemp(join(dir, 'm-'));
        const { files } = localFileNames(p.segments);
        const manifest = manifestFor(p, files, []);
        await writeManifest(where, manifest);
        expect(await readManifest(where)).toEqual(manifest);
      }),
      { numRuns: 40 },
    );
  });

  it('is refused with a usage error naming the file, or gives only names inside the directory', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (text) => {
        const where = await mkdtemp(join(dir, 'g-'));
        await writeFile(join(where, MANIFEST_FILE), text);
        let manifest: Awaited<ReturnType<typeof readManifest>>;
        try {
          manifest = await readManifest(where);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as Error).message).toContain(MANIFEST_FILE);
          expect((err as Error).message).toMatch(/run cfimg get-segments again/);
          return;
        }
        for (const s of manifest?.segments ?? []) {
          expect(dirname(resolveInside(where, s.file))).toBe(where);
          expect(Number.isSafeInteger(s.bytes) && s.bytes >= 0).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
