/**
 * The rows of the benchmark: how each tool is run against the test bed's Swift, and how its
 * output is checked before its time counts.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type BenchImage, CONTAINER, type Grant, objectUrl } from './images.js';
import { readStats, run, type Sample, serverCpu, sh, timed } from './measure.js';

export interface BenchContext {
  /** The project root: `node bin/cfimg.js` runs from here. */
  root: string;
  /** Where outputs and `time -v` reports go (removed after each run). */
  work: string;
  /** The Identity v2 front over tempauth. */
  identityUrl: string;
  /** tempauth v1 URL, user and key, as the peers sign in. */
  v1: { authUrl: string; user: string; key: string };
  grant: Grant;
  /** Environment of every command (the cfimg token cache lives in the bench cache). */
  env: NodeJS.ProcessEnv;
  /** The test bed's state directory, to find its server processes. */
  saioDir: string;
}

/** One timed job; it may yield several rows (the cfimg file is then hashed by md5sum). */
export interface Job {
  name: string;
  run(ctx: BenchContext, image: BenchImage): Promise<Record<string, Sample>>;
}

/** Debian's swift CLI needs the system python, not the pyenv one first on PATH. */
const SYSTEM_PATH = '/usr/bin:/bin';

/**
 * Runs the script that `script(statsFile)` builds (it puts `time -v -o statsFile` before the
 * process to report) and measures wall time and the servers' CPU around it.
 */
async function measured(
  ctx: BenchContext,
  script: (statsFile: string) => string,
  env: NodeJS.ProcessEnv = ctx.env,
): Promise<{ sample: Sample; stdout: string }> {
  const stats = join(ctx.work, 'run.time');
  const before = await serverCpu(ctx.saioDir);
  const { stdout, seconds } = await run(script(stats), env);
  const serverCpuSeconds = (await serverCpu(ctx.saioDir)) - before;
  return { stdout, sample: { ...(await readStats(stats)), seconds, serverCpuSeconds } };
}

async function md5Of(ctx: BenchContext, file: string): Promise<Sample & { md5: string }> {
  const { stdout, sample } = await measured(ctx, (stats) => timed(stats, `md5sum ${sh(file)}`));
  return { ...sample, md5: stdout.split(' ')[0] ?? '' };
}

/** Size and MD5 of a tool's output file; throws when they are not the image's; removes it. */
async function checkFile(ctx: BenchContext, image: BenchImage, file: string, who: string) {
  try {
    const size = (await stat(file)).size;
    if (size !== image.size) throw new Error(`${who}: ${size} bytes, expected ${image.size}`);
    const hashed = await md5Of(ctx, file);
    if (hashed.md5 !== image.md5)
      throw new Error(`${who}: MD5 ${hashed.md5}, expected ${image.md5}`);
    return hashed;
  } finally {
    await rm(file, { force: true });
  }
}

/** Runs `command` (a shell fragment that writes `file`) under time -v and checks the file. */
async function fileJob(
  ctx: BenchContext,
  image: BenchImage,
  who: string,
  command: (file: string) => string,
  env: NodeJS.ProcessEnv = ctx.env,
): Promise<{ sample: Sample; md5sum: Sample }> {
  const file = join(ctx.work, `${who.replace(/\W+/g, '-')}.out`);
  await rm(file, { force: true });
  const { sample } = await measured(ctx, (stats) => timed(stats, command(file)), env);
  const md5sum = await checkFile(ctx, image, file, who);
  return { sample, md5sum };
}

function cfimgArgs(ctx: BenchContext, image: BenchImage): string {
  return [
    'node bin/cfimg.js --quiet',
    `--auth-url ${sh(ctx.identityUrl)} --username ${sh(ctx.v1.user)} --api-key ${sh(ctx.v1.key)}`,
    `get ${sh(`${CONTAINER}/${image.object}`)}`,
  ].join(' ');
}

/** `cfimg get -o FILE`; the timed md5sum of its output is the hashing-limit row. */
export const cfimgFile: Job = {
  name: 'cfimg get -o FILE',
  async run(ctx, image) {
    const { sample, md5sum } = await fileJob(
      ctx,
      image,
      'cfimg',
      (file) => `${cfimgArgs(ctx, image)} -o ${sh(file)}`,
    );
    return { [this.name]: sample, 'md5sum of the file': md5sum };
  },
};

/** `cfimg get -o - | SINK`: time -v wraps cfimg alone, the wall time is the pipeline's. */
function cfimgPipe(sink: 'md5sum' | 'wc -c'): Job {
  return {
    name: `cfimg get -o - | ${sink}`,
    async run(ctx, image) {
      const cfimg = `${cfimgArgs(ctx, image)} -o -`;
      const { stdout, sample } = await measured(ctx, (stats) => {
        const script = `set -o pipefail; ${timed(stats, cfimg)} | ${sink}`;
        return `bash -c ${sh(script)}`;
      });
      const got = stdout.trim().split(/\s+/)[0];
      const want = sink === 'md5sum' ? image.md5 : String(image.size);
      if (got !== want) throw new Error(`${this.name}: got ${got}, expected ${want}`);
      return { [this.name]: sample };
    },
  };
}

export const cfimgPipeMd5 = cfimgPipe('md5sum');
export const cfimgPipeCount = cfimgPipe('wc -c');

export const swiftCli: Job = {
  name: 'swift download',
  async run(ctx, image) {
    const { v1 } = ctx;
    const { sample } = await fileJob(
      ctx,
      image,
      'swift',
      (file) =>
        `swift -A ${sh(v1.authUrl)} -U ${sh(v1.user)} -K ${sh(v1.key)} download ${CONTAINER} ${sh(image.object)} -o ${sh(file)}`,
      { ...ctx.env, PATH: SYSTEM_PATH },
    );
    return { [this.name]: sample };
  },
};

export const rclone: Job = {
  name: 'rclone copyto',
  async run(ctx, image) {
    const env = {
      ...ctx.env,
      RCLONE_CONFIG: join(ctx.work, 'no-rclone.conf'),
      RCLONE_CONFIG_BENCH_TYPE: 'swift',
      RCLONE_CONFIG_BENCH_AUTH: ctx.v1.authUrl,
      RCLONE_CONFIG_BENCH_USER: ctx.v1.user,
      RCLONE_CONFIG_BENCH_KEY: ctx.v1.key,
    };
    const { sample } = await fileJob(
      ctx,
      image,
      'rclone',
      (file) => `rclone copyto -q ${sh(`bench:${CONTAINER}/${image.object}`)} ${sh(file)}`,
      env,
    );
    return { [this.name]: sample };
  },
};

function curlToken(ctx: BenchContext): string {
  return `curl -sS -f -H ${sh(`X-Auth-Token: ${ctx.grant.token}`)}`;
}

export const curlDlo: Job = {
  name: 'curl of the DLO (1 stream)',
  async run(ctx, image) {
    const url = objectUrl(ctx.grant, image.object);
    const { sample } = await fileJob(
      ctx,
      image,
      'curl',
      (file) => `${curlToken(ctx)} -o ${sh(file)} ${sh(url)}`,
    );
    return { [this.name]: sample };
  },
};

/** The server's limit: 4 curls share the segments and throw the bytes away; sizes counted. */
export const curlSegments: Job = {
  name: '4 curls of the segments (limit)',
  async run(ctx, image) {
    const lanes = [0, 1, 2, 3].map((lane) => {
      const mine = image.segments.filter((_, i) => i % 4 === lane);
      const urls = mine.map((s) => `-o /dev/null ${sh(objectUrl(ctx.grant, s))}`).join(' ');
      return `${curlToken(ctx)} -w '%{size_download}\\n' ${urls} &`;
    });
    const { stdout, sample } = await measured(ctx, (stats) =>
      timed(stats, `sh -c ${sh(`${lanes.join(' ')} wait`)}`),
    );
    const bytes = stdout
      .split('\n')
      .filter(Boolean)
      .reduce((n, line) => n + Number(line), 0);
    if (bytes !== image.size)
      throw new Error(`${this.name}: ${bytes} bytes, expected ${image.size}`);
    return { [this.name]: sample };
  },
};

/** How a floor lane treats each segment: hashed from a pipe, from a file, or both at once. */
type FloorKind = 'pipe' | 'file' | 'tee';

const FLOOR_NAMES: Record<FloorKind, string> = {
  pipe: '4 curls | md5sum per segment (floor)',
  file: '4 curls -o FILE, md5sum of each (floor)',
  tee: '4 curls | tee FILE | md5sum, files kept (floor)',
};

/**
 * The verified floors: the same 4 lanes, each segment through md5sum and compared with the
 * listing. `pipe` hashes the stream and keeps nothing; `file` saves each segment, hashes it
 * from the file and deletes it (its dirty pages never reach the disk); `tee` streams each
 * segment into a file it keeps while hashing it, writing the whole image's bytes as a download
 * must. What any verifying client must at least pay on this machine: the server plus MD5 (plus
 * the page cache copy, and for `tee` the writeback).
 */
function curlSegmentsMd5(kind: FloorKind): Job {
  const fetch: Record<FloorKind, (curl: string) => string> = {
    pipe: (curl) => `${curl} "$u" | md5sum`,
    file: (curl) => `${curl} -o seg "$u" && md5sum < seg && rm seg`,
    tee: (curl) => `n=$((n+1)); ${curl} "$u" | tee seg$n | md5sum`,
  };
  return {
    name: FLOOR_NAMES[kind],
    async run(ctx, image) {
      const lanes = [0, 1, 2, 3].map((lane) => {
        const mine = image.segments.filter((_, i) => i % 4 === lane);
        const urls = mine.map((s) => sh(objectUrl(ctx.grant, s))).join(' ');
        const loop = `n=0; for u in ${urls}; do ${fetch[kind](curlToken(ctx))}; done > ../lane${lane}`;
        return `(mkdir -p l${lane} && cd l${lane} && ${loop}) &`;
      });
      const script = `cd ${sh(ctx.work)}; ${lanes.join(' ')} wait; cat lane0 lane1 lane2 lane3`;
      const { stdout, sample } = await measured(ctx, (stats) =>
        timed(stats, `sh -c ${sh(script)}`),
      );
      const kept = kind === 'tee' ? await keptBytes(ctx.work) : image.size;
      await Promise.all([0, 1, 2, 3].map((l) => rm(join(ctx.work, `l${l}`), { recursive: true })));
      if (kept !== image.size)
        throw new Error(`${this.name}: ${kept} bytes kept, not ${image.size}`);
      const got = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ')[0]);
      const want = [0, 1, 2, 3].flatMap((lane) =>
        image.segmentMd5s.filter((_, i) => i % 4 === lane),
      );
      if (got.join() !== want.join()) throw new Error(`${this.name}: segment MD5s differ`);
      return { [this.name]: sample };
    },
  };
}

/** Bytes of the segment files the `tee` floor left in its lane directories. */
async function keptBytes(work: string): Promise<number> {
  let bytes = 0;
  for (const lane of [0, 1, 2, 3]) {
    const dir = join(work, `l${lane}`);
    for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
  }
  return bytes;
}

export const curlSegmentsPipeMd5 = curlSegmentsMd5('pipe');
export const curlSegmentsFileMd5 = curlSegmentsMd5('file');
export const curlSegmentsTeeMd5 = curlSegmentsMd5('tee');
