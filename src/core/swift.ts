/**
 * The Swift object API as cfimg uses it: HEAD, paged listings, ranged GETs and SLO manifests.
 * Every request goes through one exchange that signs it with the session's token and signs in
 * again once when storage answers 401. Statuses are mapped to errors per operation.
 */
import { AuthError, CfimgError, IntegrityError, NotFoundError, TransferError } from './errors.js';
import {
  headerValue,
  type ManifestRef,
  normalizeEtag,
  parseLength,
  parseObjectManifest,
  parseRetryAfter,
} from './headers.js';
import { displayUrl, type Http, type HttpResponse, splitUrl } from './http.js';
import { objectPath, queryString } from './paths.js';
import {
  isTransient,
  MalformedBodyError,
  type RetryHooks,
  type RetryPolicy,
  StatusError,
  withRetries,
} from './retry.js';
import type { Session, SessionSource } from './session.js';
import { certificateProblem } from './tls-errors.js';

/** What HEAD tells about an object, raw and interpreted. */
export interface ObjectInfo {
  container: string;
  object: string;
  size: number;
  /** Normalized ETag: lower-case hex, no quotes. */
  etag?: string;
  /** The ETag exactly as sent (DLO and SLO ETags are quoted). */
  rawEtag?: string;
  lastModified?: string;
  contentType?: string;
  kind: 'object' | 'dlo' | 'slo';
  manifest?: ManifestRef;
  headers: Record<string, string>;
  transId?: string;
}

/** One record of a JSON container listing. */
export interface ListingItem {
  name: string;
  bytes: number;
  hash: string;
  content_type: string;
  last_modified: string;
  slo_etag?: string;
}

/** One entry of an SLO manifest (`?multipart-manifest=get`). */
export interface SloEntry {
  container: string;
  object: string;
  bytes: number;
  hash: string;
  range?: string;
}

export interface GetOptions {
  /** First byte wanted; the body starts there (206) when the server honours it. */
  start?: number;
  /** Last byte wanted, inclusive. */
  end?: number;
  ifMatch?: string;
  signal?: AbortSignal;
}

/** Page size of listings: Swift's maximum. */
export const LISTING_PAGE = 10_000;

export interface SwiftClientOptions {
  http: Http;
  sessions: SessionSource;
  retry: RetryPolicy;
  hooks?: RetryHooks;
}

/** What a storage request may add to the method and the path. */
interface RequestExtras {
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class SwiftClient {
  readonly #opts: SwiftClientOptions;

  constructor(opts: SwiftClientOptions) {
    this.#opts = opts;
  }

  get retryPolicy(): RetryPolicy {
    return this.#opts.retry;
  }

  /** HEAD of an object, with the kind (plain, DLO, SLO) worked out. */
  async head(container: string, object: string): Promise<ObjectInfo> {
    const res = await this.#retried('HEAD', container, object, {}, async (r) => {
      await r.body.dump();
      return r;
    });
    if (res.status === 404) throw await this.#notFound(container, object);
    const headers = flatHeaders(res.headers);
    const manifest = parseObjectManifest(headers['x-object-manifest']);
    const slo = /^true$/i.test(headers['x-static-large-object'] ?? '');
    const etag = normalizeEtag(headers.etag);
    return {
      container,
      object,
      size: parseLength(headers['content-length']) ?? 0,
      ...(etag ? { etag, rawEtag: headers.etag } : {}),
      ...(headers['last-modified'] ? { lastModified: headers['last-modified'] } : {}),
      ...(headers['content-type'] ? { contentType: headers['content-type'] } : {}),
      kind: manifest ? 'dlo' : slo ? 'slo' : 'object',
      ...(manifest ? { manifest } : {}),
      headers,
      ...(res.transId ? { transId: res.transId } : {}),
    };
  }

  /** Every listing record under `prefix`, page by page (marker paging), up to `limit`. */
  async *list(
    container: string,
    opts: { prefix?: string; limit?: number } = {},
  ): AsyncGenerator<ListingItem> {
    let marker: string | undefined;
    let left = opts.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const limit = Math.min(LISTING_PAGE, left);
      const query = { format: 'json', prefix: opts.prefix, marker, limit };
      const after = marker;
      const page = await this.#retried('GET', container, undefined, { query }, async (r) =>
        r.status === 200
          ? {
              status: 200,
              items: await parsed(r, 'the container listing', (doc) =>
                inOrder(parseListing(doc), opts.prefix, after),
              ),
            }
          : { status: r.status, items: [] },
      );
      if (page.status === 404) throw new NotFoundError(`container '${container}' not found`);
      for (const item of page.items) yield item;
      left -= page.items.length;
      const last = page.items.at(-1);
      if (!last || page.items.length < limit) return;
      marker = last.name;
    }
  }

  /** The whole listing under a prefix as an array (segment lists are small). */
  async listAll(container: string, prefix: string): Promise<ListingItem[]> {
    const items: ListingItem[] = [];
    for await (const item of this.list(container, { prefix })) items.push(item);
    return items;
  }

  /** The segments of an SLO, from `?multipart-manifest=get`. */
  async sloManifest(container: string, object: string): Promise<SloEntry[]> {
    const query = { 'multipart-manifest': 'get' };
    const doc = await this.#retried('GET', container, object, { query }, async (r) =>
      r.status === 200
        ? { ok: true, entries: await parsed(r, 'the SLO manifest', parseSloManifest) }
        : { ok: false, entries: [] },
    );
    if (!doc.ok) throw await this.#notFound(container, object);
    return doc.entries;
  }

  /**
   * Opens a GET of an object (or a byte range of it). One attempt, with the 401 renewal; the
   * transfer engine owns retries and resumption. Statuses other than 200/206 become errors:
   * StatusError for anything a retry could fix, the caller maps 404, 409, 412 and 416.
   */
  async open(container: string, object: string, opts: GetOptions = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (opts.start !== undefined || opts.end !== undefined) {
      headers.range = `bytes=${opts.start ?? 0}-${opts.end ?? ''}`;
    }
    if (opts.ifMatch) headers['if-match'] = opts.ifMatch;
    const res = await this.#exchange('GET', container, object, {
      headers,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status === 200 || res.status === 206) return res;
    await res.body.dump().catch(() => undefined);
    throw new StatusError(
      res.status,
      `HTTP ${res.status}`,
      res.transId,
      parseRetryAfter(headerValue(res.headers, 'retry-after')),
    );
  }

  /** A display URL of an object for messages (no token, no query). */
  async urlOf(container: string, object?: string): Promise<string> {
    const session = await this.#opts.sessions.current();
    return displayUrl(session.storageUrl + objectPath(container, object));
  }

  /** Runs one exchange under the retry policy; `read` consumes the body and returns a value. */
  async #retried<T>(
    method: 'GET' | 'HEAD',
    container: string,
    object: string | undefined,
    extra: { query?: Record<string, string | number | undefined> },
    read: (res: HttpResponse) => Promise<T>,
  ): Promise<T> {
    const url = await this.urlOf(container, object);
    try {
      return await withRetries(
        async () => {
          const res = await this.#exchange(method, container, object, extra);
          if (res.status >= 500 || [408, 425, 429].includes(res.status)) {
            await res.body.dump().catch(() => undefined);
            const retryAfter = parseRetryAfter(headerValue(res.headers, 'retry-after'));
            throw new StatusError(res.status, `HTTP ${res.status}`, res.transId, retryAfter);
          }
          if (res.status === 403) {
            await res.body.dump().catch(() => undefined);
            throw new AuthError(
              `access to ${url} is forbidden (403): the account lacks permission`,
            );
          }
          return read(res);
        },
        this.#opts.retry,
        this.#opts.hooks,
      );
    } catch (err) {
      throw asTransferError(err, method, url, this.#opts.retry.retries);
    }
  }

  /** One request with the session token; a 401 renews the session once and resends. */
  async #exchange(
    method: 'GET' | 'HEAD',
    container: string,
    object: string | undefined,
    extra: RequestExtras,
  ): Promise<HttpResponse> {
    let session = await this.#opts.sessions.current();
    for (;;) {
      const res = await this.#send(session, method, container, object, extra);
      if (res.status !== 401) return res;
      await res.body.dump().catch(() => undefined);
      session = await this.#opts.sessions.renew(session);
    }
  }

  #send(
    session: Session,
    method: 'GET' | 'HEAD',
    container: string,
    object: string | undefined,
    extra: RequestExtras,
  ): Promise<HttpResponse> {
    const { origin, basePath } = splitUrl(session.storageUrl);
    const signal = extra.signal ?? this.#opts.hooks?.signal;
    return this.#opts.http.request({
      method,
      origin,
      path: basePath + objectPath(container, object) + queryString(extra.query ?? {}),
      headers: { 'x-auth-token': session.token, ...extra.headers },
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Tells a missing container from a missing object, for a message that names the right one.
   * Swift also answers 404 for a DLO whose segment container is gone; the manifest itself
   * (`?multipart-manifest=get`) is still there and names that container.
   */
  async #notFound(container: string, object: string): Promise<CfimgError> {
    const res = await this.#exchange('HEAD', container, undefined, {}).catch(() => undefined);
    await res?.body.dump().catch(() => undefined);
    if (res?.status === 404) return new NotFoundError(`container '${container}' not found`);
    const query = { 'multipart-manifest': 'get' };
    const raw = await this.#exchange('HEAD', container, object, { query }).catch(() => undefined);
    await raw?.body.dump().catch(() => undefined);
    const manifest =
      raw?.status === 200
        ? parseObjectManifest(headerValue(raw.headers, 'x-object-manifest'))
        : undefined;
    if (manifest)
      return new IntegrityError(
        `${container}/${object} is a DLO manifest whose segment container ` +
          `'${manifest.container}' does not exist: the image's segments are gone`,
      );
    return new NotFoundError(`object '${object}' not found in container '${container}'`);
  }
}

/** Turns a final failure into the error the CLI reports (exit 6), keeping CfimgErrors as they are. */
export function asTransferError(
  err: unknown,
  method: string,
  url: string,
  retries: number,
): unknown {
  if (err instanceof CfimgError) return err;
  // Only errors worth another try were retried; the others failed at the first answer.
  const failed = isTransient(err) ? `failed after ${retries} retries` : 'failed';
  if (err instanceof StatusError) {
    const trans = err.transId ? ` (X-Trans-Id: ${err.transId})` : '';
    return new TransferError(
      `${method} ${url} ${failed}: HTTP ${err.status}${trans}`,
      { method, url, status: err.status, ...(err.transId ? { transId: err.transId } : {}) },
      { cause: err },
    );
  }
  if ((err as { name?: string } | null)?.name === 'AbortError') return err;
  const tls = certificateProblem(err);
  if (tls) return new TransferError(`${method} ${url}: ${tls}`, { method, url }, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  const detail = `${(err as Error)?.message ?? String(err)}${typeof code === 'string' ? ` (${code})` : ''}`;
  return new TransferError(
    `${method} ${url} ${failed}: ${detail}`,
    { method, url },
    { cause: err },
  );
}

/**
 * A JSON body read through `parse`. A body that is not JSON, or not the document expected, was
 * most likely damaged or cut on the way (plain http has no integrity check): another try is
 * worth it, so it fails as a transient MalformedBodyError, not as a verdict on the object.
 */
async function parsed<T>(res: HttpResponse, what: string, parse: (doc: unknown) => T): Promise<T> {
  const parts: Buffer[] = [];
  for await (const chunk of res.body) parts.push(chunk);
  try {
    // Swift writes valid UTF-8 (its JSON is ASCII); bytes that are not were damaged on the way.
    const text = STRICT_UTF8.decode(Buffer.concat(parts));
    return parse(JSON.parse(text));
  } catch (err) {
    throw new MalformedBodyError(`${what} is not valid: ${(err as Error).message}`);
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A listing page as Swift sends it: names under the prefix, after the marker, strictly rising
 * in UTF-8 byte order. A page that breaks this was damaged on the way (a flipped byte in a name
 * would otherwise send cfimg after an object that does not exist), so it is read again.
 */
function inOrder(
  items: ListingItem[],
  prefix: string | undefined,
  marker: string | undefined,
): ListingItem[] {
  let previous = marker === undefined ? undefined : Buffer.from(marker);
  for (const item of items) {
    const name = Buffer.from(item.name);
    if (prefix && !item.name.startsWith(prefix))
      throw new Error(`${JSON.stringify(item.name)} does not start with the prefix asked for`);
    if (previous && Buffer.compare(previous, name) >= 0)
      throw new Error(`${JSON.stringify(item.name)} is out of name order`);
    previous = name;
  }
  return items;
}

/** All response headers as plain strings, lower-case names. */
export function flatHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined)
      out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Validates a JSON listing page; records that lack a name are skipped. */
export function parseListing(doc: unknown): ListingItem[] {
  if (!Array.isArray(doc))
    throw new TransferError('the container listing is not a JSON array', {
      method: 'GET',
      url: 'listing',
    });
  const items: ListingItem[] = [];
  for (const [i, raw] of (doc as Record<string, unknown>[]).entries()) {
    if (typeof raw?.name !== 'string') continue;
    // The sizes lay the segments out in the image and no ETag covers them: a size that is not
    // a whole number of bytes makes the page unusable, not a record to guess at.
    if (!isByteCount(raw.bytes))
      throw new TransferError(`listing record ${i + 1} (${raw.name}) has no valid size`, {
        method: 'GET',
        url: 'listing',
      });
    items.push({
      name: raw.name,
      bytes: raw.bytes,
      hash: typeof raw.hash === 'string' ? raw.hash.toLowerCase() : '',
      content_type: typeof raw.content_type === 'string' ? raw.content_type : '',
      last_modified: typeof raw.last_modified === 'string' ? raw.last_modified : '',
      ...(typeof raw.slo_etag === 'string' ? { slo_etag: raw.slo_etag } : {}),
    });
  }
  return items;
}

/** Reads an SLO manifest document: `[{name: "/container/object", hash, bytes, range?}]`. */
export function parseSloManifest(doc: unknown): SloEntry[] {
  if (!Array.isArray(doc))
    throw new TransferError('the SLO manifest is not a JSON array', {
      method: 'GET',
      url: 'manifest',
    });
  return (doc as Record<string, unknown>[]).map((raw, i) => {
    const name = typeof raw?.name === 'string' ? raw.name.replace(/^\//, '') : '';
    const slash = name.indexOf('/');
    if (slash <= 0 || typeof raw.hash !== 'string' || !isByteCount(raw.bytes)) {
      throw new TransferError(`SLO manifest entry ${i + 1} is malformed`, {
        method: 'GET',
        url: 'manifest',
      });
    }
    return {
      container: name.slice(0, slash),
      object: name.slice(slash + 1),
      bytes: raw.bytes,
      hash: raw.hash.toLowerCase(),
      ...(typeof raw.range === 'string' ? { range: raw.range } : {}),
    };
  });
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
