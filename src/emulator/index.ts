/**
 * A Rackspace Cloud Files emulator for tests, `cfimg demo` and benchmarks: Identity v2 and a
 * Swift 2.30 object store (listings, plain objects, DLOs, SLOs, Range, If-Match) on 127.0.0.1,
 * with scriptable faults and a log of every request. Object data is generated on demand, so
 * multi-GB images cost no memory.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { bufferContent, type Content, sliceContent } from './content.js';
import type { RequestLogEntry } from './exchange.js';
import { FaultScript } from './faults.js';
import { type EmulatorUser, Identity, type Session, tenantOf } from './identity.js';
import type { StorageSettings } from './objects.js';
import { buildSlo, corruptedContent } from './seeding.js';
import { requestListener } from './server.js';
import { type Account, Container, Store, StoredObject } from './store.js';
import { swiftNow, swiftTimeOf } from './swift-time.js';

export type { Content } from './content.js';
export type { RequestLogEntry } from './exchange.js';
export type { FaultAction, FaultHandle, FaultMatch, FaultRule, FaultScript } from './faults.js';
export type { EmulatorUser } from './identity.js';
export type { SloSegment, StoredObject } from './store.js';

export interface EmulatorOptions {
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Cloud Files regions in the catalog; default DFW, ORD, IAD, LON, SYD, HKG. */
  regions?: string[];
  /** The users' `RAX-AUTH:defaultRegion`; default the first region. */
  defaultRegion?: string;
  /** Default: one user `demo`, API key `demo-key`, password `demo-pass`. */
  users?: EmulatorUser[];
  /** Token lifetime; default 24 h. */
  tokenTtlMs?: number;
  /**
   * Throttle DLO GETs like Swift (rate_limit_after_segment=10, rate_limit_segments_per_sec=1).
   * Off by default so tests run fast.
   */
  dloRateLimit?: boolean | { afterSegments?: number; segmentsPerSec?: number };
  /** Swift's container listing limit (page size and largest `limit`); default 10,000. */
  listingLimit?: number;
}

export interface PutObjectOptions {
  contentType?: string;
  /** Stored and sent back (X-Object-Meta-*, Content-Disposition, …). */
  headers?: Record<string, string>;
  lastModified?: Date;
  /** The MD5 to list, trusted without reading the content (a fast start for huge objects). */
  md5?: string;
  /** False: stored but not yet in listings (an eventually consistent listing). */
  listed?: boolean;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The Identity v2 base URL, `${url}/v2.0`. */
  authUrl: string;
  /** The first user's storage URL in a region (default region by default), or its ServiceNet one. */
  storageUrl(region?: string, internal?: boolean): string;
  /** A valid token of the first user. */
  token(): string;
  /** Stores an object (creating the container); MD5 computed lazily for generated content. */
  putObject(
    container: string,
    name: string,
    content: Content | Buffer | string,
    opts?: PutObjectOptions,
  ): StoredObject;
  /** Stores a 0-byte DLO manifest with `X-Object-Manifest: <manifest>` (`segContainer/prefix`). */
  putDlo(container: string, name: string, manifest: string): StoredObject;
  /** Stores an SLO manifest over existing objects (hashes them now if not known yet). */
  putSlo(
    container: string,
    name: string,
    segments: { container: string; name: string }[],
  ): StoredObject;
  /** Splits `content` into `${name}-00001`… segments (views, no copy) plus a DLO manifest. */
  uploadImage(opts: { container: string; name: string; content: Content; segmentSize: number }): {
    segments: string[];
    manifest: StoredObject;
  };
  /** The stored object, if any. */
  object(container: string, name: string): StoredObject | undefined;
  /** Deletes an object; with `keepListed` its data goes but listings keep naming it. */
  deleteObject(container: string, name: string, opts?: { keepListed?: boolean }): void;
  /**
   * Inverts one stored byte while the listed MD5 stays: bit rot. A DLO/SLO GET that reads the
   * whole segment cuts the connection after it; a plain GET sends it whole. Once such a whole
   * read has happened, `onNotice` decides what follows (default `keep`; see StoredObject).
   */
  corrupt(
    container: string,
    name: string,
    offset: number,
    opts?: { onNotice?: 'keep' | 'quarantine' | 'heal' },
  ): void;
  faults: FaultScript;
  requests: RequestLogEntry[];
  clearRequests(): void;
  /** Makes every token issued so far invalid. */
  expireTokens(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const DEFAULT_REGIONS = ['DFW', 'ORD', 'IAD', 'LON', 'SYD', 'HKG'];
const DEFAULT_USER: EmulatorUser = { username: 'demo', apiKey: 'demo-key', password: 'demo-pass' };

/** Starts an emulator on 127.0.0.1. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const regions = opts.regions ?? DEFAULT_REGIONS;
  const defaultRegion = opts.defaultRegion ?? regions[0] ?? 'DFW';
  const users = opts.users ?? [DEFAULT_USER];
  const store = new Store();
  const faults = new FaultScript();
  const requests: RequestLogEntry[] = [];
  let base = '';
  const storageUrlOf = (region: string, internal: boolean, account: string) =>
    `${base}${internal ? '/snet' : ''}/${region.toLowerCase()}/v1/${account}`;
  const identity = new Identity(
    users,
    regions,
    defaultRegion,
    opts.tokenTtlMs ?? 86_400_000,
    storageUrlOf,
  );

  const server = createServer(
    requestListener({
      store,
      identity,
      faults,
      requests,
      regions,
      defaultRegion,
      settings: settingsOf(opts),
    }),
  );
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await listen(server, opts.port ?? 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const first = users[0] ?? DEFAULT_USER;
  const account = store.account(`MossoCloudFS_${tenantOf(first, 0)}`);
  let session: Session | undefined;
  const containerOf = (name: string) => ensureContainer(account, name);

  const emulator: Emulator = {
    url: base,
    authUrl: `${base}/v2.0`,
    storageUrl: (region = defaultRegion, internal = false) =>
      storageUrlOf(region, internal, account.name),
    token() {
      if (identity.validate(session?.id) === undefined) session = identity.issue(0);
      return (session as Session).id;
    },
    putObject(container, name, content, o = {}) {
      const data =
        typeof content === 'string' || Buffer.isBuffer(content) ? toContent(content) : content;
      const object = new StoredObject({
        container,
        name,
        data,
        contentType: o.contentType ?? 'application/octet-stream',
        headers: o.headers,
        md5: o.md5,
        timestamp: o.lastModified ? swiftTimeOf(o.lastModified) : swiftNow(),
      });
      if (o.listed === false) object.listed = false;
      containerOf(container).put(object);
      return object;
    },
    putDlo(container, name, manifest) {
      const dlo = new StoredObject({
        container,
        name,
        data: toContent(''),
        contentType: 'application/octet-stream',
        manifest,
        md5: EMPTY_MD5,
      });
      containerOf(container).put(dlo);
      return dlo;
    },
    putSlo(container, name, segments) {
      const manifest = buildSlo(container, name, segments, (c, n) => emulator.object(c, n));
      containerOf(container).put(manifest);
      return manifest;
    },
    uploadImage({ container, name, content, segmentSize }) {
      const segments: string[] = [];
      for (let at = 0, i = 1; at < content.size || i === 1; at += segmentSize, i++) {
        const segment = `${name}-${String(i).padStart(5, '0')}`;
        const end = Math.min(content.size, at + segmentSize);
        emulator.putObject(container, segment, sliceContent(content, at, end));
        segments.push(segment);
      }
      return { segments, manifest: emulator.putDlo(container, name, `${container}/${name}-`) };
    },
    object: (container, name) => account.containers.get(container)?.objects.get(name),
    deleteObject(container, name, o = {}) {
      const c = account.containers.get(container);
      const object = c?.objects.get(name);
      if (object && o.keepListed) object.lost = true;
      else c?.delete(name);
    },
    corrupt(container, name, offset, opts = {}) {
      const object = emulator.object(container, name);
      if (object === undefined) throw new Error(`no object ${container}/${name}`);
      object.corrupt(corruptedContent(object.data, offset), opts.onNotice ?? 'keep');
    },
    faults,
    requests,
    clearRequests: () => {
      requests.length = 0;
    },
    expireTokens: () => identity.expireAll(),
    close: () => closeServer(server, sockets),
  };
  return emulator;
}

function settingsOf(opts: EmulatorOptions): StorageSettings {
  const rate = opts.dloRateLimit;
  return {
    listingLimit: opts.listingLimit ?? 10_000,
    dloRateLimit: rate
      ? {
          afterSegments: (rate === true ? undefined : rate.afterSegments) ?? 10,
          segmentsPerSec: (rate === true ? undefined : rate.segmentsPerSec) ?? 1,
        }
      : undefined,
  };
}

function toContent(content: string | Buffer): Content {
  return bufferContent(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
}

function ensureContainer(account: Account, name: string): Container {
  let container = account.containers.get(name);
  if (container === undefined) {
    container = new Container(name);
    account.containers.set(name, container);
  }
  return container;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const s of sockets) s.destroy();
  });
}
