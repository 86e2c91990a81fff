/** `cfimg reassemble DIR -o FILE [--remove-segments] [--force]`: segments joined, verified. */
import { resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { reassemble } from '../../core/reassemble.js';
import type { Context } from '../context.js';
import { type Progress, startProgress } from '../progress.js';
import { formatBytes } from '../reporter.js';

export interface ReassembleFlags {
  output: string;
  removeSegments?: boolean;
  force?: boolean;
}

export async function reassembleCommand(
  ctx: Context,
  dirText: string,
  flags: ReassembleFlags,
): Promise<void> {
  if (flags.output === '-')
    throw new UsageError(
      'reassemble writes a file: give -o FILE (to stream an image, cfimg get -o -)',
    );
  const dir = resolve(ctx.io.cwd, dirText);
  const target = resolve(ctx.io.cwd, flags.output);
  const started = performance.now();
  const show = !ctx.config.quiet && !ctx.config.json;
  let progress: Progress | undefined;

  let result: Awaited<ReturnType<typeof reassemble>>;
  try {
    result = await reassemble(dir, target, {
      removeSegments: flags.removeSegments ?? false,
      force: flags.force ?? false,
      signal: ctx.signal,
      events: {
        onStart: (s) => {
          if (s.doneSegments > 0)
            ctx.reporter.info(
              `cfimg: continuing: ${s.doneSegments} of ${s.segments} segments ` +
                `(${formatBytes(s.doneBytes)}) are already in ${target}.part`,
            );
          const done = { bytes: s.doneBytes, segments: s.doneSegments };
          progress = startProgress(ctx.reporter, s.bytes, s.segments, done, show);
        },
        onBytes: (d) => progress?.bytes(d),
        onSegmentDone: (piece, removed) => {
          progress?.segmentDone();
          ctx.reporter.verbose(`${piece.file}: joined${removed ? ' and removed' : ''}`);
        },
        onWarning: (m) => ctx.reporter.warn(m),
      },
    });
  } finally {
    progress?.stop();
  }

  const seconds = (performance.now() - started) / 1000;
  if (ctx.config.json) {
    const doc = {
      path: result.path,
      bytes: result.bytes,
      segments: result.segments,
      md5_checked: result.md5Checked,
      removed_segments: result.removed,
      resumed_segments: result.resumedSegments,
      manifest: result.manifest,
      seconds: Number(seconds.toFixed(3)),
    };
    ctx.io.stdout.write(`${JSON.stringify(doc)}\n`);
    return;
  }
  const proof = result.manifest
    ? `each segment's size and MD5 checked against ${dir}'s manifest`
    : 'no manifest, so the MD5s were not checked';
  const removed = result.removed > 0 ? `; ${result.removed} segment files removed` : '';
  ctx.reporter.info(
    `cfimg: saved ${target}: ${formatBytes(result.bytes)} from ${result.segments} segments ` +
      `in ${seconds.toFixed(1)} s; ${proof}${removed}`,
  );
}
