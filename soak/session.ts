/**
 * One soak run: a command chosen at random, faults chosen at random (network faults through the
 * proxy, a segment replaced or deleted between listing and fetch, local damage, a kill), the
 * invariants checked, and, when the run did not succeed, a resumed run without faults that must
 * succeed and fetch no more than what the first run left to do.
 */
import { cp, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChildResult, type Kill, runChild } from './cfimg-child.js';
import {
  checkExit,
  checkImageFile,
  checkSegmentDir,
  type Outcome,
  sha256File,
  verifiedSegmentBytes,
} from './invariants.js';
import type { FaultKind, FaultProxy } from './proxy.js';
import { type Rng, rngFor } from './rng.js';
import { type SoakImage, type SwiftAdmin, seededBytes } from './swift-admin.js';

export type Command = 'get' | 'stream' | 'get-segments' | 'reassemble';

export interface SoakSetup {
  seed: number;
  proxy: FaultProxy;
  admin: SwiftAdmin;
  image: SoakImage;
  env: Record<string, string>;
  globalArgs: string[];
  timeoutMs: number;
  /** A verified segment directory that reassemble runs start from. */
  pristineDir: string;
  workRoot: string;
}

export interface RunRecord {
  run: number;
  command: Command;
  injected: Map<FaultKind, number>;
  outcome: Outcome;
  exit: string;
  problems: string[];
  /** stderr of the runs that broke an invariant, for the report. */
  evidence: string[];
  resume?: { outcome: Outcome; fetched: number; left: number; full: number };
}

/** cfimg's --retries in the soak (soak.ts passes it). */
export const RETRIES = 4;

const COMMANDS: Command[] = ['get', 'get', 'get', 'stream', 'get-segments', 'get-segments'];

/** Runs soak run number `run`; every decision comes from the seed and the run number. */
export async function soakRun(setup: SoakSetup, run: number): Promise<RunRecord> {
  const rng = rngFor(setup.seed, 'run', run);
  const command = rng.chance(0.2) ? 'reassemble' : rng.pick(COMMANDS);
  const dir = join(setup.workRoot, `run-${run}`);
  await mkdir(dir, { recursive: true });
  const args = await prepare(setup, command, dir, rng);
  const kill = chooseKill(rng, setup.image.size);
  const rate = command === 'reassemble' || rng.chance(0.15) ? 0 : rng.pick([0.05, 0.1, 0.2]);
  let mutated: (() => Promise<void>) | undefined;
  const mutation = command !== 'reassemble' && rng.chance(0.12);
  const beforeFirstObject = async () => {
    mutated = await mutate(setup, rng);
  };
  setup.proxy.startRun({
    key: `${setup.seed}/${run}`,
    rate,
    timeoutMs: setup.timeoutMs,
    ...(mutation ? { beforeFirstObject } : {}),
  });
  if (args.localFlip) setup.proxy.count('local-flip');

  const first = await runChild(args.argv, { ...childOpts(setup, dir), ...(kill ? { kill } : {}) });
  if (first.killed) setup.proxy.count(first.killed.toLowerCase() as FaultKind);
  const injected = setup.proxy.injected;
  await mutated?.();
  const exit = checkExit(first, injected, { stream: command === 'stream', retries: RETRIES });
  const problems = [...exit.problems, ...(await checkResult(setup, command, dir, first))];
  const record: RunRecord = {
    run,
    command,
    injected,
    outcome: exit.outcome,
    exit: first.signal ?? String(first.code),
    problems,
    evidence: problems.length ? [first.stderr] : [],
  };
  if (
    first.code !== 0 &&
    command !== 'stream' &&
    !args.localFlip &&
    !(await finished(setup, command, dir))
  ) {
    const before = problems.length;
    const again = await resume(setup, command, dir, args.argv, problems);
    record.resume = again.summary;
    if (problems.length > before) record.evidence.push(again.stderr);
  }
  return record;
}

interface Prepared {
  argv: string[];
  localFlip: boolean;
}

async function prepare(setup: SoakSetup, command: Command, dir: string, rng: Rng) {
  const ref = `${setup.image.container}/${setup.image.name}`;
  const g = setup.globalArgs;
  if (command === 'get') return { argv: [...g, 'get', ref, '-o', 'img.vhd'], localFlip: false };
  if (command === 'stream') return { argv: [...g, 'get', ref, '-o', '-'], localFlip: false };
  if (command === 'get-segments')
    return { argv: [...g, 'get-segments', ref, '--dir', 'segs'], localFlip: false };
  await cp(setup.pristineDir, join(dir, 'segs'), { recursive: true });
  const localFlip = rng.chance(0.15);
  if (localFlip) await flipLocalByte(join(dir, 'segs'), rng);
  const remove = rng.chance(0.5) ? ['--remove-segments'] : [];
  return { argv: [...g, 'reassemble', 'segs', '-o', 'out.vhd', ...remove], localFlip } as Prepared;
}

function chooseKill(rng: Rng, size: number): Kill | undefined {
  if (!rng.chance(0.3)) return undefined;
  const signal = rng.pick(['SIGINT', 'SIGINT', 'SIGINT', 'SIGTERM', 'SIGKILL', 'SIGKILL'] as const);
  return rng.chance(0.5)
    ? { signal, afterMs: rng.int(80, 1500) }
    : { signal, afterObjectBytes: rng.int(1, size - 1) };
}

/** Replaces a segment with other bytes of the same size, or deletes it; returns the undo. */
async function mutate(setup: SoakSetup, rng: Rng): Promise<() => Promise<void>> {
  const { admin, image } = setup;
  const segment = rng.pick(image.segments);
  const kind = rng.chance(0.5) ? 'replace' : 'delete';
  setup.proxy.count(kind);
  if (kind === 'replace') {
    const other = seededBytes(`replaced-${rng.next()}`, segment.data.length);
    await admin.put(image.segmentContainer, segment.name, other);
  } else {
    await admin.remove(image.segmentContainer, segment.name);
  }
  return () => admin.put(image.segmentContainer, segment.name, segment.data);
}

async function flipLocalByte(dir: string, rng: Rng): Promise<void> {
  const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
  const file = join(dir, rng.pick(files));
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const at = rng.int(0, size - 1);
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await fh.write(byte, 0, 1, at);
  } finally {
    await fh.close();
  }
}

function childOpts(setup: SoakSetup, dir: string) {
  return { cwd: dir, env: setup.env, proxy: setup.proxy, watchdogMs: 90_000 };
}

async function checkResult(
  setup: SoakSetup,
  command: Command,
  dir: string,
  r: ChildResult,
): Promise<string[]> {
  const ok = r.code === 0;
  const { image } = setup;
  const killed = r.killed !== undefined;
  if (command === 'get') return checkImageFile(join(dir, 'img.vhd'), image, ok, killed);
  if (command === 'reassemble') return checkImageFile(join(dir, 'out.vhd'), image, ok, killed);
  if (command === 'get-segments') return checkSegmentDir(join(dir, 'segs'), image, ok);
  if (ok && r.stdoutSha256 !== image.sha256) return ['exit 0 but stdout is not byte-identical'];
  return [];
}

/** Whether a killed get or reassemble had already saved the whole image (nothing to resume). */
async function finished(setup: SoakSetup, command: Command, dir: string): Promise<boolean> {
  const file = command === 'get' ? 'img.vhd' : command === 'reassemble' ? 'out.vhd' : undefined;
  return file !== undefined && (await sha256File(join(dir, file))) === setup.image.sha256;
}

/** What an earlier run left verified on disk, in bytes. */
async function keptBytes(setup: SoakSetup, command: Command, dir: string): Promise<number> {
  const { image } = setup;
  if (command === 'get-segments') return verifiedSegmentBytes(join(dir, 'segs'), image);
  if (command === 'reassemble') {
    const record = await readFile(join(dir, 'out.vhd.part.join.json'), 'utf8').catch(() => '');
    return record ? Number(JSON.parse(record).bytes ?? 0) : 0;
  }
  if (command !== 'get') return 0;
  const state = await readFile(join(dir, 'img.vhd.part.json'), 'utf8').catch(() => '');
  const done: number[] = state ? (JSON.parse(state).done ?? []) : [];
  return done.reduce((n, i) => n + (image.segments[i]?.data.length ?? 0), 0);
}

async function resume(
  setup: SoakSetup,
  command: Command,
  dir: string,
  argv: string[],
  problems: string[],
): Promise<{ summary: RunRecord['resume']; stderr: string }> {
  const kept = await keptBytes(setup, command, dir);
  const full = setup.image.size;
  setup.proxy.startRun(undefined);
  const again = await runChild(argv, childOpts(setup, dir));
  const fetched = setup.proxy.objectBytes;
  const exit = checkExit(again, new Map());
  problems.push(...exit.problems.map((p) => `resumed run: ${p}`));
  const result = await checkResult(setup, command, dir, again);
  problems.push(...result.map((p) => `resumed run: ${p}`));
  if (again.code !== 0) problems.push(`resumed run without faults exited ${again.code}`);
  if (command === 'reassemble' && kept > 0 && !/continuing: \d+ of \d+ segments/.test(again.stderr))
    problems.push(`resumed reassemble did not continue from the ${kept} bytes already joined`);
  if (fetched > full - kept)
    problems.push(`resumed run fetched ${fetched} bytes, but only ${full - kept} were left`);
  const summary = { outcome: exit.outcome, fetched, left: full - kept, full };
  return { summary, stderr: again.stderr };
}
