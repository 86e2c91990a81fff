/**
 * Direct access to the real Swift for the soak (never through the fault proxy): uploads the test
 * image as a DLO of segments, and replaces, deletes and restores segments as faults demand.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { request } from 'undici';

export interface SaioAccount {
  authV1Url: string;
  user: string;
  key: string;
}

/** The test image: its segments' bytes in order, and what the whole should hash to. */
export interface SoakImage {
  container: string;
  segmentContainer: string;
  name: string;
  segments: { name: string; data: Buffer; md5: string }[];
  size: number;
  sha256: string;
}

/** Deterministic pseudo-random bytes (AES-256-CTR over zeros, keyed by `label`). */
export function seededBytes(label: string, size: number): Buffer {
  const key = createHash('sha256').update(label).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

export class SwiftAdmin {
  #token = '';
  #storageUrl = '';

  constructor(readonly account: SaioAccount) {}

  async signIn(): Promise<void> {
    const res = await request(this.account.authV1Url, {
      headers: { 'x-auth-user': this.account.user, 'x-auth-key': this.account.key },
    });
    await res.body.dump();
    const token = res.headers['x-auth-token'];
    const url = res.headers['x-storage-url'];
    if (res.statusCode !== 200 || typeof token !== 'string' || typeof url !== 'string')
      throw new Error(`tempauth answered ${res.statusCode}: is scripts/swift-saio.sh running?`);
    this.#token = token;
    this.#storageUrl = url;
  }

  async #call(method: 'PUT' | 'DELETE', path: string, body?: Buffer, extra = {}): Promise<void> {
    const url = `${this.#storageUrl}/${path.split('/').map(encodeURIComponent).join('/')}`;
    const res = await request(url, {
      method,
      headers: { 'x-auth-token': this.#token, ...extra },
      body: body ?? '',
    });
    await res.body.dump();
    if (res.statusCode >= 300 && !(method === 'DELETE' && res.statusCode === 404))
      throw new Error(`${method} ${path} answered ${res.statusCode}`);
  }

  put(container: string, name: string, data: Buffer, headers = {}): Promise<void> {
    return this.#call('PUT', `${container}/${name}`, data, headers);
  }

  remove(container: string, name: string): Promise<void> {
    return this.#call('DELETE', `${container}/${name}`);
  }

  /** Uploads `count` segments (the last one shorter) and the DLO manifest over them. */
  async uploadImage(tag: string, count: number, segmentSize: number): Promise<SoakImage> {
    const container = `cfimg-soak-${tag}`;
    const segmentContainer = `${container}-segments`;
    const name = 'img.vhd';
    await this.#call('PUT', container);
    await this.#call('PUT', segmentContainer);
    const segments = [];
    for (let i = 1; i <= count; i++) {
      const size = i === count ? Math.floor(segmentSize / 3) + 17 : segmentSize;
      const data = seededBytes(`${tag}-${i}`, size);
      const segment = { name: `${name}-${String(i).padStart(5, '0')}`, data, md5: md5(data) };
      await this.put(segmentContainer, segment.name, data);
      segments.push(segment);
    }
    await this.put(container, name, Buffer.alloc(0), {
      'x-object-manifest': `${segmentContainer}/${name}-`,
    });
    const whole = createHash('sha256');
    for (const s of segments) whole.update(s.data);
    const size = segments.reduce((n, s) => n + s.data.length, 0);
    return { container, segmentContainer, name, segments, size, sha256: whole.digest('hex') };
  }

  /** Deletes the image's objects and containers. */
  async removeImage(image: SoakImage): Promise<void> {
    for (const s of image.segments) await this.remove(image.segmentContainer, s.name);
    await this.remove(image.container, image.name);
    await this.#call('DELETE', image.segmentContainer).catch(() => undefined);
    await this.#call('DELETE', image.container).catch(() => undefined);
  }
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}
