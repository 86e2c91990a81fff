/**
 * The benchmark's images in the test bed's Swift: DLOs named like a Cloud Images export
 * (`<uuid>.vhd` with `X-Object-Manifest`, segments `<uuid>.vhd-00001`...), made of deterministic
 * content. Each is uploaded once; later runs find it by its manifest ETag and reuse it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { compositeEtag } from '../src/core/large-object.js';
import { generatedContent } from '../src/emulator/content.js';

export const CONTAINER = 'cfimg-bench';

/** tempauth v1 credentials of the test bed. */
export interface V1Auth {
  authUrl: string;
  user: string;
  key: string;
}

export interface Grant {
  token: string;
  storageUrl: string;
}

/** An image as the benchmark knows it: where it is and what its bytes must hash to. */
export interface BenchImage {
  label: string;
  object: string;
  segments: string[];
  segmentSize: number;
  size: number;
  etag: string;
  md5: string;
  /** The listing's MD5 of each segment, in order. */
  segmentMd5s: string[];
}

export interface ImageSpec {
  label: string;
  segments: number;
  segmentSize: number;
}

/** Signs in to tempauth (`GET /auth/v1.0`). */
export async function signIn(auth: V1Auth): Promise<Grant> {
  const res = await request(auth.authUrl, {
    headers: { 'x-auth-user': auth.user, 'x-auth-key': auth.key },
  });
  await res.body.dump();
  const token = res.headers['x-auth-token'];
  const storageUrl = res.headers['x-storage-url'];
  if (res.statusCode !== 200 || typeof token !== 'string' || typeof storageUrl !== 'string')
    throw new Error(`tempauth answered ${res.statusCode}`);
  return { token, storageUrl };
}

/** A stable UUID-shaped name for an image of this shape, so reruns find the upload. */
function imageUuid(spec: ImageSpec): string {
  const hex = createHash('sha256')
    .update(`cfimg-bench ${spec.segments}x${spec.segmentSize}`)
    .digest('hex');
  const cuts = [0, 8, 12, 16, 20, 32];
  return cuts
    .slice(1)
    .map((end, i) => hex.slice(cuts[i], end))
    .join('-');
}

function describe(spec: ImageSpec): Omit<BenchImage, 'etag' | 'md5' | 'segmentMd5s'> {
  const object = `${imageUuid(spec)}.vhd`;
  const segments = Array.from(
    { length: spec.segments },
    (_, i) => `${object}-${String(i + 1).padStart(5, '0')}`,
  );
  return {
    label: spec.label,
    object,
    segments,
    segmentSize: spec.segmentSize,
    size: spec.segments * spec.segmentSize,
  };
}

const PIECE = 1 << 20;

/** Segment `i`'s bytes, in 1 MiB pieces, computed from their offset in the image. */
function* segmentPieces(spec: ImageSpec, i: number): Generator<Buffer> {
  const content = generatedContent(spec.segments * spec.segmentSize, 'cfimg-bench');
  const start = i * spec.segmentSize;
  for (let at = 0; at < spec.segmentSize; at += PIECE)
    yield content.read(start + at, start + Math.min(spec.segmentSize, at + PIECE));
}

/** MD5s of each segment and of the whole image, from the generated content alone. */
function expectedHashes(spec: ImageSpec): { segments: string[]; md5: string } {
  const whole = createHash('md5');
  const segments: string[] = [];
  for (let i = 0; i < spec.segments; i++) {
    const md5 = createHash('md5');
    for (const piece of segmentPieces(spec, i)) {
      md5.update(piece);
      whole.update(piece);
    }
    segments.push(md5.digest('hex'));
  }
  return { segments, md5: whole.digest('hex') };
}

/** The full URL of an object in the benchmark's container. */
export function objectUrl(grant: Grant, name: string): string {
  return `${grant.storageUrl}/${CONTAINER}/${encodeURIComponent(name)}`;
}

async function put(grant: Grant, name: string, body: Readable | string, headers = {}) {
  const res = await request(objectUrl(grant, name), {
    method: 'PUT',
    headers: { 'x-auth-token': grant.token, ...headers },
    body,
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`PUT ${name}: HTTP ${res.statusCode}`);
  return res.headers.etag;
}

async function headEtag(grant: Grant, name: string): Promise<string | undefined> {
  const res = await request(objectUrl(grant, name), {
    method: 'HEAD',
    headers: { 'x-auth-token': grant.token },
  });
  await res.body.dump();
  const etag = res.headers.etag;
  return res.statusCode === 200 && typeof etag === 'string' ? etag.replace(/"/g, '') : undefined;
}

/** The listing's hashes of the objects under `prefix`, in name order. */
async function listedMd5s(grant: Grant, prefix: string): Promise<string[]> {
  const query = `format=json&prefix=${encodeURIComponent(prefix)}`;
  const res = await request(`${grant.storageUrl}/${CONTAINER}?${query}`, {
    headers: { 'x-auth-token': grant.token },
  });
  const items = (await res.body.json()) as { hash: string }[];
  return items.map((item) => item.hash);
}

async function uploadImage(grant: Grant, spec: ImageSpec, image: BenchImage) {
  const container = await request(`${grant.storageUrl}/${CONTAINER}`, {
    method: 'PUT',
    headers: { 'x-auth-token': grant.token },
  });
  await container.body.dump();
  let next = 0;
  const worker = async () => {
    while (next < spec.segments) {
      const i = next++;
      const body = Readable.from(segmentPieces(spec, i), { objectMode: false });
      await put(grant, image.segments[i] as string, body, {
        'content-length': String(spec.segmentSize),
        'content-type': 'application/octet-stream',
      });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await put(grant, image.object, '', {
    'x-object-manifest': `${CONTAINER}/${encodeURIComponent(`${image.object}-`)}`,
    'content-type': 'application/octet-stream',
  });
}

/**
 * Makes sure the image is in Swift and returns what its bytes hash to. The figures are kept
 * in `.bench-cache/`; the image is uploaded only when the server's manifest ETag is not the
 * expected one (first run, or the test bed was purged).
 */
export async function ensureImage(grant: Grant, spec: ImageSpec, cacheDir: string) {
  const base = describe(spec);
  const cacheFile = join(cacheDir, `${base.object}.json`);
  const cached = await readFile(cacheFile, 'utf8').then(
    (text) => JSON.parse(text) as BenchImage,
    () => undefined,
  );
  const hashes = cached
    ? { md5: cached.md5, etag: cached.etag }
    : (() => {
        const h = expectedHashes(spec);
        return { md5: h.md5, etag: compositeEtag(h.segments.map((hash) => ({ hash }))) };
      })();
  const image: BenchImage = { ...base, ...hashes, segmentMd5s: [] };
  if ((await headEtag(grant, image.object)) !== image.etag) {
    process.stderr.write(`bench: uploading ${image.label} (${image.object})\n`);
    await uploadImage(grant, spec, image);
    const now = await headEtag(grant, image.object);
    if (now !== image.etag)
      throw new Error(`uploaded ${image.object} but its ETag is ${now}, not ${image.etag}`);
  }
  image.segmentMd5s = await listedMd5s(grant, `${image.object}-`);
  await mkdir(cacheDir, { recursive: true });
  await writeFile(cacheFile, `${JSON.stringify(image, null, 2)}\n`);
  return image;
}
