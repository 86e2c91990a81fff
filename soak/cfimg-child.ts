/**
 * Runs the real binary (`node bin/cfimg.js`) as a child process, hashing stdout as it streams,
 * and kills it with SIGINT, SIGTERM or SIGKILL at a chosen moment: after a delay, or once the proxy has
 * forwarded a number of object bytes. A watchdog kills a run that hangs; that is a violation.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultProxy } from './proxy.js';

let bin = join(process.cwd(), 'bin', 'cfimg.js');

/**
 * Copies bin/ and dist/ into `dir` and runs that copy from then on, so a rebuild in the checkout
 * during a long soak cannot hand a run a half-written module.
 */
export async function snapshotBinary(dir: string): Promise<void> {
  await cp(join(process.cwd(), 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(process.cwd(), 'dist'), join(dir, 'dist'), { recursive: true });
  await cp(join(process.cwd(), 'package.json'), join(dir, 'package.json'));
  await symlink(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'));
  bin = join(dir, 'bin', 'cfimg.js');
}

export type KillSignal = 'SIGINT' | 'SIGTERM' | 'SIGKILL';

export interface Kill {
  signal: KillSignal;
  afterMs?: number;
  afterObjectBytes?: number;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdoutSha256: string;
  stderr: string;
  /** The signal sent, if it was sent before the child ended. */
  killed?: KillSignal;
  hung: boolean;
  ms: number;
}

export interface ChildOptions {
  cwd: string;
  env: Record<string, string>;
  proxy: FaultProxy;
  kill?: Kill;
  watchdogMs: number;
}

export function runChild(args: string[], opts: ChildOptions): Promise<ChildResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sha = createHash('sha256');
  let stderr = '';
  let killed: ChildResult['killed'];
  let hung = false;
  let exited = false;
  child.stdout.on('data', (d: Buffer) => sha.update(d));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });

  const kill = (signal: KillSignal) => {
    if (exited || killed) return;
    killed = signal;
    child.kill(signal);
  };
  const timers: NodeJS.Timeout[] = [];
  const { kill: plan } = opts;
  if (plan?.afterMs !== undefined) timers.push(setTimeout(() => kill(plan.signal), plan.afterMs));
  if (plan?.afterObjectBytes !== undefined) {
    const limit = plan.afterObjectBytes;
    opts.proxy.onObjectBytes = (total) => {
      if (total >= limit) kill(plan.signal);
    };
  }
  timers.push(
    setTimeout(() => {
      hung = true;
      if (!exited) child.kill('SIGKILL');
    }, opts.watchdogMs),
  );

  return new Promise((resolve) => {
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      opts.proxy.onObjectBytes = undefined;
      resolve({
        code,
        signal,
        stdoutSha256: sha.digest('hex'),
        stderr,
        ...(killed ? { killed } : {}),
        hung,
        ms: Date.now() - started,
      });
    });
  });
}
