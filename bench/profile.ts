/**
 * `node .tools/bench/profile.js [--quick] [--pipe] [-- extra cfimg flags]`: one `cfimg get` of
 * the benchmark's image under `node --cpu-prof`, then the functions with the most self time.
 * The image must have been uploaded by a run of the benchmark.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startIdentityFront } from '../src/emulator/identity-front.js';
import { CONTAINER } from './images.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}

const { values: args, positionals } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    pipe: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

const root = resolve(import.meta.dirname, '..', '..');
const cache = join(root, '.bench-cache');
const profDir = join(cache, 'prof');

async function imageObject(): Promise<string> {
  const segmentSize = args.quick ? 16 << 20 : 64 << 20;
  for (const name of await readdir(cache)) {
    if (!name.endsWith('.vhd.json')) continue;
    const image = JSON.parse(await readFile(join(cache, name), 'utf8'));
    if (image.segments.length === 16 && image.segmentSize === segmentSize) return image.object;
  }
  throw new Error('no cached image: run the benchmark once first');
}

/** Self time per function (name, file, line), in ms, largest first. */
function topFunctions(nodes: ProfileNode[], totalMs: number, samples: number): string[] {
  const self = new Map<string, number>();
  for (const node of nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + node.hitCount);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 30)
    .map(([key, hits]) => `${((hits / samples) * totalMs).toFixed(0).padStart(6)} ms  ${key}`);
}

async function main(): Promise<void> {
  const object = await imageObject();
  const front = await startIdentityFront({ authV1Url: 'http://127.0.0.1:8380/auth/v1.0' });
  await rm(profDir, { recursive: true, force: true });
  const out = join(cache, 'profile.out');
  const argv = [
    '--cpu-prof',
    `--cpu-prof-dir=${profDir}`,
    'bin/cfimg.js',
    ...['--auth-url', front.url, '--username', 'test:tester', '--api-key', 'testing'],
    ...positionals,
    ...['get', `${CONTAINER}/${object}`, '--force', '-o', args.pipe ? '-' : out],
  ];
  const started = performance.now();
  // Not spawnSync: the Identity front answers from this process's event loop.
  const child = spawn('node', argv, {
    cwd: root,
    stdio: ['ignore', args.pipe ? 'ignore' : 'inherit', 'inherit'],
    env: { ...process.env, XDG_CACHE_HOME: join(cache, 'xdg') },
  });
  const status = await new Promise<number | null>((done) => child.on('close', done));
  const seconds = (performance.now() - started) / 1000;
  await front.close();
  await rm(out, { force: true });
  if (status !== 0) throw new Error(`cfimg exited ${status}`);

  const file = (await readdir(profDir)).find((n) => n.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(await readFile(join(profDir, file), 'utf8'));
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  process.stdout.write(`wall ${seconds.toFixed(2)} s; profile ${join(profDir, file)}\n`);
  process.stdout.write(
    `${topFunctions(profile.nodes, totalMs, profile.samples.length).join('\n')}\n`,
  );
}

await main();
