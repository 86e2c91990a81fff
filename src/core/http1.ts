/**
 * A lean HTTP/1.1 client for the bytes cfimg exists to move. undici copies every
 * body chunk into its WebAssembly parser's memory and back out and runs a Readable per
 * response; on the benchmark that cost about 1.1 CPU seconds per GiB, a fifth of the whole
 * download. Here a body is only framed (Content-Length, chunked, or until close) and handed on
 * as the socket's own buffers, with backpressure by pausing the socket. Errors carry undici's
 * codes (`UND_ERR_SOCKET`, `UND_ERR_BODY_TIMEOUT`...) so the retry policy treats both alike.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface Http1Options {
  insecure?: boolean;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** How long an idle keep-alive socket is kept for the next request. */
  keepAliveMs?: number;
  /** Idle sockets kept per origin; more are closed. */
  maxIdle?: number;
}

export interface Http1Request {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  origin: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** The parts of undici's body that cfimg uses, so callers need not know which client ran. */
export interface ResponseBody extends AsyncIterable<Buffer> {
  /**
   * The rest of the body as views of the connection's read buffer, each valid only until the
   * next one is asked for: no memory is allocated per read, so none is left for the GC. For
   * consumers that are done with (or have copied) each chunk before they ask for the next.
   */
  borrowed?(): AsyncIterable<Buffer>;
  dump(): Promise<void>;
  destroy(err?: Error): void;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface Http1Response {
  status: number;
  headers: Record<string, string | string[]>;
  body: ResponseBody;
}

const MAX_HEAD = 64 * 1024;
/** Read buffer of a plain TCP connection, reused for every read (see `borrowed`). */
const READ_BUFFER = 256 * 1024;

/** Where a connection's reads go: the exchange using it; false from it pauses the socket. */
const readers = new WeakMap<Socket, (view: Buffer) => boolean>();
/** Bytes queued before the socket is paused: a few reads, so memory stays flat. */
const HIGH_WATER = 512 * 1024;

function failure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function abortError(): Error {
  return Object.assign(new Error('This operation was aborted'), {
    name: 'AbortError',
    code: 'UND_ERR_ABORTED',
  });
}

/** Parses a response head (status line and headers, without the blank line). */
export function parseHead(text: string): {
  status: number;
  headers: Record<string, string | string[]>;
} {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw failure('UND_ERR_SOCKET', `malformed status line: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers[name];
    headers[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return { status: Number(m[1]), headers };
}

/** Splits a body off the socket stream: by length, by chunked framing, or up to the close. */
class Framer {
  #left: number;
  #chunked: boolean;
  #line = '';
  #state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  done = false;

  constructor(length: number | undefined, chunked: boolean) {
    this.#left = length ?? Number.POSITIVE_INFINITY;
    this.#chunked = chunked;
    if (!chunked && length === 0) this.done = true;
  }

  get untilClose(): boolean {
    return !this.#chunked && this.#left === Number.POSITIVE_INFINITY;
  }

  /** Body bytes in `data`, in order; sets `done` when the body is complete. */
  feed(data: Buffer, out: (chunk: Buffer) => void): void {
    if (!this.#chunked) {
      const chunk = data.length > this.#left ? data.subarray(0, this.#left) : data;
      if (chunk.length > 0) out(chunk);
      this.#left -= chunk.length;
      if (this.#left === 0) this.done = true;
      return;
    }
    let at = 0;
    while (at < data.length && !this.done) {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, data.length - at);
        out(data.subarray(at, at + n));
        at += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'crlf';
        continue;
      }
      const nl = data.indexOf(10, at);
      this.#line += data.toString('latin1', at, nl < 0 ? data.length : nl + 1);
      if (this.#line.length > 4096) throw failure('UND_ERR_SOCKET', 'malformed chunked body');
      if (nl < 0) return;
      at = nl + 1;
      const line = this.#line.trim();
      this.#line = '';
      this.#nextState(line);
    }
  }

  #nextState(line: string): void {
    if (this.#state === 'crlf') {
      this.#state = 'size';
    } else if (this.#state === 'trailer') {
      if (line === '') this.done = true;
    } else {
      const size = Number.parseInt(line.split(';')[0] ?? '', 16);
      if (!Number.isSafeInteger(size) || size < 0)
        throw failure('UND_ERR_SOCKET', `malformed chunk size ${JSON.stringify(line)}`);
      this.#left = size;
      this.#state = size === 0 ? 'trailer' : 'data';
    }
  }
}

/** Keep-alive sockets per origin and the requests that use them. */
export class Http1Pool {
  readonly #opts: Http1Options;
  readonly #idle = new Map<string, Socket[]>();

  constructor(opts: Http1Options) {
    this.#opts = opts;
  }

  /** Sends a request; resolves on the response head. The body must be read or dumped. */
  async request(req: Http1Request): Promise<Http1Response> {
    const reused = this.#takeIdle(req.origin);
    if (reused) {
      try {
        return await this.#exchange(reused, req, true);
      } catch (err) {
        // A keep-alive socket the server closed meanwhile: try once on a new one.
        if ((err as { stale?: boolean }).stale !== true) throw err;
      }
    }
    return this.#exchange(await this.#connect(req), req, false);
  }

  close(): void {
    for (const list of this.#idle.values()) for (const socket of list) socket.destroy();
    this.#idle.clear();
  }

  #takeIdle(origin: string): Socket | undefined {
    const list = this.#idle.get(origin) ?? [];
    for (let socket = list.pop(); socket; socket = list.pop()) {
      socket.removeAllListeners('timeout').removeAllListeners('error').removeAllListeners('close');
      socket.setTimeout(0);
      if (!socket.destroyed && socket.readable) return socket.ref();
      socket.destroy();
    }
    return undefined;
  }

  #release(origin: string, socket: Socket): void {
    if (socket.destroyed) return;
    readers.delete(socket);
    socket.removeAllListeners('data').removeAllListeners('end').removeAllListeners('error');
    socket.removeAllListeners('close').removeAllListeners('timeout');
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      const list = this.#idle.get(origin);
      if (list?.includes(socket)) list.splice(list.indexOf(socket), 1);
    });
    socket.setTimeout(this.#opts.keepAliveMs ?? 4000, () => socket.destroy());
    socket.unref();
    const list = this.#idle.get(origin) ?? [];
    if (list.length >= (this.#opts.maxIdle ?? 8)) {
      socket.destroy();
      return;
    }
    list.push(socket);
    this.#idle.set(origin, list);
  }

  #connect(req: Http1Request): Promise<Socket> {
    const url = new URL(req.origin);
    const tls = url.protocol === 'https:';
    const port = Number(url.port) || (tls ? 443 : 80);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      if (req.signal?.aborted) return reject(abortError());
      const socket: Socket = tls
        ? tlsConnect({
            host,
            port,
            ALPNProtocols: ['http/1.1'],
            rejectUnauthorized: !this.#opts.insecure,
            ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
          })
        : netConnect({
            host,
            port,
            onread: {
              buffer: Buffer.allocUnsafe(READ_BUFFER),
              callback: (n: number, buf: Uint8Array): boolean =>
                readers.get(socket)?.(Buffer.from(buf.buffer, buf.byteOffset, n)) ?? true,
            },
          });
      socket.setNoDelay(true);
      const done = (err?: Error) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        socket.removeListener('error', done);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve(socket);
      };
      const onAbort = () => done(abortError());
      const timer = setTimeout(
        () => done(failure('UND_ERR_CONNECT_TIMEOUT', `connect to ${req.origin} timed out`)),
        this.#opts.connectTimeoutMs,
      );
      req.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', done);
      socket.once(tls ? 'secureConnect' : 'connect', () => done());
    });
  }

  #exchange(socket: Socket, req: Http1Request, reused: boolean): Promise<Http1Response> {
    const url = new URL(req.origin);
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const length =
      body || req.method === 'POST' || req.method === 'PUT' ? (body?.length ?? 0) : undefined;
    const all = {
      host: url.host,
      ...req.headers,
      ...(length === undefined ? {} : { 'content-length': String(length) }),
    };
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(all)) {
      if (/[\r\n]/.test(name + value + req.path)) {
        socket.destroy();
        return Promise.reject(new Error(`header ${name} or the path has a line break`));
      }
      head += `${name}: ${value}\r\n`;
    }
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(socket, req, this.#opts, reused, {
        onHead: resolve,
        onError: reject,
        onComplete: (keepAlive) => {
          if (keepAlive) this.#release(req.origin, socket);
          else socket.destroy();
        },
      });
      exchange.start(`${head}connection: keep-alive\r\n\r\n`, body);
    });
  }
}

interface ExchangeEvents {
  onHead: (res: Http1Response) => void;
  onError: (err: Error) => void;
  onComplete: (keepAlive: boolean) => void;
}

/** One request and response on a socket: the head parse, then the body as a queue. */
class Exchange {
  #head: Buffer[] = [];
  #headBytes = 0;
  #framer: Framer | undefined;
  #keepAlive = true;
  #queue: Buffer[] = [];
  #queued = 0;
  #error: Error | undefined;
  #finished = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #gotBytes = false;
  /** Whether the consumer takes views of the read buffer (see `borrowed`). */
  #borrowing = false;
  private readonly signal: AbortSignal | undefined;
  private readonly head: boolean;

  constructor(
    private readonly socket: Socket,
    req: Http1Request,
    private readonly opts: Http1Options,
    private readonly reused: boolean,
    private readonly events: ExchangeEvents,
  ) {
    this.signal = req.signal;
    this.head = req.method === 'HEAD';
  }

  start(request: string, body?: Buffer): void {
    if (this.signal?.aborted) {
      this.#fail(abortError());
      return;
    }
    this.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if ('encrypted' in this.socket) this.socket.on('data', (data: Buffer) => this.#onData(data));
    else readers.set(this.socket, (view) => this.#onRead(view));
    this.socket.on('end', () => this.#onEnd());
    this.socket.on('close', () => this.#onEnd());
    this.socket.on('error', (err) => this.#fail(this.#stale(err)));
    this.socket.on('timeout', () =>
      this.#fail(failure('UND_ERR_BODY_TIMEOUT', 'Body Timeout Error')),
    );
    this.#timer = setTimeout(
      () => this.#fail(failure('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error')),
      this.opts.headersTimeoutMs,
    );
    this.socket.write(body ? Buffer.concat([Buffer.from(request, 'latin1'), body]) : request);
  }

  readonly #onAbort = () => this.#fail(abortError());

  /** An error on a reused socket before any answer means the server had closed it. */
  #stale(err: Error): Error {
    return this.reused && !this.#gotBytes ? Object.assign(err, { stale: true }) : err;
  }

  /** A read into the connection's reused buffer: copied, or lent to a borrowing consumer. */
  #onRead(view: Buffer): boolean {
    if (!this.#borrowing) {
      this.#onData(Buffer.from(view));
      return true;
    }
    this.#onData(view);
    if (!this.#finished && this.#queue.length > 0) {
      this.socket.pause(); // until the consumer is done with the view (net.Socket stops reading)
      this.socket.setTimeout(0);
    }
    return true;
  }

  #onData(data: Buffer): void {
    this.#gotBytes = true;
    try {
      if (!this.#framer) {
        this.#onHeadData(data);
        return;
      }
      this.#framer.feed(data, (chunk) => this.#push(chunk));
      if (this.#framer.done) this.#complete();
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #onHeadData(data: Buffer): void {
    this.#head.push(data);
    this.#headBytes += data.length;
    const all = this.#head.length === 1 ? data : Buffer.concat(this.#head);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.#headBytes > MAX_HEAD) throw failure('UND_ERR_HEADERS_OVERFLOW', 'head too large');
      this.#head = [all];
      return;
    }
    const { status, headers } = parseHead(all.toString('latin1', 0, end));
    const rest = all.subarray(end + 4);
    this.#head = [];
    this.#headBytes = 0;
    if (status >= 100 && status < 200) {
      if (rest.length > 0) this.#onHeadData(rest);
      return;
    }
    clearTimeout(this.#timer);
    this.#framer = this.#framerFor(status, headers);
    this.#armBodyTimeout();
    this.events.onHead({ status, headers, body: this.#body() });
    if (rest.length > 0) this.#onData(rest);
    else if (this.#framer.done) this.#complete();
  }

  #framerFor(status: number, headers: Record<string, string | string[]>): Framer {
    const one = (name: string) => {
      const v = headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    if (/\bclose\b/i.test(one('connection') ?? '')) this.#keepAlive = false;
    if (this.head || status === 204 || status === 304) return new Framer(0, false);
    const chunked = /\bchunked\b/i.test(one('transfer-encoding') ?? '');
    const length = one('content-length');
    if (!chunked && length !== undefined && !/^\d+$/.test(length))
      throw failure('UND_ERR_SOCKET', `malformed Content-Length ${JSON.stringify(length)}`);
    const framer = new Framer(
      chunked || length === undefined ? undefined : Number(length),
      chunked,
    );
    if (framer.untilClose) this.#keepAlive = false;
    return framer;
  }

  /** The read timeout runs while the socket reads, not while the consumer holds it paused. */
  #armBodyTimeout(): void {
    this.socket.setTimeout(this.opts.bodyTimeoutMs);
  }

  #push(chunk: Buffer): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued >= HIGH_WATER && !this.socket.isPaused()) {
      this.socket.pause();
      this.socket.setTimeout(0);
    }
    this.#wakeUp();
  }

  #complete(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#detach();
    // The rest of the body is queued here: the socket can serve the next request already,
    // which will read into the buffer that lent views are of.
    if (this.#borrowing) this.#queue = this.#queue.map((view) => Buffer.from(view));
    this.socket.resume();
    this.events.onComplete(this.#keepAlive);
    this.#wakeUp();
  }

  #onEnd(): void {
    if (this.#finished) return;
    if (this.#framer?.untilClose) this.#complete();
    else this.#fail(this.#stale(failure('UND_ERR_SOCKET', 'other side closed')));
  }

  #fail(err: Error): void {
    if (this.#finished) return;
    this.#error = err;
    this.#finished = true;
    this.#detach();
    this.socket.destroy();
    if (!this.#framer) this.events.onError(err);
    this.#wakeUp();
  }

  #detach(): void {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener('abort', this.#onAbort);
    this.socket.setTimeout(0);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        if (!this.#borrowing && this.#queued < HIGH_WATER) this.#resume();
        return { value: chunk, done: false };
      }
      if (this.#error) throw this.#error;
      if (this.#finished) return { value: undefined, done: true };
      // Every view lent so far is given back by this call: the buffer may be read into again.
      if (this.#borrowing) this.#resume();
      await new Promise<void>((wake) => {
        this.#wake = wake;
      });
    }
  }

  #resume(): void {
    if (this.#finished || !this.socket.isPaused()) return;
    this.#armBodyTimeout();
    this.socket.resume();
  }

  /** Stops reading: the socket is closed unless the body had already been read to its end. */
  #destroy(): void {
    this.#queue = [];
    this.#queued = 0;
    if (!this.#finished) this.#fail(failure('UND_ERR_ABORTED', 'body destroyed'));
  }

  #body(): ResponseBody {
    const collect = async () => {
      const parts: Buffer[] = [];
      for await (const chunk of iterable) parts.push(chunk);
      return Buffer.concat(parts).toString('utf8');
    };
    const iterator = () => ({
      next: () => this.#next(),
      return: async (): Promise<IteratorResult<Buffer>> => {
        this.#destroy();
        return { value: undefined, done: true };
      },
    });
    const iterable: ResponseBody = {
      [Symbol.asyncIterator]: iterator,
      borrowed: () => {
        this.#borrowing = true;
        return { [Symbol.asyncIterator]: iterator };
      },
      dump: async () => this.#destroy(),
      destroy: () => this.#destroy(),
      text: collect,
      json: async () => JSON.parse(await collect()),
    };
    return iterable;
  }
}
