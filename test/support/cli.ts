/** Runs cfimg in-process with injected argv, environment and captured streams. */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** SHA-256 of stdout, hex. */
  stdoutSha256: string;
}

class Capture extends Writable {
  chunks: Buffer[] = [];
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    done();
  }
}

export async function runCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const env = { HOME: process.env.HOME, CF_RETRY_BASE_MS: '10', ...opts.env };
  const code = await main(['node', 'cfimg', ...args], {
    stdout,
    stderr,
    env,
    cwd: opts.cwd ?? process.cwd(),
  });
  const out = Buffer.concat(stdout.chunks);
  return {
    code,
    stdout: out,
    stderr: Buffer.concat(stderr.chunks).toString('utf8'),
    stdoutSha256: createHash('sha256').update(out).digest('hex'),
  };
}

/** SHA-256 of a buffer, hex. */
export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
