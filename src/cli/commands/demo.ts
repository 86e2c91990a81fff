/**
 * `cfimg demo`: a newcomer's first five minutes. It starts the Cloud Files emulator on
 * 127.0.0.1 with an exported image (a valid fixed VHD over more than ten segments, named the way
 * Cloud Images names them), then runs the real commands against it as a user would, printing each
 * one first: `head`, `get` with a dropped connection to recover from, `verify --vhd`, `list
 * --full`, `get-segments` and `reassemble`. It stops with the first failing command's status.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { type Emulator, startEmulator } from '../../emulator/index.js';
import { fixedVhdImage } from '../../emulator/vhd-image.js';
import type { Context } from '../context.js';
import { StepFailedError } from '../exit.js';
import type { Io } from '../reporter.js';

/** Runs one cfimg command line in this process and answers its exit status. */
export type RunCfimg = (args: string[], io: Io) => Promise<number>;

export interface DemoFlags {
  size?: string;
  dir?: string;
}

const MIB = 1024 * 1024;
const DEFAULT_SIZE_MIB = 300;
const MIN_SIZE_MIB = 16;

export async function demoCommand(ctx: Context, flags: DemoFlags, run: RunCfimg): Promise<void> {
  const sizeMib = parseSize(flags.size);
  const keep = flags.dir !== undefined;
  const dir = keep
    ? resolve(ctx.io.cwd, flags.dir as string)
    : await mkdtemp(join(ctx.io.env.TMPDIR || tmpdir(), 'cfimg-demo-'));
  if (keep) await mkdir(dir, { recursive: true });

  const emulator = await startEmulator({ regions: ['ORD', 'DFW', 'IAD'], dloRateLimit: true });
  const name = `${randomUUID()}.vhd`;
  const image = fixedVhdImage({ size: sizeMib * MIB, seed: name });
  // Thirteen segments or so, the last one short: segment 10 onwards is where a glob goes wrong.
  const segmentSize = Math.floor(sizeMib / 12.5) * MIB;
  const { segments } = emulator.uploadImage({
    container: 'exports',
    name,
    content: image,
    segmentSize,
  });
  const say = (text: string) => ctx.io.stderr.write(`${text}\n`);
  say(
    `demo: a Cloud Files emulator on ${emulator.url} holds exports/${name}, an exported ` +
      `fixed VHD of ${sizeMib} MiB in ${segments.length} segments (-00001 to -${pad(segments.length)})`,
  );

  try {
    await steps(ctx, emulator, { name, dir, segmentSize, run, say });
    say(`demo: done: ${join(dir, name)} is the exported image, every segment's MD5 checked`);
    if (!keep) say('demo: removed the demo files; run `cfimg demo --dir DIR` to keep them');
  } finally {
    await emulator.close();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

interface DemoSetup {
  name: string;
  dir: string;
  segmentSize: number;
  run: RunCfimg;
  say(text: string): void;
}

async function steps(ctx: Context, emulator: Emulator, setup: DemoSetup): Promise<void> {
  const { name, dir, say } = setup;
  const env: Record<string, string | undefined> = {
    ...ctx.io.env,
    CF_AUTH_URL: emulator.authUrl,
    CF_USERNAME: 'demo',
    CF_API_KEY: 'demo-key',
    CF_REGION: 'ORD',
  };
  for (const v of ['CF_PASSWORD', 'CF_STORAGE_URL', 'CF_AUTH_TOKEN', 'CF_SNET']) delete env[v];
  const io: Io = { ...ctx.io, env, cwd: dir };
  const step = async (why: string, args: string[]) => {
    say(`\ndemo: ${why}\n$ cfimg ${args.map(quote).join(' ')}`);
    const status = await setup.run(['--no-token-cache', ...args], io);
    if (status !== 0)
      throw new StepFailedError(status, `demo: \`cfimg ${args[0]}\` exited ${status}`);
  };

  say(`\n$ export CF_AUTH_URL=${emulator.authUrl} CF_USERNAME=demo CF_API_KEY=… CF_REGION=ORD`);
  say(`$ cd ${dir}`);
  const object = `exports/${name}`;
  await step('what is this object? (a DLO: a manifest over segments)', ['head', object]);

  // The third segment's connection drops halfway, as a flaky link would.
  emulator.faults.add({
    match: { method: 'GET', path: `/exports/${name}-00003` },
    action: { dropAfterBytes: setup.segmentSize / 2 },
  });
  await step('download it; the link drops once mid-segment and cfimg resumes with Range', [
    'get',
    object,
  ]);
  await step('check the file: each segment-sized slice against the listed MD5s, and the VHD', [
    'verify',
    '--vhd',
    object,
    name,
  ]);
  await step('the segments behind it, as Swiftly lists them', ['list', '--full', 'exports']);
  await step('the manual recipe, step 1: fetch the segments, each verified', [
    'get-segments',
    object,
    '--dir',
    'segments',
  ]);
  await step('step 2: join them in listing order (segment 10 onwards included)', [
    'reassemble',
    'segments',
    '-o',
    `reassembled-${name}`,
    '--remove-segments',
  ]);
}

function parseSize(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SIZE_MIB;
  const n = Number(text);
  if (!Number.isInteger(n) || n < MIN_SIZE_MIB || n > 64 * 1024)
    throw new UsageError(
      `--size ${text}: give a whole number of MiB from ${MIN_SIZE_MIB} to 65536`,
    );
  return n;
}

function pad(n: number): string {
  return String(n).padStart(5, '0');
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
