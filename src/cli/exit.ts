/**
 * The single map from errors to exit statuses and the one line printed for them. Nothing else
 * in cfimg decides an exit status.
 */
import { CfimgError, type ErrorCode, InterruptedError } from '../core/errors.js';
import type { Redactor } from '../core/redact.js';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  integrity: 3,
  auth: 4,
  notFound: 5,
  transfer: 6,
  interrupted: 130,
  terminated: 143,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  E_USAGE: EXIT.usage,
  E_CONFIG: EXIT.usage,
  E_INTEGRITY: EXIT.integrity,
  E_AUTH: EXIT.auth,
  E_NOT_FOUND: EXIT.notFound,
  E_TRANSFER: EXIT.transfer,
  E_LOCAL_IO: EXIT.failure,
  E_INTERRUPTED: EXIT.interrupted,
  E_INTERNAL: EXIT.failure,
};

/** The text of the exit codes, for --help and the README. */
export const EXIT_HELP: [number, string][] = [
  [0, 'success: every byte verified'],
  [1, 'unexpected error, or a local I/O failure (disk full, permission denied)'],
  [2, 'usage or configuration error (bad arguments, missing credentials, unknown region)'],
  [3, 'integrity mismatch (size, MD5 or manifest ETag)'],
  [4, 'authentication failed (wrong key or password, 403)'],
  [5, 'container or object not found'],
  [6, 'transfer failed after retries (or Identity unreachable)'],
  [130, 'interrupted (SIGINT); 143 for SIGTERM'],
];

/** A command run on the user's behalf (by `cfimg demo`) failed and has said why already. */
export class StepFailedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The exit status for an error. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof StepFailedError) return err.status;
  if (err instanceof InterruptedError)
    return err.signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted;
  if (err instanceof CfimgError) return BY_CODE[err.code];
  return EXIT.failure;
}

/** The one line (plus the stack when verbose) printed on stderr for an error, secrets masked. */
export function messageFor(err: unknown, redactor: Redactor, verbose: boolean): string {
  const text = err instanceof Error ? err.message : String(err);
  const known = err instanceof CfimgError || err instanceof StepFailedError;
  let line = `cfimg: ${known ? '' : 'unexpected error: '}${text.split('\n')[0]}`;
  if (!known && !verbose) line += ' (run with --verbose for details)';
  // A usage error's stack shows only where cfimg parsed the command line.
  const usage = err instanceof CfimgError && (err.code === 'E_USAGE' || err.code === 'E_CONFIG');
  if (verbose && !usage && err instanceof Error && err.stack) {
    line += `\n${err.stack}`;
    let cause = err.cause;
    while (cause instanceof Error) {
      line += `\ncaused by: ${cause.stack ?? cause.message}`;
      cause = cause.cause;
    }
  }
  return redactor.redact(line);
}
