/** Resolving the object a command works on, the same way for get, get-segments and verify. */
import { type DownloadPlan, planDownload } from '../core/large-object.js';
import type { Context } from './context.js';

/**
 * The object's plan (kind, size, ETag, segments), its remote-health warnings printed. A listing
 * that disagrees with the manifest is fetched again after a pause that grows with the retry
 * policy's base delay, since DLO listings are eventually consistent.
 */
export async function planFor(
  ctx: Context,
  container: string,
  object: string,
): Promise<DownloadPlan> {
  const plan = await planDownload(ctx.client(), container, object, {
    signal: ctx.signal,
    relistDelayMs: ctx.policy.baseDelayMs * 2,
  });
  for (const w of plan.warnings) ctx.reporter.warn(w);
  return plan;
}
