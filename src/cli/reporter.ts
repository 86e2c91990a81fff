/**
 * Everything cfimg says besides the user's data goes through the Reporter, to stderr: warnings,
 * notes, the verbose timeline and progress. stdout is left for object bytes, listings and JSON.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { HttpEvent } from '../core/http.js';
import type { Redactor } from '../core/redact.js';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  cwd: string;
}

export class Reporter {
  readonly color: ChalkInstance;
  readonly #started = performance.now();

  constructor(
    readonly io: Io,
    readonly redactor: Redactor,
    readonly opts: { verbose: boolean; quiet: boolean; color: boolean },
  ) {
    this.color = new Chalk({ level: opts.color && io.stderr.isTTY ? 1 : 0 });
  }

  /** A line on stderr, masked. */
  line(text: string): void {
    this.io.stderr.write(`${this.redactor.redact(text)}\n`);
  }

  /** A note the user wants unless --quiet. */
  info(text: string): void {
    if (!this.opts.quiet) this.line(text);
  }

  /** Warnings show even under --quiet: they are about the user's data. */
  warn(text: string): void {
    this.line(this.color.yellow(`cfimg: warning: ${text}`));
  }

  /** A verbose line with the time since start, like Swiftly's log. */
  verbose(text: string): void {
    if (!this.opts.verbose) return;
    const t = ((performance.now() - this.#started) / 1000).toFixed(2);
    this.line(this.color.dim(`VERBOSE ${t} ${text}`));
  }

  /** The HTTP timeline in the verbose log. */
  http(event: HttpEvent): void {
    if (!this.opts.verbose) return;
    if (event.kind === 'request') {
      const headers = Object.entries(event.headers)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join('  ');
      this.verbose(`#${event.id} > ${event.method} ${event.url}  ${headers}`);
    } else if (event.kind === 'response') {
      this.verbose(
        `#${event.id} < ${event.status} in ${event.ms.toFixed(0)} ms${event.transId ? ` ${event.transId}` : ''}`,
      );
    } else {
      this.verbose(`#${event.id} ! ${event.message} after ${event.ms.toFixed(0)} ms`);
    }
  }
}

/** Bytes in binary units: 1.5 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}
