/**
 * What `reassemble` joins and whether an earlier run can be continued: the segments in the
 * order of the directory's manifest file, or without one the files in byte-wise name order;
 * and the record of how many of them are already in `FILE.part`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';
import { dloHealth } from './large-object.js';
import { localError } from './local-io.js';
import {
  compareBytes,
  MANIFEST_FILE,
  readManifest,
  requireFinished,
  type SegmentsManifest,
} from './segments-manifest.js';

/** One segment file to join. `md5` is null when it cannot be checked (no manifest). */
export interface JoinPiece {
  name: string;
  file: string;
  bytes: number;
  md5: string | null;
  /** `container/object` when the piece is a whole object that `cfimg get` can fetch alone. */
  source?: string;
}

/** The record beside FILE.part: the pieces, and how many (and bytes) are already in it. */
export interface JoinState {
  version: 1;
  dir: string;
  pieces: JoinPiece[];
  done: number;
  bytes: number;
}

export interface JoinPlan {
  pieces: JoinPiece[];
  manifest?: SegmentsManifest;
}

/** The pieces of `dir` in image order; warns when there is no manifest to check them with. */
export async function joinPieces(
  dir: string,
  target: string,
  events: { onWarning?: (message: string) => void },
): Promise<JoinPlan> {
  const manifest = await readManifest(dir);
  if (manifest) requireFinished(dir, manifest);
  const pieces = manifest
    ? manifest.segments.map((s) => ({
        name: s.name,
        file: s.file,
        bytes: s.bytes,
        md5: s.md5,
        ...(s.range ? {} : { source: `${s.container}/${s.name}` }),
      }))
    : await piecesInDir(dir, target);
  if (pieces.length === 0)
    throw new UsageError(
      `${dir} holds no segments: give the directory cfimg get-segments wrote them to`,
    );
  const out = resolve(target);
  if (out === resolve(dir, MANIFEST_FILE) || pieces.some((p) => resolve(dir, p.file) === out))
    throw new UsageError(`${target} is one of the segment files of ${dir}: choose another -o`);
  if (!manifest) warnUnchecked(dir, pieces, events);
  return { pieces, ...(manifest ? { manifest } : {}) };
}

/** Regular files of `dir` in byte-wise name order, leaving out dot files and partial files. */
async function piecesInDir(dir: string, target: string): Promise<JoinPiece[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err) => {
    throw localError(err, dir, 'reading');
  });
  const own = resolve(dirname(target)) === resolve(dir) ? basename(target) : undefined;
  const names = entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && !e.name.endsWith('.part'))
    .map((e) => e.name)
    .filter((name) => !own || (name !== own && !name.startsWith(`${own}.part`)))
    .sort(compareBytes);
  const pieces: JoinPiece[] = [];
  for (const name of names) {
    const { size } = await stat(join(dir, name));
    pieces.push({ name, file: name, bytes: size, md5: null });
  }
  return pieces;
}

function warnUnchecked(
  dir: string,
  pieces: JoinPiece[],
  events: { onWarning?: (message: string) => void },
): void {
  const first = pieces[0]?.file;
  const last = pieces.at(-1)?.file;
  events.onWarning?.(
    `no ${MANIFEST_FILE} in ${dir}: joining its ${pieces.length} files in byte-wise name ` +
      `order (${first} ... ${last}) without MD5 checks; ` +
      `cfimg verify CONTAINER/OBJECT ${dir} checks them against the server first`,
  );
  const items = pieces.map((p) => ({
    name: p.file,
    bytes: p.bytes,
    hash: '',
    content_type: '',
    last_modified: '',
  }));
  for (const w of dloHealth(commonPrefix(pieces.map((p) => p.file)), items)) events.onWarning?.(w);
}

function commonPrefix(names: string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.replace(/\d+$/, '');
}

/** What to run to get a bad or missing segment file back. */
export function refetchHint(dir: string, plan: JoinPlan, piece: JoinPiece): string {
  const m = plan.manifest;
  if (!m) return 'fetch it again';
  const one = piece.source
    ? `, or this one alone: cfimg get ${piece.source} -o ${join(dir, piece.file)} --force`
    : '';
  return `fetch it again (cfimg get-segments ${m.container}/${m.object} --dir ${dir}${one})`;
}

/**
 * The earlier run's record when FILE.part can be continued: same directory, FILE.part at least
 * as long as the pieces recorded done (an interrupted write may have added a little more), and
 * the pieces still to join as the record lists them (with a manifest, the same list; without,
 * the files left after the removed ones).
 */
export async function resumableState(
  statePath: string,
  part: string,
  dir: string,
  plan: JoinPlan,
): Promise<JoinState | undefined> {
  const state = await readFile(statePath, 'utf8').then(parseRecord, () => undefined);
  const partSize = await stat(part).then(
    (s) => s.size,
    () => undefined,
  );
  if (state?.version !== 1 || state.dir !== dir || !Array.isArray(state.pieces)) return undefined;
  if (!state.pieces.every((p) => typeof p?.file === 'string' && Number.isSafeInteger(p.bytes)))
    return undefined;
  const { pieces, done, bytes } = state;
  const doneBytes = pieces.slice(0, done).reduce((n, p) => n + p.bytes, 0);
  if (!Number.isInteger(done) || doneBytes !== bytes || (partSize ?? -1) < bytes) return undefined;
  const key = (list: JoinPiece[]) => JSON.stringify(list.map((p) => [p.file, p.bytes, p.md5]));
  const same = plan.manifest
    ? key(pieces) === key(plan.pieces)
    : key(pieces) === key(plan.pieces) || key(pieces.slice(done)) === key(plan.pieces);
  return same ? (state as JoinState) : undefined;
}

/** A record's JSON, or undefined for garbage: a damaged record is not trusted, never a crash. */
function parseRecord(text: string): Partial<JoinState> | undefined {
  try {
    return JSON.parse(text) as Partial<JoinState>;
  } catch {
    return undefined;
  }
}
