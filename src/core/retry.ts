/**
 * The retry policy: a pure decision from an error and the attempt number, and a runner that
 * lets p-retry count attempts while this module decides which errors deserve another try and
 * how long to wait (exponential backoff with full jitter, or the server's Retry-After).
 */
import pRetry, { AbortError } from 'p-retry';
import { CfimgError } from './errors.js';

/** Statuses worth another try: timeouts, throttling, and server-side trouble. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504, 507]);

/** Codes (Node's, and undici's as http1.ts uses them) of a connection that broke or never came up. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'CFIMG_MALFORMED_BODY',
  // A body that ended cleanly before its length: the engine resumes it from the last byte.
  'CFIMG_SHORT_BODY',
]);

/** An HTTP answer that the caller could not use; it carries what the retry policy needs. */
export class StatusError extends Error {
  readonly status: number;
  readonly transId: string | undefined;
  /** Milliseconds the server asked us to wait (Retry-After), if any. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, transId?: string, retryAfterMs?: number) {
    super(message);
    this.name = 'StatusError';
    this.status = status;
    this.transId = transId;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A listing, manifest or token document that does not parse: damaged on the way, so retried. */
export class MalformedBodyError extends Error {
  readonly code = 'CFIMG_MALFORMED_BODY';

  constructor(message: string) {
    super(message);
    this.name = 'MalformedBodyError';
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** First backoff step in ms; doubled each attempt, capped by maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };

/** Whether an error is transient: a retryable status or a broken connection. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StatusError) return RETRYABLE_STATUS.has(err.status);
  if (err instanceof CfimgError) return false;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/**
 * How long to wait before attempt `attempt + 1` (attempt counts from 1). Retry-After wins
 * when present (capped at maxDelayMs * 4); otherwise full jitter over an exponential window.
 */
export function retryDelay(
  err: unknown,
  attempt: number,
  policy: RetryPolicy,
  random = Math.random,
): number {
  if (err instanceof StatusError && err.retryAfterMs !== undefined) {
    return Math.min(err.retryAfterMs, policy.maxDelayMs * 4);
  }
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** Called before waiting; `delayMs` is the pause about to start. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** When true for an error, the attempt does not use up the budget (e.g. progress was made). */
  isFree?: (err: unknown) => boolean;
}

/** Runs `fn` until it succeeds, a non-transient error occurs, or the budget is spent. */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  let attempt = 0;
  let free = false; // decided once per failure, in onFailedAttempt, which p-retry calls first
  return pRetry(
    async () => {
      attempt += 1;
      try {
        return await fn(attempt);
      } catch (err) {
        if (!isTransient(err) || hooks.signal?.aborted) throw new AbortError(asError(err));
        throw err;
      }
    },
    {
      retries: policy.retries,
      minTimeout: 0,
      maxTimeout: 0,
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      shouldConsumeRetry: () => !free,
      onFailedAttempt: async ({ error, retriesLeft }) => {
        free = hooks.isFree?.(error) ?? false;
        if (retriesLeft <= 0 && !free) return;
        const delayMs = free ? 0 : retryDelay(error, attempt, policy);
        hooks.onRetry?.(error, attempt, delayMs);
        await sleep(delayMs, hooks.signal);
      },
    },
  ).catch((err: unknown) => {
    throw unwrap(err);
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** p-retry wraps errors passed to AbortError; give callers the original back. */
function unwrap(err: unknown): unknown {
  if (err instanceof AbortError) return err.originalError;
  return err;
}

/** A pause that ends early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
