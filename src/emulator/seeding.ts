/**
 * Helpers behind the emulator's direct (non-HTTP) seeding API: SLO manifests built from stored
 * objects, and corrupted views of content.
 */
import { createHash } from 'node:crypto';
import { bufferContent, type Content } from './content.js';
import { pyJson } from './pyjson.js';
import { type SloSegment, StoredObject } from './store.js';
import { isoOfHttpDate } from './swift-time.js';

type Lookup = (container: string, name: string) => StoredObject | undefined;

/** An SLO manifest over whole stored objects, recorded as Swift's PUT would record it. */
export function buildSlo(
  container: string,
  name: string,
  segments: { container: string; name: string }[],
  lookup: Lookup,
): StoredObject {
  const records: SloSegment[] = segments.map((s) => {
    const o = lookup(s.container, s.name);
    if (o === undefined) throw new Error(`SLO segment ${s.container}/${s.name} does not exist`);
    return {
      name: `/${s.container}/${s.name}`,
      bytes: o.size,
      hash: o.md5Sync(),
      content_type: o.contentType,
      last_modified: isoOfHttpDate(o.timestamp),
    };
  });
  const etag = createHash('md5')
    .update(records.map((r) => r.hash).join(''))
    .digest('hex');
  const json = Buffer.from(pyJson(records));
  return new StoredObject({
    container,
    name,
    data: bufferContent(json),
    contentType: 'application/octet-stream',
    slo: { etag, size: records.reduce((n, r) => n + r.bytes, 0), segments: records },
    md5: createHash('md5').update(json).digest('hex'),
  });
}

/** `content` with the byte at `offset` inverted. */
export function corruptedContent(content: Content, offset: number): Content {
  if (offset < 0 || offset >= content.size) {
    throw new RangeError(`offset ${offset} is outside ${content.size} bytes`);
  }
  return {
    size: content.size,
    read(start, end) {
      const bytes = content.read(start, end);
      if (offset < start || offset >= end) return bytes;
      const copy = Buffer.from(bytes);
      copy[offset - start] = (copy[offset - start] ?? 0) ^ 0xff;
      return copy;
    },
  };
}
