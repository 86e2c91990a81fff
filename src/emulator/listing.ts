/**
 * Account and container listings as Swift 2.30 serves them: byte-wise UTF-8 order; `prefix`,
 * `marker`, `end_marker`, `delimiter`, `reverse`; `limit` up to the listing limit (10,000, more
 * is 412); JSON items `{bytes, hash, name, content_type, last_modified}` or one name a line.
 * An empty plain listing is 204; an empty JSON listing is `[]` with 200 (listing_formats turns
 * only an empty *body* into 204).
 */
import type { Exchange, Headers } from './exchange.js';
import { pyJson } from './pyjson.js';
import { type Account, type Container, compareUtf8, type StoredObject } from './store.js';
import { httpDate, isoTimestamp, normalTimestamp } from './swift-time.js';

/** The query of a listing request, validated. */
export interface ListingQuery {
  prefix: string;
  marker: string;
  endMarker: string | undefined;
  delimiter: string | undefined;
  limit: number;
  reverse: boolean;
  json: boolean;
  /** True when the format came from Accept (no `format` parameter): the answer varies on it. */
  vary?: boolean;
}

/** Reads the listing query; a string is Swift's 412 body when `limit` is too high. */
export function listingQuery(
  ex: Exchange,
  query: URLSearchParams,
  max: number,
): ListingQuery | string {
  const given = query.get('limit');
  let limit = max;
  if (given !== null && /^\d+$/.test(given)) {
    limit = Number(given);
    if (limit > max) return `Maximum limit is ${max}`;
  }
  const format = query.get('format')?.toLowerCase();
  const accept = String(ex.req.headers.accept ?? '');
  return {
    prefix: query.get('prefix') ?? '',
    marker: query.get('marker') ?? '',
    endMarker: query.get('end_marker') || undefined,
    delimiter: query.get('delimiter') || undefined,
    limit,
    reverse: ['true', '1', 'yes', 'on', 't', 'y'].includes(
      query.get('reverse')?.toLowerCase() ?? '',
    ),
    json: format !== undefined ? format === 'json' : /application\/json/.test(accept),
    vary: format === undefined,
  };
}

/** A listing entry: an item, or a `subdir` rolled up by the delimiter. */
export type Entry<T> = { item: T } | { subdir: string };

/** Applies prefix, markers, delimiter, order and limit to names sorted byte-wise. */
export function selectEntries<T extends { name: string }>(
  sorted: T[],
  q: ListingQuery,
): Entry<T>[] {
  const ordered = q.reverse ? [...sorted].reverse() : sorted;
  const after = (name: string) => {
    if (q.reverse) {
      return (
        (!q.marker || compareUtf8(name, q.marker) < 0) &&
        (q.endMarker === undefined || compareUtf8(name, q.endMarker) > 0)
      );
    }
    return (
      compareUtf8(name, q.marker) > 0 &&
      (q.endMarker === undefined || compareUtf8(name, q.endMarker) < 0)
    );
  };
  const entries: Entry<T>[] = [];
  let lastSubdir: string | undefined;
  for (const item of ordered) {
    if (entries.length >= q.limit) break;
    if (!item.name.startsWith(q.prefix) || !after(item.name)) continue;
    const cut = q.delimiter === undefined ? -1 : item.name.indexOf(q.delimiter, q.prefix.length);
    if (cut < 0) {
      entries.push({ item });
      continue;
    }
    const subdir = item.name.slice(0, cut + (q.delimiter?.length ?? 0));
    if (subdir === lastSubdir || subdir === q.marker) continue;
    lastSubdir = subdir;
    entries.push({ subdir });
  }
  return entries;
}

/** GET/HEAD of a container. */
export async function containerListing(ex: Exchange, container: Container, q: ListingQuery) {
  const stats = container.stats();
  const headers: Headers = {
    'X-Container-Object-Count': stats.count,
    'X-Container-Bytes-Used': stats.bytes,
    'X-Timestamp': normalTimestamp(container.created),
    'Last-Modified': httpDate(container.created),
    'X-Storage-Policy': 'Policy-0',
    'Accept-Ranges': 'bytes',
  };
  const entries = ex.method === 'HEAD' ? [] : selectEntries(container.listed(), q);
  const body = q.json
    ? pyJson(await Promise.all(entries.map(objectRecord)))
    : entries.map((e) => `${'item' in e ? e.item.name : e.subdir}\n`).join('');
  await sendListing(ex, headers, body, q);
}

/** GET/HEAD of an account. */
export async function accountListing(ex: Exchange, account: Account, q: ListingQuery) {
  const containers = account.sortedContainers();
  const stats = containers.map((c) => c.stats());
  const headers: Headers = {
    'X-Account-Container-Count': containers.length,
    'X-Account-Object-Count': stats.reduce((n, s) => n + s.count, 0),
    'X-Account-Bytes-Used': stats.reduce((n, s) => n + s.bytes, 0),
    'X-Timestamp': normalTimestamp(account.created),
    'Accept-Ranges': 'bytes',
  };
  for (const key of ['Container-Count', 'Object-Count', 'Bytes-Used']) {
    headers[`X-Account-Storage-Policy-Policy-0-${key}`] = headers[`X-Account-${key}`] ?? 0;
  }
  const entries = ex.method === 'HEAD' ? [] : selectEntries(containers, q);
  const records = entries.map((e) => {
    if ('subdir' in e) return { subdir: e.subdir };
    const { count, bytes } = e.item.stats();
    return { name: e.item.name, count, bytes, last_modified: isoTimestamp(e.item.created) };
  });
  const body = q.json
    ? pyJson(records)
    : records.map((r) => `${'name' in r ? r.name : r.subdir}\n`).join('');
  await sendListing(ex, headers, body, q);
}

/** A container listing's record of one object; an SLO shows its full size and `slo_etag`. */
async function objectRecord(entry: Entry<StoredObject>): Promise<unknown> {
  if ('subdir' in entry) return { subdir: entry.subdir };
  const o = entry.item;
  return {
    bytes: o.slo?.size ?? o.size,
    hash: await o.md5(),
    name: o.name,
    content_type: o.contentType,
    last_modified: isoTimestamp(o.timestamp),
    slo_etag: o.slo === undefined ? undefined : `"${o.slo.etag}"`,
  };
}

async function sendListing(ex: Exchange, headers: Headers, body: string, q: ListingQuery) {
  const { json, vary } = q;
  const type = json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
  if (vary) headers.Vary = 'Accept';
  if (ex.method === 'HEAD') return ex.send(204, { ...headers, 'Content-Type': type });
  await ex.send(body === '' ? 204 : 200, { ...headers, 'Content-Type': type }, body);
}
