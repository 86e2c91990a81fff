/**
 * Pure parsers for the HTTP headers cfimg relies on. Each returns `undefined` for a value it
 * cannot read instead of throwing, so the caller decides what a missing value means.
 */

/** A header value from a response's header record (which may hold arrays). */
export function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** A non-negative decimal integer, as in Content-Length. */
export function parseLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,16}\s*$/.test(value)) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `bytes START-END/SIZE` or `bytes *\/SIZE` (SIZE may be `*`). */
export interface ContentRange {
  start?: number;
  end?: number;
  size?: number;
}

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const m =
    value === undefined ? null : /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const range: ContentRange = {};
  if (m[1] !== undefined && m[2] !== undefined) {
    range.start = Number(m[1]);
    range.end = Number(m[2]);
    if (range.end < range.start) return undefined;
  }
  if (m[3] !== undefined && m[3] !== '*') range.size = Number(m[3]);
  // A range must lie inside the representation (RFC 9110 14.4): `bytes 0-10/5` is broken.
  if (range.end !== undefined && range.size !== undefined && range.end >= range.size)
    return undefined;
  const values = [range.start, range.end, range.size].filter((v) => v !== undefined);
  return values.every((v) => Number.isSafeInteger(v)) ? range : undefined;
}

/** An ETag without quotes or a weak prefix, lower-cased: what MD5 hex digests compare to. */
export function normalizeEtag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?([^"]*)"?\s*$/.exec(value);
  const tag = m?.[1]?.trim().toLowerCase();
  return tag ? tag : undefined;
}

/** Whether an ETag value is a 32-digit MD5 hex digest (quoted or not). */
export function isMd5Etag(value: string | undefined): boolean {
  return /^[0-9a-f]{32}$/.test(normalizeEtag(value) ?? '');
}

/**
 * Retry-After as a delay in milliseconds: either delta-seconds or an HTTP date, which is
 * measured against `now`. Negative delays become 0.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), 86_400) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/** The segment container and prefix of a DLO's `X-Object-Manifest: container/prefix`. */
export interface ManifestRef {
  container: string;
  prefix: string;
}

/** Parses `X-Object-Manifest`, which some servers send percent-encoded. */
export function parseObjectManifest(value: string | undefined): ManifestRef | undefined {
  if (value === undefined) return undefined;
  let text = value.trim();
  try {
    text = decodeURIComponent(text);
  } catch {
    // Not valid percent-encoding: the raw value is the name.
  }
  const slash = text.indexOf('/');
  if (slash <= 0) return undefined;
  return { container: text.slice(0, slash), prefix: text.slice(slash + 1) };
}
