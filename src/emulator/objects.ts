/**
 * Containers and plain objects: PUT, DELETE, and GET/HEAD of an object's own bytes. Large-object
 * manifests are handed on to large-objects.ts unless `?multipart-manifest=get` asks for the
 * manifest itself.
 */
import { createHash } from 'node:crypto';
import { bufferContent, type Content } from './content.js';
import { getDlo } from './dlo.js';
import { type Entity, etagMatches, respondEntity } from './entity.js';
import type { Exchange, Headers } from './exchange.js';
import { deleteSlo, getSlo, getSloManifest, putSlo } from './slo.js';
import { type Account, Container, StoredObject } from './store.js';
import { httpDate, normalTimestamp } from './swift-time.js';

/** Body chunks are this big: large enough for speed, small enough to stop early. */
export const CHUNK_SIZE = 256 * 1024;
/** Swift's largest single object (5 GiB + 2 bytes, its `MAX_FILE_SIZE`). */
const MAX_FILE_SIZE = 5 * 1024 ** 3 + 2;

/** Settings of the emulator that storage handlers need. */
export interface StorageSettings {
  /** Swift's CONTAINER_LISTING_LIMIT: listing page size and the most a `limit` may ask. */
  listingLimit: number;
  /** DLO throttling (Swift's rate_limit_after_segment / rate_limit_segments_per_sec). */
  dloRateLimit: { afterSegments: number; segmentsPerSec: number } | undefined;
}

/** A storage request, routed: the account and the decoded container and object names. */
export interface StorageRequest {
  ex: Exchange;
  account: Account;
  container: string;
  object: string;
  query: URLSearchParams;
  settings: StorageSettings;
}

/** Streams bytes [start, end) of `content`; false when the body was cut or abandoned. */
export async function streamContent(ex: Exchange, content: Content, start: number, end: number) {
  for (let at = start; at < end; at += CHUNK_SIZE) {
    if (!(await ex.write(content.read(at, Math.min(end, at + CHUNK_SIZE))))) return false;
  }
  return ex.writable;
}

/** The headers Swift sends for an object, given the ETag to show. */
export function objectHeaders(o: StoredObject, etag: string): Headers {
  const headers: Headers = {
    'Content-Type': o.contentType,
    Etag: etag,
    'Last-Modified': httpDate(o.timestamp),
    'X-Timestamp': normalTimestamp(o.timestamp),
    'Accept-Ranges': 'bytes',
    ...o.headers,
  };
  if (o.manifest !== undefined) headers['X-Object-Manifest'] = o.manifest;
  if (o.slo !== undefined) headers['X-Static-Large-Object'] = 'True';
  return headers;
}

/** The object a GET/HEAD/DELETE names, or undefined after answering 404 (or 412 for `*`). */
export async function findObject(r: StorageRequest): Promise<StoredObject | undefined> {
  const o = r.account.containers.get(r.container)?.objects.get(r.object);
  if (o !== undefined && !o.gone) return o;
  const ifMatch = r.ex.req.headers['if-match'];
  if (ifMatch !== undefined && etagMatches(ifMatch, '*')) await r.ex.sendError(412);
  else await r.ex.sendError(404);
  return undefined;
}

/** GET or HEAD of an object. */
export async function getObject(r: StorageRequest): Promise<void> {
  const o = await findObject(r);
  if (o === undefined) return;
  const wantManifest = r.query.get('multipart-manifest') === 'get';
  if (o.manifest !== undefined && !wantManifest) return getDlo(r, o);
  if (o.slo !== undefined) return wantManifest ? getSloManifest(r, o) : getSlo(r, o);

  // A plain object: served as stored. Like Swift's object server, corrupted bytes go out whole
  // and it only notices once the whole object was read; manifests check segments mid-stream.
  const etag = await o.md5();
  const entity: Entity = {
    headers: objectHeaders(o, etag),
    etag,
    size: o.size,
    ranges: 'multi',
    source: async (start, end) => {
      const done = await streamContent(r.ex, o.data, start, end);
      if (done && start === 0 && end >= o.size && o.corrupted) o.noticeCorruption();
      return done;
    },
  };
  await respondEntity(r.ex, entity);
}

/** PUT of an object (or of an SLO manifest with `?multipart-manifest=put`). */
export async function putObject(r: StorageRequest): Promise<void> {
  const { ex } = r;
  const container = r.account.containers.get(r.container);
  if (container === undefined) return ex.sendError(404);
  if (Buffer.byteLength(r.object) > 1024)
    return ex.sendError(400, {}, 'Object name length too long');
  if (r.query.get('multipart-manifest') === 'put') return putSlo(r, container);

  const manifest = ex.header('x-object-manifest');
  if (manifest !== undefined && !validManifest(manifest)) {
    return ex.sendError(400, {}, 'X-Object-Manifest must be in the format container/prefix');
  }
  const expiry = deleteAt(ex);
  if (typeof expiry === 'string') return ex.sendError(400, {}, expiry);
  const body = await readBody(ex);
  if (typeof body === 'number') return ex.sendError(body);

  const md5 = createHash('md5').update(body).digest('hex');
  const given = ex.req.headers.etag;
  if (given !== undefined && given.replace(/"/g, '') !== md5) return ex.sendError(422);
  const headers = storedHeaders(ex);
  if (expiry !== undefined) headers['X-Delete-At'] = String(expiry / 1000);
  const o = new StoredObject({
    container: container.name,
    name: r.object,
    data: bufferContent(body),
    contentType: ex.req.headers['content-type'] ?? 'application/octet-stream',
    headers,
    manifest,
    md5,
    deleteAt: expiry,
  });
  container.put(o);
  await ex.sendError(201, { Etag: md5, 'Last-Modified': httpDate(o.timestamp) }, '');
}

/** DELETE of an object (with `?multipart-manifest=delete`, its SLO segments too). */
export async function deleteObject(r: StorageRequest): Promise<void> {
  const container = r.account.containers.get(r.container);
  // An expired or lost object still listed: Swift answers 404 but its tombstone clears the entry.
  if (container?.objects.get(r.object)?.gone) container.delete(r.object);
  const o = await findObject(r);
  if (o === undefined) return;
  if (o.slo !== undefined && r.query.get('multipart-manifest') === 'delete') {
    return deleteSlo(r, o);
  }
  r.account.containers.get(r.container)?.delete(r.object);
  await r.ex.sendError(204, {}, '');
}

/** PUT of a container: 201 when created, 202 when it existed. */
export async function putContainer(r: StorageRequest): Promise<void> {
  if (Buffer.byteLength(r.container) > 256) {
    return r.ex.sendError(400, {}, 'Container name length too long');
  }
  const exists = r.account.containers.has(r.container);
  if (!exists) r.account.containers.set(r.container, new Container(r.container));
  await r.ex.sendError(exists ? 202 : 201, {}, '');
}

/** DELETE of a container: 409 while it still holds objects. */
export async function deleteContainer(r: StorageRequest): Promise<void> {
  const container = r.account.containers.get(r.container);
  if (container === undefined) return r.ex.sendError(404);
  if (container.objects.size > 0) return r.ex.sendError(409);
  r.account.containers.delete(r.container);
  await r.ex.sendError(204, {}, '');
}

/** DLO middleware's check: `container/prefix`, both non-empty, no `?` or `&`. */
function validManifest(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) return false;
  return !/[?&]/.test(value) && !value.slice(slash + 1).startsWith('/');
}

/** X-Delete-At / X-Delete-After as an expiry in ms, or Swift's 400 message. */
function deleteAt(ex: Exchange): number | string | undefined {
  const at = ex.header('x-delete-at');
  const after = ex.header('x-delete-after');
  if (after !== undefined) {
    if (!/^\d+$/.test(after)) return 'Non-integer X-Delete-After';
    return Math.floor(Date.now() / 1000 + Number(after)) * 1000;
  }
  if (at === undefined) return undefined;
  if (!/^\d+$/.test(at)) return 'Non-integer X-Delete-At';
  if (Number(at) * 1000 <= Date.now()) return 'X-Delete-At in past';
  return Number(at) * 1000;
}

/** The request headers Swift keeps with an object and sends back on GET/HEAD. */
export function storedHeaders(ex: Exchange): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(ex.req.headers)) {
    const keep =
      name.startsWith('x-object-meta-') ||
      ['content-disposition', 'content-encoding'].includes(name);
    if (keep && typeof value === 'string') kept[titleCase(name)] = value;
  }
  return kept;
}

function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** The request body, or the status to answer (411 without a length, 413 when too big). */
export async function readBody(ex: Exchange, max = MAX_FILE_SIZE): Promise<Buffer | number> {
  const { headers } = ex.req;
  const chunked = /chunked/i.test(String(headers['transfer-encoding'] ?? ''));
  if (headers['content-length'] === undefined && !chunked) return 411;
  if (Number(headers['content-length'] ?? 0) > max) return 413;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of ex.req) {
    size += (part as Buffer).length;
    if (size > max) return 413;
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}
