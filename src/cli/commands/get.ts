/** `cfimg get CONTAINER/OBJECT [-o FILE|-]`: the whole object, verified, resumable. */
import { resolve } from 'node:path';
import { type DownloadResult, downloadToFile, downloadToStream } from '../../core/download.js';
import { InterruptedError } from '../../core/errors.js';
import { defaultFileName, parseObjectRef } from '../../core/paths.js';
import type { Context } from '../context.js';
import { planFor } from '../plan.js';
import { startProgress } from '../progress.js';
import { formatBytes } from '../reporter.js';

export interface GetFlags {
  output?: string;
  resume: boolean;
  force?: boolean;
}

export async function getCommand(ctx: Context, ref: string, flags: GetFlags): Promise<void> {
  const { container, object } = parseObjectRef(ref);
  const toStdout = flags.output === '-';
  const target = toStdout ? '-' : resolve(ctx.io.cwd, flags.output ?? defaultFileName(object));
  const client = ctx.client();
  const plan = await planFor(ctx, container, object);

  const started = performance.now();
  let retries = 0;
  let progress = startProgress(
    ctx.reporter,
    plan.size,
    plan.segments.length,
    { bytes: 0, segments: 0 },
    false,
  );
  const events = {
    onStart: (s: { keptSegments: number; keptBytes: number; resumed: boolean }) => {
      if (s.resumed)
        ctx.reporter.info(
          `cfimg: resuming: ${s.keptSegments} of ${plan.segments.length} segments ` +
            `(${formatBytes(s.keptBytes)}) already verified`,
        );
      const show = !ctx.config.quiet && !ctx.config.json;
      progress = startProgress(
        ctx.reporter,
        plan.size,
        plan.segments.length,
        { bytes: s.keptBytes, segments: s.keptSegments },
        show,
      );
    },
    onBytes: (d: number) => progress.bytes(d),
    onSegmentDone: () => progress.segmentDone(),
    onRetry: (what: string, reason: string, delayMs: number) => {
      retries++;
      progress.retry();
      ctx.reporter.verbose(`retrying ${what} in ${delayMs} ms: ${reason}`);
    },
    onWarning: (m: string) => ctx.reporter.warn(m),
  };
  const common = {
    concurrency: ctx.config.concurrency,
    policy: ctx.policy,
    signal: ctx.signal,
    events,
  };
  let result: DownloadResult;
  try {
    result = toStdout
      ? await downloadToStream(
          client,
          plan,
          ctx.io.stdout as NodeJS.WritableStream as import('node:stream').Writable,
          common,
        )
      : await downloadToFile(client, plan, target, {
          ...common,
          resume: flags.resume,
          force: flags.force ?? false,
        });
  } catch (err) {
    if (err instanceof InterruptedError && !toStdout)
      throw new InterruptedError(
        err.signal,
        `${target}.part is kept; run the same command again to resume`,
      );
    throw err;
  } finally {
    progress.stop();
  }

  const seconds = (performance.now() - started) / 1000;
  const verified =
    plan.verification === 'segments'
      ? `${plan.segments.length} segments, MD5 and manifest ETag`
      : plan.verification === 'object-md5'
        ? 'MD5 of the object'
        : 'size only';
  if (ctx.config.json) {
    const doc = {
      path: toStdout ? '-' : target,
      bytes: result.bytes,
      seconds: Number(seconds.toFixed(3)),
      segments: result.segments,
      kept_segments: result.keptSegments,
      fetched_bytes: result.fetchedBytes,
      etag: plan.etag ?? null,
      verified: plan.verification,
      retries,
    };
    (toStdout ? ctx.io.stderr : ctx.io.stdout).write(`${JSON.stringify(doc)}\n`);
    return;
  }
  const rate = formatBytes(result.fetchedBytes / Math.max(seconds, 0.001));
  const where = toStdout ? 'streamed' : `saved ${target}`;
  const recovered = retries > 0 ? `; ${retries} ${retries === 1 ? 'retry' : 'retries'}` : '';
  ctx.reporter.info(
    `cfimg: ${where}: ${formatBytes(result.bytes)} in ${seconds.toFixed(1)} s (${rate}/s); ` +
      `verified: ${verified}${recovered}`,
  );
}
