/**
 * A "target" of the contract suite: a Swift endpoint (the emulator or a real Swift) plus the few
 * upload helpers the cases need. Everything goes over HTTP, so both targets are seeded the same
 * way and the cases cannot tell which one they talk to.
 */
import { randomBytes } from 'node:crypto';
import { type Emulator, startEmulator } from '../../src/emulator/index.js';
import { REAL_SWIFT_HINT, realSwift } from '../support/real-swift.js';
import { fetchAll, type HttpAnswer } from './http.js';

export interface SwiftTarget {
  name: string;
  storageUrl: string;
  token: string;
  /** A container name unique to this run, with `label` in it. */
  uniqueContainer(label: string): string;
  /** Any request below the storage URL; `path` is percent-encoded already. */
  call(method: string, path: string, opts?: CallOptions): Promise<HttpAnswer>;
  putContainer(container: string): Promise<void>;
  putObject(
    container: string,
    name: string,
    body: Buffer | string,
    headers?: Record<string, string>,
  ): Promise<void>;
  putDlo(container: string, name: string, manifest: string): Promise<void>;
  putSlo(
    container: string,
    name: string,
    segments: { path: string; etag?: string; size_bytes?: number }[],
  ): Promise<void>;
  /** Deletes everything this run created. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export interface CallOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  query?: Record<string, string>;
  /** Override the token; '' sends none. */
  token?: string;
}

/** Percent-encodes a container or object name segment by segment, keeping `/`. */
export function encodePath(...names: string[]): string {
  return names.map((n) => n.split('/').map(encodeURIComponent).join('/')).join('/');
}

/** Creates the target over a storage URL and token. */
export function httpTarget(
  name: string,
  storageUrl: string,
  token: string,
  close: () => Promise<void> = async () => {},
): SwiftTarget {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const created: string[] = [];

  const call = async (
    method: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<HttpAnswer> => {
    const qs = opts.query ? `?${new URLSearchParams(opts.query)}` : '';
    const token = opts.token ?? target.token;
    const headers = { ...(token ? { 'x-auth-token': token } : {}), ...opts.headers };
    return fetchAll(`${storageUrl}/${path}${qs}`, { method, headers, body: opts.body });
  };
  const expectStatus = async (what: string, p: Promise<HttpAnswer>, ok: number[]) => {
    const res = await p;
    if (!ok.includes(res.status)) {
      throw new Error(`${what}: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
    }
  };

  const target: SwiftTarget = {
    name,
    storageUrl,
    token,
    uniqueContainer: (label) => `cfimg-contract-${run}-${label}`,
    call,
    async putContainer(container) {
      created.push(container);
      await expectStatus(`PUT ${container}`, call('PUT', encodePath(container)), [201, 202]);
    },
    async putObject(container, object, body, headers = {}) {
      const h = { 'content-type': 'application/octet-stream', ...headers };
      await expectStatus(
        `PUT ${object}`,
        call('PUT', encodePath(container, object), { body, headers: h }),
        [201],
      );
    },
    async putDlo(container, object, manifest) {
      const headers = { 'x-object-manifest': manifest, 'content-type': 'application/octet-stream' };
      await expectStatus(
        `PUT ${object}`,
        call('PUT', encodePath(container, object), { body: '', headers }),
        [201],
      );
    },
    async putSlo(container, object, segments) {
      const opts = { body: JSON.stringify(segments), query: { 'multipart-manifest': 'put' } };
      await expectStatus(`PUT ${object}`, call('PUT', encodePath(container, object), opts), [201]);
    },
    async cleanup() {
      // One pass by marker: expired objects stay listed but cannot be deleted, so no looping.
      for (const container of created.reverse()) {
        let marker = '';
        for (;;) {
          const query = { format: 'json', marker };
          const list = await call('GET', encodePath(container), { query });
          const items =
            list.status === 200 ? (JSON.parse(list.body.toString()) as { name: string }[]) : [];
          if (items.length === 0) break;
          for (const item of items) await call('DELETE', encodePath(container, item.name));
          marker = items[items.length - 1]?.name ?? '';
        }
        await call('DELETE', encodePath(container));
      }
    },
    close,
  };
  return target;
}

/** The emulator as a target. */
export async function emulatorTarget(): Promise<SwiftTarget> {
  // The DLO throttle on, as on the real Swift the suite also runs against.
  const emulator: Emulator = await startEmulator({ dloRateLimit: true });
  return httpTarget('emulator', emulator.storageUrl(), emulator.token(), () => emulator.close());
}

/** The real Swift as a target, or undefined with the reason when it is not up. */
export async function realTarget(): Promise<SwiftTarget | undefined> {
  const real = await realSwift();
  return real && httpTarget('real Swift', real.storageUrl, real.token);
}

export { REAL_SWIFT_HINT };
