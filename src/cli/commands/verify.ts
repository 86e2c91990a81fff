/** `cfimg verify [--vhd] [--offline] CONTAINER/OBJECT PATH`: a local copy proved, or not. */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IntegrityError, UsageError } from '../../core/errors.js';
import { dloHealth } from '../../core/large-object.js';
import { parseObjectRef } from '../../core/paths.js';
import {
  localFileNames,
  MANIFEST_FILE,
  manifestFor,
  readManifest,
  requireFinished,
  type SegmentsManifest,
} from '../../core/segments-manifest.js';
import { type VerifyResult, verifyImage, verifySummary } from '../../core/verify.js';
import type { Context } from '../context.js';
import { planFor } from '../plan.js';
import { startProgress } from '../progress.js';
import { formatBytes } from '../reporter.js';

export interface VerifyFlags {
  vhd?: boolean;
  offline?: boolean;
}

export async function verifyCommand(
  ctx: Context,
  ref: string,
  pathText: string,
  flags: VerifyFlags,
): Promise<void> {
  const { container, object } = parseObjectRef(ref);
  const path = resolve(ctx.io.cwd, pathText);
  const s = await stat(path).catch(() => undefined);
  if (!s)
    throw new UsageError(
      `${path} does not exist: give the directory get-segments wrote, or the image file`,
    );
  const expected = flags.offline
    ? await offlineExpected(ctx, s.isDirectory() ? path : dirname(path), container, object)
    : await remoteExpected(ctx, container, object, s.isDirectory() ? path : undefined);

  const show = !ctx.config.quiet && !ctx.config.json;
  const total = s.isDirectory() ? expected.size : s.size;
  const progress = startProgress(
    ctx.reporter,
    total,
    expected.segments.length,
    { bytes: 0, segments: 0 },
    show,
  );
  let result: VerifyResult;
  try {
    result = await verifyImage(path, expected, {
      concurrency: ctx.config.concurrency,
      vhd: flags.vhd ?? false,
      signal: ctx.signal,
      events: {
        onBytes: (d) => progress.bytes(d),
        onProblem: (p) => {
          if (!ctx.config.json) ctx.reporter.line(ctx.reporter.color.red(`cfimg: ${p.message}`));
        },
      },
    });
  } finally {
    progress.stop();
  }

  const summary = verifySummary(result);
  if (ctx.config.json) {
    const doc = {
      ok: result.problems.length === 0,
      path: result.path,
      mode: result.mode,
      source: flags.offline ? 'manifest-file' : 'server',
      segments: result.segments,
      bytes: result.bytes,
      md5_checked: result.md5Checked,
      etag: result.etag ?? null,
      vhd: result.vhd ?? null,
      problems: result.problems,
    };
    ctx.io.stdout.write(`${JSON.stringify(doc)}\n`);
  } else if (result.vhd?.diskType) {
    const size = result.vhd.virtualSize ?? 0;
    const scope =
      result.mode !== 'directory'
        ? ''
        : result.vhd.diskType === 'fixed'
          ? ' (from the segments: footer and size)'
          : ' (from the segments: footer, footer copy and header; blocks need the joined file)';
    ctx.reporter.info(
      `cfimg: VHD: ${result.vhd.diskType} disk, virtual size ${formatBytes(size)} (${size} bytes)${scope}`,
    );
  }
  if (result.problems.length > 0) throw new IntegrityError(summary);
  if (!ctx.config.json) ctx.reporter.info(`cfimg: ${summary}`);
}

/** The segment list as the server lists it now (the manifest ETag proves the listing). */
async function remoteExpected(
  ctx: Context,
  container: string,
  object: string,
  dir: string | undefined,
): Promise<SegmentsManifest> {
  const plan = await planFor(ctx, container, object);
  if (dir && plan.info.kind !== 'object' && plan.verification !== 'segments')
    throw new UsageError(
      `the segments of ${container}/${object} cannot be listed: check ${dir} with --offline`,
    );
  if (dir) {
    const local = await readManifest(dir).catch(() => undefined);
    if (local && local.etag !== (plan.etag ?? null))
      ctx.reporter.warn(
        `${dir} was fetched when the image had ETag ${local.etag}; the server now has ` +
          `${plan.etag}: run cfimg get-segments again to update it`,
      );
  }
  return manifestFor(plan, localFileNames(plan.segments).files, []);
}

/** The segment list from the manifest file in `dir`; no network, no credentials. */
async function offlineExpected(
  ctx: Context,
  dir: string,
  container: string,
  object: string,
): Promise<SegmentsManifest> {
  const manifest = await readManifest(dir);
  if (!manifest)
    throw new UsageError(
      `--offline needs the manifest file get-segments writes, and ${join(dir, MANIFEST_FILE)} ` +
        'does not exist: drop --offline to check against the server',
    );
  requireFinished(dir, manifest);
  if (manifest.container !== container || manifest.object !== object)
    throw new UsageError(
      `${join(dir, MANIFEST_FILE)} describes ${manifest.container}/${manifest.object}, ` +
        `not ${container}/${object}: give the matching object`,
    );
  if (manifest.kind === 'dlo' && manifest.prefix !== undefined) {
    const items = manifest.segments.map((s) => ({
      name: s.name,
      bytes: s.bytes,
      hash: s.md5 ?? '',
      content_type: '',
      last_modified: '',
    }));
    const self = manifest.segments.some((s) => s.container === manifest.container)
      ? manifest.object
      : undefined;
    for (const w of dloHealth(manifest.prefix, items, self)) ctx.reporter.warn(w);
  }
  return manifest;
}
