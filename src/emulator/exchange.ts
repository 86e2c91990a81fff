/**
 * One request and its response: Swift's common headers, error bodies, the request log entry, and
 * a body sink that respects backpressure and applies the stream faults (drop, flip, stall,
 * throttle) so every handler gets them for free.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StreamFault } from './faults.js';

/** What the emulator records about each request. */
export interface RequestLogEntry {
  method: string;
  /**
   * The percent-decoded path; for storage requests the part below the account
   * (`/container/object`, `/` for the account itself), so tests need not know the storage URL.
   */
  path: string;
  /** The whole percent-decoded path, e.g. `/dfw/v1/MossoCloudFS_123456/images/a.vhd`. */
  fullPath: string;
  query: Record<string, string>;
  /** The Range header, if any. */
  range: string | undefined;
  requestHeaders: Record<string, string | string[] | undefined>;
  transId: string;
  /** Set for storage requests: the region in the URL and whether it was the ServiceNet one. */
  region?: string;
  internal?: boolean;
  container?: string;
  object?: string;
  /** The status sent, once the headers went out. */
  status?: number;
  /** Body bytes written to the socket. */
  bytesSent: number;
  /** A description of the fault applied, if one was. */
  fault?: string;
  /** True when the body ended early: the server cut it, or the client went away. */
  aborted: boolean;
  startedAt: number;
  headersAt?: number;
  endedAt?: number;
}

/** Swift's `X-Trans-Id`: `tx` + 21 hex digits + `-` + the time in hex. */
export function newTransId(): string {
  const time = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(10, '0');
  return `tx${randomBytes(11).toString('hex').slice(0, 21)}-${time}`;
}

const REASONS: Record<number, [string, string]> = {
  202: ['Accepted', 'The request is accepted for processing.'],
  400: [
    'Bad Request',
    'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  ],
  401: [
    'Unauthorized',
    'This server could not verify that you are authorized to access the document you requested.',
  ],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  405: ['Method Not Allowed', 'The method is not allowed for this resource.'],
  409: ['Conflict', 'There was a conflict when trying to complete your request.'],
  411: ['Length Required', 'Content-Length header required.'],
  413: ['Request Entity Too Large', 'The body of your request was too large for this server.'],
  416: ['Requested Range Not Satisfiable', 'The Range requested is not available.'],
  422: ['Unprocessable Entity', 'Unable to process the contained instructions'],
  429: ['Too Many Requests', 'The server is rate limited.'],
  500: [
    'Internal Error',
    'The server has either erred or is incapable of performing the requested operation.',
  ],
  502: ['Bad Gateway', 'Bad gateway.'],
  503: [
    'Service Unavailable',
    'The server is currently unavailable. Please try again at a later time.',
  ],
  504: ['Gateway Timeout', 'A timeout has occurred speaking to a backend server.'],
};

/** Swift's default body for an error status (swob's `<html><h1>…`), or '' when it has none. */
export function reasonBody(status: number): string {
  const reason = REASONS[status];
  return reason === undefined ? '' : `<html><h1>${reason[0]}</h1><p>${reason[1]}</p></html>`;
}

export type Headers = Record<string, string | number>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A request being answered. Handlers call `send` or `begin` + `write`… + `end`/`cut`. */
export class Exchange {
  private open = true;
  private stalled = false;
  private throttleStart = 0;
  private sent = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly entry: RequestLogEntry,
    private readonly fault: StreamFault | undefined,
  ) {
    res.on('close', () => {
      entry.endedAt ??= Date.now();
      if (!res.writableFinished) this.abort();
    });
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** A request header's (first) value. */
  header(name: string): string | undefined {
    const value = this.req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  /** True while the body may still be written (the client is there and nothing cut it). */
  get writable(): boolean {
    return this.open;
  }

  /** Sends the status line and headers, with `X-Trans-Id` and friends added. */
  begin(status: number, headers: Headers): void {
    const all: Headers = {
      ...headers,
      'X-Trans-Id': this.entry.transId,
      'X-Openstack-Request-Id': this.entry.transId,
    };
    this.entry.status = status;
    this.entry.headersAt = Date.now();
    this.res.writeHead(status, all);
  }

  /** A complete response with a small body (skipped for HEAD, Content-Length kept). */
  async send(status: number, headers: Headers, body: Buffer | string = ''): Promise<void> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    this.begin(status, { 'Content-Length': bytes.length, ...headers });
    if (this.method !== 'HEAD' && bytes.length > 0) await this.write(bytes);
    this.end();
  }

  /** An error status with Swift's HTML body (none for HEAD, and then Content-Length 0). */
  sendError(
    status: number,
    headers: Headers = {},
    body: string | Buffer = reasonBody(status),
  ): Promise<void> {
    const sent = this.method === 'HEAD' ? '' : body;
    return this.send(status, { 'Content-Type': 'text/html; charset=UTF-8', ...headers }, sent);
  }

  /**
   * Writes body bytes, waiting while the socket is full. Returns false once the body must stop
   * (client gone, or a fault cut it), so producers stop generating.
   */
  async write(chunk: Buffer): Promise<boolean> {
    let rest = this.flip(chunk);
    while (rest.length > 0) {
      if (!this.open) return false;
      const event = await this.atEvent();
      if (event === 'drop') return this.dropNow();
      const n = Math.min(rest.length, this.room());
      await this.writePiece(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
    return this.open;
  }

  /** Finishes the response normally. */
  end(): void {
    if (!this.open) return;
    this.res.end();
    this.entry.endedAt = Date.now();
  }

  /** A premature end: destroys the socket after what was written, as Swift does mid-stream. */
  cut(): void {
    if (!this.open) return;
    this.abort();
    this.destroyAfterFlush();
  }

  private abort(): void {
    this.open = false;
    this.entry.aborted = true;
  }

  private flip(chunk: Buffer): Buffer {
    const at = this.fault?.flipByteAt;
    if (at === undefined || at < this.sent || at >= this.sent + chunk.length) return chunk;
    const copy = Buffer.from(chunk);
    copy[at - this.sent] = (copy[at - this.sent] ?? 0) ^ 0xff;
    return copy;
  }

  private async atEvent(): Promise<'drop' | undefined> {
    const f = this.fault;
    if (f?.dropAfterBytes !== undefined && this.sent >= f.dropAfterBytes) return 'drop';
    const stallAt = f?.stallAfterBytes;
    if (stallAt !== undefined && !this.stalled && this.sent >= stallAt) {
      this.stalled = true;
      await sleep(f?.stallMs ?? 0);
    }
    return undefined;
  }

  /** How many bytes may go before the next fault event or throttle step. */
  private room(): number {
    const f = this.fault;
    let room = Number.POSITIVE_INFINITY;
    if (f?.dropAfterBytes !== undefined) room = Math.min(room, f.dropAfterBytes - this.sent);
    if (f?.stallAfterBytes !== undefined && !this.stalled) {
      room = Math.min(room, f.stallAfterBytes - this.sent);
    }
    if (f?.throttleBytesPerSec !== undefined) {
      room = Math.min(room, Math.max(1, Math.floor(f.throttleBytesPerSec / 20)));
    }
    return Math.max(1, room);
  }

  private async writePiece(piece: Buffer): Promise<void> {
    const rate = this.fault?.throttleBytesPerSec;
    if (rate !== undefined) {
      if (this.throttleStart === 0) this.throttleStart = Date.now();
      const due = this.throttleStart + (this.sent / rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      if (!this.open) return;
    }
    const flushed = this.res.write(piece);
    this.sent += piece.length;
    this.entry.bytesSent = this.sent;
    if (!flushed) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  private dropNow(): false {
    this.abort();
    this.entry.fault = `dropped after ${this.sent} bytes`;
    this.destroyAfterFlush();
    return false;
  }

  /**
   * Destroys the socket once the bytes written so far have reached it: node:http corks the
   * socket for a tick after each write, so destroying at once would lose them.
   */
  private destroyAfterFlush(): void {
    if (!this.res.headersSent) this.res.flushHeaders();
    const destroy = () => this.res.destroy();
    this.res.write(Buffer.alloc(0), destroy);
    setTimeout(destroy, 50).unref();
  }
}
