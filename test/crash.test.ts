import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crashMessage } from '../src/cli/main.js';
import { runCli } from './support/cli.js';

describe('an error nothing caught', () => {
  it('is one line with every secret of the run masked, and no stack unless --verbose', async () => {
    const key = 'canary-key-7f3a9c';
    await runCli(['--api-key', key, '--username', 'u', '--retries', 'x', 'head', 'a/b']);

    const line = crashMessage(new Error(`socket hang up while sending ${key}`));

    expect(line).toBe(
      'cfimg: unexpected error: socket hang up while sending [redacted] ' +
        '(run with --verbose for details)',
    );
  });

  it('ends the real binary with exit 1 and that line, never a raw stack', () => {
    // A rejection nobody awaits, while cfimg runs: what a future bug would look like.
    const bin = join(process.cwd(), 'bin', 'cfimg.js');
    const script = `await import(${JSON.stringify(bin)}); Promise.reject(new Error('boom'));`;
    let status = 0;
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', script, 'cfimg', '--version'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(1);
    expect(stderr).toBe('cfimg: unexpected error: boom (run with --verbose for details)\n');
  });
});
