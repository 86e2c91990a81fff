/**
 * Runs one timed command: wall time measured here, peak RSS and CPU seconds from GNU time
 * (`/usr/bin/time -v`), which wraps the process whose resources the row reports.
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';

/** What one run cost. */
export interface Sample {
  seconds: number;
  /** Peak resident set of the measured process (the largest one, for a group), in MiB. */
  rssMiB: number;
  /** User plus system CPU seconds of the measured process and its children. */
  cpuSeconds: number;
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
export async function readStats(statsFile: string): Promise<Omit<Sample, 'seconds'>> {
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
