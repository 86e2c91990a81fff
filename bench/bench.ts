/**
 * `npm run bench [-- --quick] [-- --rounds N] [-- --only a,b]`: cfimg against the swift CLI,
 * rclone, curl and the machine's limits, on DLOs in the test bed's real Swift, round by round
 * with the order rotated each round, medians reported. Prints Markdown to stdout and keeps a
 * full run in bench/results/latest.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startIdentityFront } from '../src/emulator/identity-front.js';
import { type BenchImage, ensureImage, type ImageSpec, signIn } from './images.js';
import type { Sample } from './measure.js';
import { raw, type Samples, summarize, table, targets } from './report.js';
import {
  type BenchContext,
  cfimgFile,
  cfimgPipeCount,
  cfimgPipeMd5,
  curlDlo,
  curlSegments,
  curlSegmentsFileMd5,
  curlSegmentsPipeMd5,
  curlSegmentsTeeMd5,
  type Job,
  rclone,
  swiftCli,
} from './tools.js';

const MiB = 2 ** 20;
const BIG = '4 GiB: ';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    'no-big': { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..', '..');
const cacheDir = join(root, '.bench-cache');

const small: ImageSpec = args.quick
  ? { label: '256 MiB DLO, 16 x 16 MiB', segments: 16, segmentSize: 16 * MiB }
  : { label: '1 GiB DLO, 16 x 64 MiB', segments: 16, segmentSize: 64 * MiB };
const big: ImageSpec = { label: '4 GiB DLO, 64 x 64 MiB', segments: 64, segmentSize: 64 * MiB };

const jobs: Job[] = [
  cfimgFile,
  cfimgPipeCount,
  cfimgPipeMd5,
  swiftCli,
  rclone,
  curlDlo,
  curlSegments,
  curlSegmentsFileMd5,
  curlSegmentsPipeMd5,
  curlSegmentsTeeMd5,
];
const bigJobs: Job[] = [cfimgFile, cfimgPipeCount];

function pick(list: Job[]): Job[] {
  if (!args.only) return list;
  const wanted = args.only.split(',');
  return list.filter((job) => wanted.some((w) => job.name.includes(w)));
}

/** The first line of a command's output, or 'unknown'. */
function firstLine(cmd: string, argv: string[], env?: NodeJS.ProcessEnv): string {
  try {
    const out = execFileSync(cmd, argv, { encoding: 'utf8', env: env ?? process.env });
    return out.trim().split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}

function machineFacts(): string {
  const swift = firstLine('dpkg-query', ['-W', 'swift']).split(/\s+/)[1];
  const curl = firstLine('curl', ['--version']).split(' ').slice(0, 2).join(' ');
  const client = firstLine('swift', ['--version'], { PATH: '/usr/bin:/bin' });
  return [
    `- date: ${new Date().toISOString()}; cfimg at ${firstLine('git', ['rev-parse', '--short', 'HEAD'])}`,
    `- machine: nproc ${firstLine('nproc', [])}, ${cpus()[0]?.model ?? '?'}, Linux ${firstLine('uname', ['-r'])}`,
    `- node ${process.version}; Swift ${swift} (proxy and object server: 2 workers each)`,
    `- ${client}; ${firstLine('rclone', ['version'])}; ${curl}`,
  ].join('\n');
}

async function runRound(
  ctx: BenchContext,
  list: Job[],
  image: BenchImage,
  round: number,
  samples: Samples,
  prefix = '',
): Promise<void> {
  const order = list.map((_, i) => list[(i + round) % list.length] as Job);
  for (const job of order) {
    const got = await job.run(ctx, image);
    for (const [row, sample] of Object.entries(got)) {
      const name = prefix + row;
      if (!samples.has(name)) samples.set(name, []);
      (samples.get(name) as Sample[]).push(sample);
      process.stderr.write(
        `bench: round ${round + 1} ${name}: ${sample.seconds.toFixed(2)} s, ${sample.rssMiB.toFixed(0)} MiB, ${sample.cpuSeconds.toFixed(2)} CPU s, server ${sample.serverCpuSeconds.toFixed(2)} CPU s\n`,
      );
    }
  }
}

async function main(): Promise<void> {
  execFileSync(join(root, 'scripts/swift-saio.sh'), ['start'], { stdio: 'inherit' });
  const v1 = { authUrl: 'http://127.0.0.1:8380/auth/v1.0', user: 'test:tester', key: 'testing' };
  const grant = await signIn(v1);
  const smallImage = await ensureImage(grant, small, cacheDir);
  const runBig = !args.quick && !args['no-big'];
  const bigImage = runBig ? await ensureImage(grant, big, cacheDir) : undefined;

  const work = join(cacheDir, 'work');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const front = await startIdentityFront({ authV1Url: v1.authUrl });
  const ctx: BenchContext = {
    root,
    work,
    identityUrl: front.url,
    v1,
    grant,
    env: { ...process.env, XDG_CACHE_HOME: join(cacheDir, 'xdg') },
    saioDir: process.env.CFIMG_SAIO_DIR ?? '/tmp/cfimg-saio',
  };
  process.chdir(root);

  const samples: Samples = new Map();
  const rounds = Number(args.rounds);
  try {
    for (let r = 0; r < rounds; r++) {
      await runRound(ctx, pick(jobs), smallImage, r, samples);
      if (bigImage) await runRound(ctx, pick(bigJobs), bigImage, r, samples, BIG);
    }
  } finally {
    await front.close();
    await rm(work, { recursive: true, force: true });
  }

  const rows = summarize(samples, (row) =>
    row.startsWith(BIG) ? (bigImage?.size ?? 0) : smallImage.size,
  );
  const doc = [
    `# cfimg benchmark${args.quick ? ' (quick)' : ''}`,
    '',
    machineFacts(),
    `- images: ${smallImage.label} (${smallImage.object})${bigImage ? `; ${bigImage.label} (${bigImage.object})` : ''}`,
    `- ${rounds} rounds, tool order rotated each round; medians; peak RSS is the highest round`,
    '',
    '## Table',
    '',
    table(rows),
    '',
    '## Targets',
    '',
    targets(rows, { file: BIG + cfimgFile.name, pipe: BIG + cfimgPipeCount.name }),
    '',
    '## Raw figures',
    '',
    raw(samples),
    '',
  ].join('\n');
  process.stdout.write(doc);
  const out =
    args.quick || args.only ? join(cacheDir, 'quick.md') : join(root, 'bench/results/latest.md');
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, doc);
  process.stderr.write(`bench: saved ${out}\n`);
}

await main();
