/**
 * What must hold after every cfimg run of the soak. An exit status is either 0 with a verified,
 * byte-identical result, or a documented code that the injected faults explain, with one line on
 * stderr that names the cause and no stack trace. Each function returns the problems it found.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildResult } from './cfimg-child.js';
import type { FaultKind } from './proxy.js';
import type { SoakImage } from './swift-admin.js';

/** How a run ended, as the soak counts it. */
export type Outcome = 'success' | 'refusal' | 'interrupted';

/** The error line each documented exit code must show. */
const CAUSES: Record<number, RegExp> = {
  3: /MD5|ETag|changed on the server|missing on the server|shorter than|does not match/,
  4: /\b401\b|refused|forbidden/,
  6: /failed after \d+ retries/,
  130: /interrupted by SIGINT/,
  143: /interrupted by SIGTERM/,
};

/**
 * The exit codes the faults of a run can explain, besides 0. Faults cfimg must absorb do not
 * count until there are enough of them to beat it: a file download fetches a segment whose MD5
 * fails up to 3 times (a stream cannot take bytes back, so one flip ends it), and a request is
 * tried `retries + 1` times. One 401 is absorbed by signing in again; a second one is final.
 * A listing page with a flipped byte is read again like a dropped one: the byte is no longer
 * UTF-8, so it can neither parse nor name a segment that does not exist.
 */
function allowedCodes(
  injected: Map<FaultKind, number>,
  limits: { stream: boolean; retries: number },
): Set<number> {
  const n = (...kinds: FaultKind[]) => kinds.reduce((sum, k) => sum + (injected.get(k) ?? 0), 0);
  const codes = new Set<number>();
  if (n('replace', 'delete', 'local-flip') > 0) codes.add(3);
  if (n('flip') >= (limits.stream ? 1 : 3)) codes.add(3);
  if (n('drop', 'stall', 'burst503', 'burst429', 'listing-flip') > limits.retries) codes.add(6);
  if (n('unauthorized') >= 2) codes.add(4);
  return codes;
}

/** Checks the exit status and stderr; returns the outcome and any violations. */
export function checkExit(
  r: ChildResult,
  injected: Map<FaultKind, number>,
  limits = { stream: false, retries: 0 },
): { outcome: Outcome; problems: string[] } {
  const problems: string[] = [];
  if (r.hung) problems.push('cfimg hung: killed by the watchdog');
  if (/^\s+at /m.test(r.stderr)) problems.push('a stack trace on stderr');
  if (/unexpected error/.test(r.stderr)) problems.push('an "unexpected error" on stderr');
  // A signal before cfimg installed its handlers ends node by the signal itself.
  if (r.killed && r.signal === r.killed) return { outcome: 'interrupted', problems };
  if (r.code === 0) return { outcome: 'success', problems };

  const code = r.code ?? -1;
  const last = r.stderr.trimEnd().split('\n').at(-1) ?? '';
  const bySignal = { 130: 'SIGINT', 143: 'SIGTERM' }[code];
  const explained = bySignal ? r.killed === bySignal : allowedCodes(injected, limits).has(code);
  if (!explained)
    problems.push(`exit ${r.code ?? r.signal} is not explained by the faults: ${last}`);
  else if (!CAUSES[code]?.test(last) || !last.startsWith('cfimg: ') || /warning/.test(last))
    problems.push(`exit ${code} without a line naming its cause: ${JSON.stringify(last)}`);
  return { outcome: bySignal ? 'interrupted' : 'refusal', problems };
}

export async function sha256File(path: string): Promise<string | undefined> {
  const exists = await stat(path).catch(() => undefined);
  if (!exists) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * A whole image under a final name: present and byte-identical after exit 0, absent otherwise
 * (a partial lives only as FILE.part). A killed run may have finished just before the signal
 * landed: then the file is there, and must be byte-identical.
 */
export async function checkImageFile(
  path: string,
  image: SoakImage,
  success: boolean,
  killed = false,
): Promise<string[]> {
  const sha = await sha256File(path);
  if (success && sha !== image.sha256)
    return [`exit 0 but ${path} is ${sha ? 'not byte-identical' : 'missing'}`];
  if (!success && sha !== undefined && sha !== image.sha256)
    return [`a failed run left an unverified file under the final name ${path}`];
  if (!success && !killed && sha !== undefined)
    return [`a failed run left ${path} under its final name`];
  if (success && (await stat(`${path}.part`).catch(() => undefined)))
    return [`exit 0 but ${path}.part is still there`];
  return [];
}

/** Every segment file under its final name has its segment's MD5; after exit 0 all are there. */
export async function checkSegmentDir(
  dir: string,
  image: SoakImage,
  success: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const names = await readdir(dir).catch(() => [] as string[]);
  const bySegment = new Map(image.segments.map((s) => [s.name, s.md5]));
  for (const name of names) {
    if (name.startsWith('.cfimg') || name.endsWith('.part') || name.endsWith('.tmp')) continue;
    const want = bySegment.get(name);
    if (want === undefined) problems.push(`an unexpected file ${name} in the segment directory`);
    else if ((await md5File(join(dir, name))) !== want)
      problems.push(`segment file ${name} is under its final name but not verified`);
  }
  if (success) {
    const missing = image.segments.filter((s) => !names.includes(s.name));
    if (missing.length) problems.push(`exit 0 but ${missing.length} segment files are missing`);
    if (!names.includes('.cfimg-manifest.json')) problems.push('exit 0 but no manifest file');
  }
  return problems;
}

/** Bytes of the segment files under their final names that hold the right bytes. */
export async function verifiedSegmentBytes(dir: string, image: SoakImage): Promise<number> {
  let bytes = 0;
  for (const s of image.segments) {
    const path = join(dir, s.name);
    if ((await stat(path).catch(() => undefined)) && (await md5File(path)) === s.md5)
      bytes += s.data.length;
  }
  return bytes;
}
