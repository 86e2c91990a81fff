/**
 * `npm run soak -- [--seed N] [--runs N] [--from N] [--keep]`: cfimg under chaos against the real Swift of
 * scripts/swift-saio.sh. A fault proxy (proxy.ts) sits in front of Swift and the Identity v2
 * front; each run drives the real binary through get, get -o -, get-segments or reassemble with
 * faults drawn from the seed (session.ts), checks the invariants (invariants.ts), and resumes
 * what did not finish. Exits 1 when any invariant was violated.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIdentityFront } from '../src/emulator/identity-front.js';
import { runChild, snapshotBinary } from './cfimg-child.js';
import { checkExit, checkSegmentDir } from './invariants.js';
import { FaultProxy } from './proxy.js';
import { formatReport, runLine, tally } from './report.js';
import { RETRIES, type RunRecord, type SoakSetup, soakRun } from './session.js';
import { type SaioAccount, SwiftAdmin } from './swift-admin.js';

const SEGMENTS = 12;
const SEGMENT_SIZE = 1 << 20;
const TIMEOUT_S = 1;

interface Args {
  seed: number;
  runs: number;
  /** The first run's number: `--from 30 --runs 1` replays run 30 of a session alone. */
  from: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seed: randomInt(1, 2 ** 31 - 1), runs: 200, from: 1, keep: false };
  const numeric = { '--seed': 'seed', '--runs': 'runs', '--from': 'from' } as const;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = Number(argv[i + 1]);
    if (flag === '--keep') args.keep = true;
    else if (flag && flag in numeric && Number.isSafeInteger(value) && value > 0) {
      args[numeric[flag as keyof typeof numeric]] = value;
      i++;
    } else throw new Error(`usage: soak [--seed N] [--runs N] [--from N] [--keep]; not ${flag}`);
  }
  return args;
}

async function saioAccount(): Promise<SaioAccount> {
  const dir = process.env.CFIMG_SAIO_DIR || '/tmp/cfimg-saio';
  const doc = JSON.parse(await readFile(join(dir, 'env.json'), 'utf8').catch(() => '{}'));
  const url = typeof doc.authV1Url === 'string' ? new URL(doc.authV1Url) : undefined;
  if (url?.hostname !== '127.0.0.1' || typeof doc.user !== 'string')
    throw new Error('no real Swift: start it with scripts/swift-saio.sh start');
  return { authV1Url: doc.authV1Url, user: doc.user, key: doc.key };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`soak: seed ${args.seed}, ${args.runs} runs`);
  const account = await saioAccount();
  const admin = new SwiftAdmin(account);
  await admin.signIn();
  const swiftPort = Number(new URL(account.authV1Url).port);
  const proxy = new FaultProxy(swiftPort);
  await proxy.listen();
  const front = await startIdentityFront({ authV1Url: `${proxy.url}/auth/v1.0` });
  proxy.identityPort = Number(new URL(front.url).port);
  const workRoot = await mkdtemp(join(tmpdir(), 'cfimg-soak-'));
  await snapshotBinary(join(workRoot, 'package'));
  const image = await admin.uploadImage(`${args.seed}-${process.pid}`, SEGMENTS, SEGMENT_SIZE);
  const started = Date.now();
  const records: RunRecord[] = [];
  try {
    const setup: SoakSetup = {
      seed: args.seed,
      proxy,
      admin,
      image,
      env: childEnv(workRoot, `${proxy.url}/v2.0`, account),
      globalArgs: [
        '--retries',
        String(RETRIES),
        '--timeout',
        String(TIMEOUT_S),
        '--concurrency',
        '4',
      ],
      timeoutMs: TIMEOUT_S * 1000,
      pristineDir: join(workRoot, 'pristine'),
      workRoot,
    };
    await baseline(setup);
    for (let run = args.from; run < args.from + args.runs; run++) {
      const record = await soakRun(setup, run);
      records.push(record);
      console.log(runLine(record));
      if (!args.keep) await rm(join(workRoot, `run-${run}`), { recursive: true, force: true });
    }
  } finally {
    await admin.removeImage(image).catch(() => undefined);
    await front.close();
    await proxy.close();
    if (!args.keep) await rm(workRoot, { recursive: true, force: true });
  }
  const totals = tally(records);
  console.log(formatReport(totals, args.seed, (Date.now() - started) / 1000));
  return totals.violations.length === 0 ? 0 : 1;
}

function childEnv(root: string, authUrl: string, account: SaioAccount): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    XDG_CACHE_HOME: join(root, 'cache'),
    CF_AUTH_URL: authUrl,
    CF_USERNAME: account.user,
    CF_API_KEY: account.key,
    CF_RETRY_BASE_MS: '50',
    NO_COLOR: '1',
  };
}

/** A fault-free get-segments: the directory reassemble runs start from, and a sanity check. */
async function baseline(setup: SoakSetup): Promise<void> {
  setup.proxy.startRun(undefined);
  const ref = `${setup.image.container}/${setup.image.name}`;
  const r = await runChild([...setup.globalArgs, 'get-segments', ref, '--dir', 'pristine'], {
    cwd: setup.workRoot,
    env: setup.env,
    proxy: setup.proxy,
    watchdogMs: 60_000,
  });
  const problems = [
    ...checkExit(r, new Map()).problems,
    ...(await checkSegmentDir(setup.pristineDir, setup.image, r.code === 0)),
  ];
  if (r.code !== 0 || problems.length)
    throw new Error(`the fault-free baseline failed (exit ${r.code}): ${r.stderr}${problems}`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`soak: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
