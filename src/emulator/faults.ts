/**
 * Scriptable fault injection. A test adds rules; each applies to the next `times` requests that
 * match it (first added, first served; one rule per request). Faults apply to every request the
 * emulator answers, identity included, and are checked before the token is.
 */

/** Which requests a rule applies to. Every given field must match. */
export interface FaultMatch {
  /** HTTP method, case-insensitive. */
  method?: string;
  /**
   * The percent-decoded path. A string matches as a prefix of either the full path
   * (`/dfw/v1/MossoCloudFS_x/images/a.vhd`) or, for storage requests, the path below the
   * account (`/images/a.vhd`); a RegExp is tested against both the same way.
   */
  path?: string | RegExp;
  /** Query parameters that must be present with these values ('' matches any value). */
  query?: Record<string, string>;
}

/** Answer with this status (and a Swift-style body) instead of serving the request. */
export interface StatusFault {
  status: number;
  headers?: Record<string, string>;
  /** A string is sent as UTF-8; a Buffer as it is (a body of chosen bytes). */
  body?: string | Buffer;
}

/** Close the connection at once, before any response: the client sees a reset. */
export interface ResetFault {
  reset: true;
}

/** Damage or slow down the response body; the options combine. */
export interface StreamFault {
  /** Send the headers and this many body bytes, then destroy the socket. */
  dropAfterBytes?: number;
  /** Invert the body byte at this offset (relative to the body sent). */
  flipByteAt?: number;
  /** Wait this long before the headers, or after `stallAfterBytes` body bytes when given. */
  stallMs?: number;
  stallAfterBytes?: number;
  /** Send the body at most this fast. */
  throttleBytesPerSec?: number;
}

export type FaultAction = StatusFault | ResetFault | StreamFault;

export interface FaultRule {
  match?: FaultMatch;
  /** How many matching requests this rule applies to; default 1, `Infinity` for all. */
  times?: number;
  action: FaultAction;
}

/** A rule once added: how often it fired and how often it still will. */
export interface FaultHandle {
  readonly rule: FaultRule;
  readonly hits: number;
  readonly remaining: number;
  /** Stops the rule from applying to any further request. */
  cancel(): void;
}

/** What a request looks like to the fault matcher. */
export interface FaultTarget {
  method: string;
  path: string;
  /** The path below the account for storage requests. */
  objectPath?: string;
  query: URLSearchParams;
}

class Handle implements FaultHandle {
  hits = 0;
  remaining: number;

  constructor(readonly rule: FaultRule) {
    this.remaining = rule.times ?? 1;
  }

  cancel(): void {
    this.remaining = 0;
  }
}

/** The emulator's list of pending faults. */
export class FaultScript {
  private handles: Handle[] = [];

  /** Adds a rule; it applies to the next `times` (default 1) matching requests. */
  add(rule: FaultRule): FaultHandle {
    const handle = new Handle(rule);
    this.handles.push(handle);
    return handle;
  }

  /** Removes every rule. */
  clear(): void {
    this.handles = [];
  }

  /** Rules that will still fire. */
  get pending(): FaultHandle[] {
    return this.handles.filter((h) => h.remaining > 0);
  }

  /** The action for this request, if a rule matches; counts the hit. */
  take(target: FaultTarget): FaultAction | undefined {
    const handle = this.handles.find((h) => h.remaining > 0 && matches(h.rule.match, target));
    if (handle === undefined) return undefined;
    handle.remaining -= 1;
    handle.hits += 1;
    this.handles = this.handles.filter((h) => h.remaining > 0 || h === handle);
    return handle.rule.action;
  }
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method) return false;
  if (match.path !== undefined && !pathMatches(match.path, target)) return false;
  for (const [key, value] of Object.entries(match.query ?? {})) {
    const actual = target.query.get(key);
    if (actual === null || (value !== '' && actual !== value)) return false;
  }
  return true;
}

function pathMatches(pattern: string | RegExp, target: FaultTarget): boolean {
  const candidates = [target.path, target.objectPath].filter((p) => p !== undefined);
  return candidates.some((p) =>
    typeof pattern === 'string' ? p.startsWith(pattern) : new RegExp(pattern).test(p),
  );
}

/** True for an action that replaces the response with a status. */
export function isStatusFault(action: FaultAction | undefined): action is StatusFault {
  return action !== undefined && 'status' in action;
}

/** True for an action that resets the connection. */
export function isResetFault(action: FaultAction | undefined): action is ResetFault {
  return action !== undefined && 'reset' in action;
}

/** The streaming part of an action, if any. */
export function streamFault(action: FaultAction | undefined): StreamFault | undefined {
  return action === undefined || isStatusFault(action) || isResetFault(action) ? undefined : action;
}
