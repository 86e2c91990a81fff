/** `cfimg list CONTAINER [--prefix P] [--full] [--limit N]`: names, or Swiftly's full columns. */

import { parseContainer } from '../../core/paths.js';
import type { ListingItem } from '../../core/swift.js';
import { intOption } from '../config.js';
import type { Context } from '../context.js';

export interface ListFlags {
  prefix?: string;
  full?: boolean;
  limit?: string;
}

/** MD5 of nothing: the hash a DLO manifest shows in a listing. */
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** `2014-02-28T21:33:46.410150` -> `2014-02-28 21:33:46.41`, as Swiftly prints it. */
function shortTime(text: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d{1,2}))?/.exec(text);
  return m ? `${m[1]} ${m[2]}${m[3] ? `.${m[3].padEnd(2, '0')}` : ''}` : text;
}

export function renderFull(items: (ListingItem & { manifest?: string })[]): string {
  const sizes = items.map((i) => (i.manifest !== undefined ? 'manifest' : String(i.bytes)));
  const width = Math.max(10, ...sizes.map((s) => s.length));
  const typeWidth = Math.max(0, ...items.map((i) => i.content_type.length));
  return items
    .map((item, n) => {
      const size = (sizes[n] as string).padStart(width);
      const tail = item.manifest !== undefined ? `  -> ${item.manifest}` : '';
      const date = shortTime(item.last_modified).padEnd(22);
      const type = item.content_type.padEnd(typeWidth);
      return `${size} ${date} ${item.hash.padEnd(32)} ${type} ${item.name}${tail}\n`;
    })
    .join('');
}

export async function listCommand(
  ctx: Context,
  containerText: string,
  flags: ListFlags,
): Promise<void> {
  const container = parseContainer(containerText);
  const limit =
    flags.limit === undefined
      ? undefined
      : intOption('--limit', flags.limit, 0, 1, Number.MAX_SAFE_INTEGER);
  const client = ctx.client();
  const listing = client.list(container, {
    ...(flags.prefix ? { prefix: flags.prefix } : {}),
    ...(limit ? { limit } : {}),
  });

  if (!flags.full && !ctx.config.json) {
    let batch = '';
    for await (const item of listing) {
      batch += `${item.name}\n`;
      if (batch.length > 64 * 1024) {
        ctx.io.stdout.write(batch);
        batch = '';
      }
    }
    ctx.io.stdout.write(batch);
    return;
  }

  const items: (ListingItem & { manifest?: string })[] = [];
  for await (const item of listing) items.push(item);
  // A DLO manifest lists as 0 bytes; a HEAD tells which zero-byte objects are manifests. A
  // container of many empty objects gets its HEADs `--concurrency` at a time.
  const empty = items.filter((item) => item.bytes === 0 && item.hash === EMPTY_MD5);
  const lanes = Array.from({ length: ctx.config.concurrency }, async () => {
    for (let item = empty.shift(); item; item = empty.shift()) {
      const info = await client.head(container, item.name).catch(() => undefined);
      if (info?.manifest) item.manifest = `${info.manifest.container}/${info.manifest.prefix}`;
    }
  });
  await Promise.all(lanes);
  if (ctx.config.json) {
    const records = items.map((i) => ({
      name: i.name,
      bytes: i.bytes,
      hash: i.hash,
      content_type: i.content_type,
      last_modified: i.last_modified,
      ...(i.manifest !== undefined ? { dlo_manifest: i.manifest } : {}),
    }));
    ctx.io.stdout.write(`${JSON.stringify(records, null, 1)}\n`);
    return;
  }
  ctx.io.stdout.write(renderFull(items));
}
