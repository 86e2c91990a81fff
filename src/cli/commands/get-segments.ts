/** `cfimg get-segments CONTAINER/OBJECT --dir DIR`: an image as verified segment files. */
import { resolve } from 'node:path';
import { InterruptedError } from '../../core/errors.js';
import type { Segment } from '../../core/large-object.js';
import { parseObjectRef } from '../../core/paths.js';
import { getSegments, type SegmentOutcome } from '../../core/segments-dir.js';
import { MANIFEST_FILE } from '../../core/segments-manifest.js';
import type { Context } from '../context.js';
import { planFor } from '../plan.js';
import { startProgress } from '../progress.js';
import { formatBytes } from '../reporter.js';

export interface GetSegmentsFlags {
  dir: string;
}

export async function getSegmentsCommand(
  ctx: Context,
  ref: string,
  flags: GetSegmentsFlags,
): Promise<void> {
  const { container, object } = parseObjectRef(ref);
  const dir = resolve(ctx.io.cwd, flags.dir);
  const client = ctx.client();
  const plan = await planFor(ctx, container, object);

  const started = performance.now();
  const show = !ctx.config.quiet && !ctx.config.json;
  const progress = startProgress(
    ctx.reporter,
    plan.size,
    plan.segments.length,
    { bytes: 0, segments: 0 },
    show,
  );
  let inPlace = 0;
  const onSegmentDone = (s: Segment, file: string, outcome: SegmentOutcome, why?: string) => {
    inPlace++;
    if (outcome === 'kept') progress.bytes(s.size);
    progress.segmentDone();
    if (outcome === 'repaired')
      ctx.reporter.info(`cfimg: ${file} was wrong (${why}): fetched again`);
    ctx.reporter.verbose(`${file}: ${outcome}`);
  };
  let result: Awaited<ReturnType<typeof getSegments>>;
  try {
    result = await getSegments(client, plan, dir, {
      concurrency: ctx.config.concurrency,
      policy: ctx.policy,
      signal: ctx.signal,
      events: {
        onBytes: (d) => progress.bytes(d),
        onSegmentDone,
        onRetry: (what, reason, delayMs) => {
          progress.retry();
          ctx.reporter.verbose(`retrying ${what} in ${delayMs} ms: ${reason}`);
        },
        onWarning: (m) => ctx.reporter.warn(m),
        onNote: (m) => ctx.reporter.info(`cfimg: ${m}`),
      },
    });
  } catch (err) {
    if (err instanceof InterruptedError)
      throw new InterruptedError(
        err.signal,
        `${inPlace} of ${plan.segments.length} segments are in ${dir}, each verified; ` +
          'run the same command again to fetch the rest',
      );
    throw err;
  } finally {
    progress.stop();
  }

  const seconds = (performance.now() - started) / 1000;
  const proof = plan.verification === 'size-only' ? 'size' : 'size and MD5';
  if (ctx.config.json) {
    const doc = {
      dir: result.dir,
      manifest: result.manifestPath,
      container,
      object,
      etag: plan.etag ?? null,
      bytes: result.bytes,
      segments: result.files.length,
      fetched: result.fetched,
      kept: result.kept,
      repaired: result.repaired,
      fetched_bytes: result.fetchedBytes,
      seconds: Number(seconds.toFixed(3)),
      verified: plan.verification,
      files: result.files,
    };
    ctx.io.stdout.write(`${JSON.stringify(doc)}\n`);
    return;
  }
  ctx.reporter.info(
    `cfimg: ${result.fetched} fetched, ${result.kept} kept, ${result.repaired} repaired: ` +
      `${result.files.length} segments (${formatBytes(result.bytes)}) in ${dir}, ` +
      `each verified by ${proof}; order recorded in ${MANIFEST_FILE}`,
  );
}
