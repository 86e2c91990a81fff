/** `cfimg head CONTAINER/OBJECT`: the headers, aligned, and what they mean. */
import { compositeEtag, dloHealth, ownName, withoutManifest } from '../../core/large-object.js';
import { parseObjectRef } from '../../core/paths.js';
import type { ObjectInfo } from '../../core/swift.js';
import type { Context } from '../context.js';
import { formatBytes } from '../reporter.js';

/** Header names as Swift capitalises them (Swiftly prints them this way). */
function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export function renderHead(info: ObjectInfo): string {
  const names = Object.keys(info.headers).sort();
  const width = Math.max(...names.map((n) => n.length)) + 1;
  const lines = names.map((n) => `${`${titleCase(n)}:`.padEnd(width + 1)}${info.headers[n]}`);
  lines.push('');
  lines.push(`size: ${info.size} bytes (${formatBytes(info.size)})`);
  if (info.etag) lines.push(`etag: ${info.etag}`);
  if (info.kind === 'dlo')
    lines.push(
      `kind: dynamic large object, segments ${info.manifest?.container}/${info.manifest?.prefix}*`,
    );
  else if (info.kind === 'slo') lines.push('kind: static large object');
  else lines.push('kind: object');
  return `${lines.join('\n')}\n`;
}

export async function headCommand(ctx: Context, ref: string): Promise<void> {
  const { container, object } = parseObjectRef(ref);
  const client = ctx.client();
  const info = await client.head(container, object);
  const warnings: string[] = [];
  let segments: number | undefined;
  if (info.kind === 'dlo' && info.manifest) {
    const items = await client
      .listAll(info.manifest.container, info.manifest.prefix)
      .catch(() => undefined);
    if (items) {
      const self = ownName(info);
      segments = withoutManifest(items, self).length;
      warnings.push(...dloHealth(info.manifest.prefix, items, self));
      const total = items.reduce((n, i) => n + i.bytes, 0);
      if (total !== info.size)
        warnings.push(`the segments sum to ${total} bytes, the manifest says ${info.size}`);
      else if (info.etag && compositeEtag(items) !== info.etag)
        warnings.push(
          'the segment hashes do not give the manifest ETag: the listing is stale or the image changed',
        );
    }
  }
  if (ctx.config.json) {
    const doc = {
      container,
      object,
      kind: info.kind,
      size: info.size,
      etag: info.etag ?? null,
      manifest: info.manifest ?? null,
      segments: segments ?? null,
      warnings,
      headers: info.headers,
    };
    ctx.io.stdout.write(`${ctx.redactor.redact(JSON.stringify(doc, null, 2))}\n`);
  } else {
    let text = renderHead(info);
    if (segments !== undefined) text += `segments: ${segments}\n`;
    ctx.io.stdout.write(ctx.redactor.redact(text));
  }
  for (const w of warnings) ctx.reporter.warn(w);
}
