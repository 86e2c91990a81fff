/**
 * The soak's fault-injecting HTTP proxy, in front of the real Swift and the Identity v2 front.
 * `/v2.0/...` goes to the front, everything else to Swift with the Host header kept, so tempauth
 * hands out storage URLs that point back at the proxy and every storage request passes through
 * it. Each run sets its faults; the proxy decides per request (see rng.ts) and counts what it
 * injected, by kind, and the object bytes it forwarded.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer, Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { rngFor } from './rng.js';

/** Every fault the soak injects; the proxy injects the network ones. */
export const FAULT_KINDS = [
  'drop',
  'flip',
  'listing-flip',
  'burst503',
  'burst429',
  'stall',
  'unauthorized',
  'replace',
  'delete',
  'sigint',
  'sigterm',
  'sigkill',
  'local-flip',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

type RequestClass = 'identity' | 'tempauth' | 'head' | 'listing' | 'object' | 'other';

/** The faults of one cfimg invocation. */
export interface RunFaults {
  /** Identifies the run in the decision hash, e.g. `seed/run/attempt`. */
  key: string;
  /** Probability that a request (not already in a burst) gets a fault. */
  rate: number;
  /** cfimg's read timeout: stalls last longer than this. */
  timeoutMs: number;
  /** Runs once, before the first object GET is forwarded: mutates the image after the listing. */
  beforeFirstObject?: () => Promise<void>;
}

const KINDS_BY_CLASS: Record<RequestClass, FaultKind[]> = {
  identity: ['burst503', 'drop', 'stall'],
  tempauth: [],
  head: ['burst503', 'burst429', 'unauthorized', 'drop', 'stall'],
  listing: ['burst503', 'burst429', 'unauthorized', 'drop', 'stall', 'listing-flip'],
  object: ['drop', 'flip', 'burst503', 'burst429', 'stall', 'unauthorized', 'drop', 'flip'],
  other: [],
};

interface BodyFault {
  kind: FaultKind;
  /** Where in the body the fault bites, as a fraction of its length. */
  at: number;
  stallMs?: number;
}

export class FaultProxy {
  url = '';
  identityPort = 0;
  /** Faults injected in the current run, by kind. */
  injected = new Map<FaultKind, number>();
  /** Object body bytes forwarded to cfimg in the current run. */
  objectBytes = 0;
  onObjectBytes: ((total: number) => void) | undefined;

  readonly #server: Server;
  readonly #agent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
  readonly #sockets = new Set<Socket>();
  #faults: RunFaults | undefined;
  #seen = new Map<string, number>();
  #burst: { status: number; left: number } | undefined;
  #mutation: Promise<void> | undefined;

  constructor(readonly swiftPort: number) {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Starts a run with these faults (undefined: pass everything through untouched). */
  startRun(faults: RunFaults | undefined): void {
    this.#faults = faults;
    this.#seen.clear();
    this.#burst = undefined;
    this.#mutation = undefined;
    this.injected = new Map();
    this.objectBytes = 0;
    this.onObjectBytes = undefined;
  }

  /** Counts a fault the soak injected itself (kills, mutations, local damage). */
  count(kind: FaultKind): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
    this.#agent.destroy();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cls = classify(req);
    if (cls === 'object' && req.method === 'GET' && this.#faults?.beforeFirstObject) {
      this.#mutation ??= this.#faults.beforeFirstObject();
      await this.#mutation;
    }
    const kind = this.#decide(req, cls);
    if (kind === 'burst503' || kind === 'burst429' || kind === 'unauthorized') {
      return answer(req, res, kind, this.#pick(req, 'form') < 0.5);
    }
    if (kind && (req.method === 'HEAD' || (kind === 'stall' && this.#pick(req, 'where') < 0.3))) {
      // No body to damage: fail before any response instead.
      if (kind === 'stall') return void setTimeout(() => res.destroy(), this.#stallMs(req));
      return void res.destroy();
    }
    const fault = kind ? this.#bodyFault(req, kind) : undefined;
    this.#forward(req, res, cls, fault);
  }

  #decide(req: IncomingMessage, cls: RequestClass): FaultKind | undefined {
    const faults = this.#faults;
    if (!faults || faults.rate <= 0 || KINDS_BY_CLASS[cls].length === 0) return undefined;
    if (this.#burst && cls !== 'identity') {
      const burst = this.#burst;
      burst.left -= 1;
      if (burst.left <= 0) this.#burst = undefined;
      const kind = burst.status === 503 ? 'burst503' : 'burst429';
      this.count(kind);
      return kind;
    }
    const rng = this.#rng(req, 'decide');
    if (!rng.chance(faults.rate)) return undefined;
    const kind = rng.pick(KINDS_BY_CLASS[cls]);
    this.count(kind);
    if (kind === 'burst503' || kind === 'burst429') {
      const left = rng.int(0, 2);
      if (left > 0) this.#burst = { status: kind === 'burst503' ? 503 : 429, left };
    }
    return kind;
  }

  /** The decision generator of this request: keyed by the request and how often it was seen. */
  #rng(req: IncomingMessage, what: string) {
    const key = `${req.method} ${req.url} ${req.headers.range ?? ''}`;
    const n = this.#seen.get(`${what} ${key}`) ?? 0;
    this.#seen.set(`${what} ${key}`, n + 1);
    return rngFor(this.#faults?.key ?? '', what, key, n);
  }

  #pick(req: IncomingMessage, what: string): number {
    return this.#rng(req, what).next();
  }

  #stallMs(req: IncomingMessage): number {
    return (this.#faults?.timeoutMs ?? 1000) + this.#rng(req, 'stall').int(300, 1200);
  }

  #bodyFault(req: IncomingMessage, kind: FaultKind): BodyFault {
    const at = this.#pick(req, 'at');
    return { kind, at, ...(kind === 'stall' ? { stallMs: this.#stallMs(req) } : {}) };
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    cls: RequestClass,
    fault: BodyFault | undefined,
  ): void {
    const port = cls === 'identity' ? this.identityPort : this.swiftPort;
    const up = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      },
      (upRes) => this.#relay(upRes, res, cls === 'object' && req.method === 'GET', fault),
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  }

  #relay(
    upRes: IncomingMessage,
    res: ServerResponse,
    countBytes: boolean,
    fault: BodyFault | undefined,
  ): void {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    const length = Number(upRes.headers['content-length'] ?? 0);
    const at = Math.floor((fault?.at ?? 0) * length);
    let sent = 0;
    let stopped = false;
    const send = (chunk: Buffer): boolean => {
      sent += chunk.length;
      if (countBytes) {
        this.objectBytes += chunk.length;
        this.onObjectBytes?.(this.objectBytes);
      }
      return res.write(chunk);
    };
    upRes.on('data', (data: Buffer) => {
      if (stopped) return;
      let chunk = data;
      const end = sent + chunk.length;
      const flips = fault?.kind === 'flip' || fault?.kind === 'listing-flip';
      if (flips && at >= sent && at < end) {
        chunk = Buffer.from(chunk);
        chunk[at - sent] = (chunk[at - sent] ?? 0) ^ 0xff;
      }
      if ((fault?.kind === 'drop' || fault?.kind === 'stall') && at < end) {
        stopped = true;
        send(chunk.subarray(0, Math.max(0, at - sent)));
        upRes.destroy();
        const cut = () => res.destroy();
        if (fault.kind === 'stall') setTimeout(cut, fault.stallMs ?? 2000);
        else cut();
        return;
      }
      if (!send(chunk)) {
        upRes.pause();
        res.once('drain', () => upRes.resume());
      }
    });
    upRes.on('end', () => {
      if (!stopped) res.end();
    });
    upRes.on('error', () => res.destroy());
  }
}

function classify(req: IncomingMessage): RequestClass {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path.startsWith('/v2.0')) return 'identity';
  if (path.startsWith('/auth/')) return 'tempauth';
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'v1' || parts.length < 3) return 'other';
  if (parts.length === 3) return req.method === 'GET' ? 'listing' : 'other';
  if (req.method === 'HEAD') return 'head';
  return req.method === 'GET' ? 'object' : 'other';
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  kind: FaultKind,
  dateForm: boolean,
): void {
  req.resume();
  const status = kind === 'burst503' ? 503 : kind === 'burst429' ? 429 : 401;
  const headers: Record<string, string> = { 'content-type': 'text/html; charset=UTF-8' };
  if (status === 429) {
    // Retry-After as seconds or as an HTTP date, the two forms the RFC allows.
    headers['retry-after'] = dateForm ? new Date(Date.now() + 1000).toUTCString() : '1';
  }
  const body = status === 401 ? '<html><h1>Unauthorized</h1></html>' : `<h1>${status}</h1>`;
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
