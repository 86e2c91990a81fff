/**
 * The error family of cfimg. Every error the core raises is a CfimgError with a stable string
 * `code`; the CLI maps codes to exit statuses in exactly one place (src/cli/exit.ts).
 */

/** Stable error codes. Scripts and tests match on these, never on messages. */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_INTEGRITY'
  | 'E_AUTH'
  | 'E_NOT_FOUND'
  | 'E_TRANSFER'
  | 'E_LOCAL_IO'
  | 'E_INTERRUPTED'
  | 'E_INTERNAL';

/** Base of every error cfimg raises on purpose. */
export class CfimgError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad arguments or options: the user can fix the command line. */
export class UsageError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_USAGE', message, options);
  }
}

/** Missing or contradictory configuration (credentials, region, endpoint). */
export class ConfigError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** Bytes, sizes or hashes that do not match what the server says they should be. */
export class IntegrityError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_INTEGRITY', message, options);
  }
}

/** Identity refused the credentials, or storage refused the token twice, or 403. */
export class AuthError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_AUTH', message, options);
  }
}

/** A container or object that does not exist. */
export class NotFoundError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_NOT_FOUND', message, options);
  }
}

/** A local file system failure: disk full, permission denied, missing directory. */
export class LocalIOError extends CfimgError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LOCAL_IO', message, options);
  }
}

/** The run was stopped by a signal; `signal` tells which, `next` what the user can do now. */
export class InterruptedError extends CfimgError {
  readonly signal: NodeJS.Signals;

  constructor(signal: NodeJS.Signals, next?: string) {
    super('E_INTERRUPTED', `interrupted by ${signal}${next ? `: ${next}` : ''}`);
    this.signal = signal;
  }
}

/** What a failed HTTP exchange tells support desks: method, URL, status and Swift's trans id. */
export interface HttpFailure {
  method: string;
  /** URL without credentials or query secrets. */
  url: string;
  status?: number;
  transId?: string;
}

/**
 * A transfer that failed after the retry budget, or a status with no better meaning.
 * Carries the last status and the `X-Trans-Id` so the message can quote them.
 */
export class TransferError extends CfimgError {
  readonly failure: HttpFailure;

  constructor(message: string, failure: HttpFailure, options?: { cause?: unknown }) {
    super('E_TRANSFER', message, options);
    this.failure = failure;
  }
}

/** Whether `err` is a CfimgError of the given code. */
export function hasCode(err: unknown, code: ErrorCode): err is CfimgError {
  return err instanceof CfimgError && err.code === code;
}
