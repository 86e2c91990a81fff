/**
 * The emulator's in-memory object store: accounts hold containers, containers hold objects.
 * Object data is a `Content` (a view that can generate bytes on demand), so a multi-GB object
 * costs no memory; its MD5 is computed on first use and cached.
 */
import { createHash } from 'node:crypto';
import type { Content } from './content.js';
import { type SwiftTime, swiftNow } from './swift-time.js';

/** One segment of a stored SLO manifest, as Swift records it (and returns it). */
export interface SloSegment {
  name: string;
  bytes: number;
  hash: string;
  content_type: string;
  last_modified: string;
  range?: string;
}

/** What makes a stored object a Static Large Object manifest. */
export interface SloInfo {
  /** The composite ETag (unquoted): md5 of the segments' hashes. */
  etag: string;
  /** The sum of the segments' (ranged) lengths. */
  size: number;
  segments: SloSegment[];
}

export interface StoredObjectInit {
  container: string;
  name: string;
  data: Content;
  contentType: string;
  timestamp?: SwiftTime;
  headers?: Record<string, string>;
  manifest?: string;
  slo?: SloInfo;
  md5?: string;
  deleteAt?: number;
}

const HASH_STEP = 4 * 1024 * 1024;

/** An object as the emulator stores it. Its listed MD5 survives `corrupt()`, like bit rot. */
export class StoredObject {
  readonly container: string;
  readonly name: string;
  readonly contentType: string;
  readonly timestamp: SwiftTime;
  /** Extra headers stored with the object and sent back (X-Object-Meta-*, Content-Disposition). */
  readonly headers: Record<string, string>;
  /** The raw `X-Object-Manifest` value of a DLO manifest. */
  readonly manifest: string | undefined;
  readonly slo: SloInfo | undefined;
  /** Expiry (ms since epoch) from X-Delete-At: afterwards GET answers 404 but listings keep it. */
  readonly deleteAt: number | undefined;
  /** The bytes served; differs from what was hashed once corrupted. */
  data: Content;
  /** True while the stored bytes do not match the listed MD5. */
  corrupted = false;
  /**
   * What happens once Swift notices the corruption, i.e. after a read of the whole object:
   * `keep` serving the bad bytes (every replica rotten), `quarantine` it (GET 404, still listed:
   * what a one-replica Swift does) or `heal` (the next read hits a good replica).
   */
  onNotice: 'keep' | 'quarantine' | 'heal' = 'keep';
  /** True when the data is gone but the listing still names the object (a stale listing). */
  lost = false;
  /** False when the object is stored but not (yet) in container listings. */
  listed = true;
  private readonly hashSource: Content;
  private md5Promise: Promise<string> | undefined;
  private known: string | undefined;

  constructor(init: StoredObjectInit) {
    this.container = init.container;
    this.name = init.name;
    this.data = init.data;
    this.hashSource = init.data;
    this.contentType = init.contentType;
    this.timestamp = init.timestamp ?? swiftNow();
    this.headers = init.headers ?? {};
    this.manifest = init.manifest;
    this.slo = init.slo;
    this.deleteAt = init.deleteAt;
    this.known = init.md5;
  }

  /** Replaces the stored bytes with a damaged copy; the listed MD5 stays. */
  corrupt(damaged: Content, onNotice: StoredObject['onNotice']): void {
    this.data = damaged;
    this.corrupted = true;
    this.onNotice = onNotice;
  }

  /** Called after a whole read of corrupted bytes: Swift's object server has seen the MD5 fail. */
  noticeCorruption(): void {
    if (this.onNotice === 'quarantine') this.lost = true;
    if (this.onNotice === 'heal') {
      this.data = this.hashSource;
      this.corrupted = false;
    }
  }

  /** Stored size in bytes (for a manifest, the manifest's own size). */
  get size(): number {
    return this.data.size;
  }

  /** True when a GET of this object answers 404 although it may still be listed. */
  get gone(): boolean {
    return this.lost || (this.deleteAt !== undefined && Date.now() >= this.deleteAt);
  }

  /** The listed MD5 (hex) of the bytes as stored before any corruption; computed once. */
  md5(): Promise<string> {
    if (this.known !== undefined) return Promise.resolve(this.known);
    this.md5Promise ??= hashContent(this.hashSource).then((hex) => {
      this.known = hex;
      return hex;
    });
    return this.md5Promise;
  }

  /** The same MD5, computed at once if need be (blocks for large generated objects). */
  md5Sync(): string {
    this.known ??= hashContentSync(this.hashSource);
    return this.known;
  }
}

/** MD5 of a Content, in steps that yield to the event loop so the server keeps serving. */
export async function hashContent(content: Content): Promise<string> {
  const hash = createHash('md5');
  for (let offset = 0; offset < content.size; offset += HASH_STEP) {
    hash.update(content.read(offset, Math.min(content.size, offset + HASH_STEP)));
    if (offset + HASH_STEP < content.size) await new Promise((r) => setImmediate(r));
  }
  return hash.digest('hex');
}

function hashContentSync(content: Content): string {
  const hash = createHash('md5');
  for (let offset = 0; offset < content.size; offset += HASH_STEP) {
    hash.update(content.read(offset, Math.min(content.size, offset + HASH_STEP)));
  }
  return hash.digest('hex');
}

/** Byte-wise comparison of the UTF-8 encodings, the order Swift lists names in. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A container: objects by name, with a cached byte-wise sorted view for listings. */
export class Container {
  readonly objects = new Map<string, StoredObject>();
  private sorted: StoredObject[] | undefined;

  constructor(
    readonly name: string,
    readonly created: SwiftTime = swiftNow(),
  ) {}

  put(object: StoredObject): void {
    this.objects.set(object.name, object);
    this.sorted = undefined;
  }

  delete(name: string): boolean {
    this.sorted = undefined;
    return this.objects.delete(name);
  }

  /** Listed objects in byte-wise UTF-8 name order. */
  listed(): StoredObject[] {
    if (this.sorted === undefined) {
      const keyed = [...this.objects.values()]
        .filter((o) => o.listed)
        .map((o) => ({ o, key: Buffer.from(o.name, 'utf8') }));
      keyed.sort((a, b) => Buffer.compare(a.key, b.key));
      this.sorted = keyed.map((k) => k.o);
    }
    return this.sorted;
  }

  /** Object count and bytes used, as the container's HEAD reports them. */
  stats(): { count: number; bytes: number } {
    const listed = this.listed();
    return { count: listed.length, bytes: listed.reduce((sum, o) => sum + o.size, 0) };
  }
}

/** An account (`MossoCloudFS_<tenant>`): containers by name. */
export class Account {
  readonly containers = new Map<string, Container>();
  readonly created: SwiftTime = swiftNow();

  constructor(readonly name: string) {}

  /** Containers in byte-wise UTF-8 name order. */
  sortedContainers(): Container[] {
    return [...this.containers.values()].sort((a, b) => compareUtf8(a.name, b.name));
  }
}

/** All accounts of one emulator; an account springs into being on first use. */
export class Store {
  private readonly accounts = new Map<string, Account>();

  account(name: string): Account {
    let account = this.accounts.get(name);
    if (account === undefined) {
      account = new Account(name);
      this.accounts.set(name, account);
    }
    return account;
  }
}
