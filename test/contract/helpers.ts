/** Small helpers shared by the contract cases. */
import { createHash } from 'node:crypto';

export const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Deterministic bytes for a test object. */
export function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = Buffer.alloc(0);
  for (let at = 0; at < size; at += 32) {
    block = createHash('sha256').update(`${seed}:${at}`).digest();
    block.copy(out, at, 0, Math.min(32, size - at));
  }
  return out;
}

/** Names in byte-wise UTF-8 order, the order Swift lists them in. */
export function byteOrder(names: string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The composite ETag of a large object: md5 of the segments' hex MD5s concatenated. */
export function compositeEtag(parts: Buffer[]): string {
  return md5(parts.map((p) => md5(p)).join(''));
}

export const EMPTY_MD5 = md5('');
export const TRANS_ID = /^tx[0-9a-f]{21}-[0-9a-f]{10}/;
export const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/;

/** Parses a multipart/byteranges body into its parts. */
export function byteranges(
  contentType: string,
  body: Buffer,
): { range: string; type: string; data: Buffer }[] {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const parts: { range: string; type: string; data: Buffer }[] = [];
  const text = body.toString('latin1');
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const [head = '', ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    const data = rest.join('\r\n\r\n').replace(/\r\n$/, '');
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(head)?.[1] ?? '';
    parts.push({
      range: header('Content-Range'),
      type: header('Content-Type'),
      data: Buffer.from(data, 'latin1'),
    });
  }
  return parts;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
