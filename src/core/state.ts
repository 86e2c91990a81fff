/**
 * The resume record kept beside `FILE.part`: which object, which ETag, which segment list, and
 * which segments are already on disk and verified. A run that finds a record for the same
 * object, ETag and segment list keeps those segments; anything else starts over.
 */
import { readFile } from 'node:fs/promises';
import type { DownloadPlan } from './large-object.js';
import { writeFileAtomic } from './local-io.js';

export interface ResumeState {
  version: 1;
  container: string;
  object: string;
  etag: string | null;
  size: number;
  /** `name size md5` of each segment, in order: the identity of the segment list. */
  segments: string[];
  /** Indexes of segments written, synced and verified. */
  done: number[];
}

/** Where the record of a download to `target` lives. */
export function statePathFor(target: string): string {
  return `${target}.part.json`;
}

export function newState(plan: DownloadPlan): ResumeState {
  return {
    version: 1,
    container: plan.info.container,
    object: plan.info.object,
    etag: plan.etag ?? null,
    size: plan.size,
    segments: plan.segments.map((s) => `${s.container}/${s.object} ${s.size} ${s.md5 ?? '-'}`),
    done: [],
  };
}

/** Reads a record; undefined when absent or unreadable (garbage is ignored, not trusted). */
export async function readState(path: string): Promise<ResumeState | undefined> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as Partial<ResumeState>;
    const ok =
      doc.version === 1 &&
      typeof doc.container === 'string' &&
      typeof doc.object === 'string' &&
      typeof doc.size === 'number' &&
      Array.isArray(doc.segments) &&
      Array.isArray(doc.done) &&
      doc.done.every((i) => Number.isInteger(i) && i >= 0 && i < (doc.segments?.length ?? 0));
    return ok ? (doc as ResumeState) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a record describes the same bytes as `plan` (same object, ETag and segments). */
export function sameDownload(state: ResumeState, plan: DownloadPlan): boolean {
  const fresh = newState(plan);
  return (
    state.container === fresh.container &&
    state.object === fresh.object &&
    state.etag === fresh.etag &&
    state.size === fresh.size &&
    state.segments.length === fresh.segments.length &&
    state.segments.every((s, i) => s === fresh.segments[i])
  );
}

export async function writeState(path: string, state: ResumeState): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(state)}\n`, 0o600);
}
