/**
 * Runs one timed command: wall time measured here, peak RSS and CPU seconds from GNU time
 * (`/usr/bin/time -v`), which wraps the process whose resources the row reports.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';

/** What one run cost. */
export interface Sample {
  seconds: number;
  /** Peak resident set of the measured process (the largest one, for a group), in MiB. */
  rssMiB: number;
  /** User plus system CPU seconds of the measured process and its children. */
  cpuSeconds: number;
  /** CPU seconds the Swift servers spent meanwhile (all their clients', on a shared bed). */
  serverCpuSeconds: number;
}

const TICKS_PER_SECOND = 100;

/**
 * CPU seconds used so far by the test bed's Swift servers: the processes whose command line
 * names a config in `<state>/etc/` (every server and its workers, ended children included).
 */
export async function serverCpu(stateDir: string): Promise<number> {
  let ticks = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(`${stateDir}/etc/`)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime, stime, and cutime, cstime: a child that ended moves its time to its parent
      ticks += [11, 12, 13, 14].reduce((n, i) => n + Number(fields[i]), 0);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Quotes a word for `sh`. */
export function sh(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `/usr/bin/time -v -o FILE` before a command, as a shell fragment. */
export function timed(statsFile: string, command: string): string {
  return `/usr/bin/time -v -o ${sh(statsFile)} ${command}`;
}

/** Runs `script` with `sh -c`; resolves with its stdout, rejects with stderr on failure. */
export function run(
  script: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve({ stdout, seconds });
      else reject(new Error(`exit ${code}: ${script}\n${stderr}`));
    });
  });
}

/** Peak RSS (MiB) and user+sys seconds from a `time -v` report. */
export async function readStats(
  statsFile: string,
): Promise<Omit<Sample, 'seconds' | 'serverCpuSeconds'>> {
  const text = await readFile(statsFile, 'utf8');
  await rm(statsFile, { force: true });
  const num = (label: string) => {
    const m = new RegExp(`${label}: ([\\d.]+)`).exec(text);
    if (!m) throw new Error(`no '${label}' in the time -v report:\n${text}`);
    return Number(m[1]);
  };
  return {
    rssMiB: num('Maximum resident set size \\(kbytes\\)') / 1024,
    cpuSeconds: num('User time \\(seconds\\)') + num('System time \\(seconds\\)'),
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
