/**
 * The real Swift started by `scripts/swift-saio.sh start`, for the suites that run against a
 * real server. `realSwift()` answers undefined when it is not up, so those suites skip instead of
 * failing on a machine without it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';

/** What a suite needs to talk to the real Swift as `test:tester` (an admin of `AUTH_test`). */
export interface RealSwift {
  /** e.g. `http://127.0.0.1:8380` */
  proxyUrl: string;
  /** tempauth's `X-Storage-Url`, e.g. `http://127.0.0.1:8380/v1/AUTH_test` */
  storageUrl: string;
  token: string;
  user: string;
  key: string;
  /** e.g. `http://127.0.0.1:8380/auth/v1.0` */
  authV1Url: string;
}

export const REAL_SWIFT_HINT = 'real Swift not running: start it with scripts/swift-saio.sh start';

const TIMEOUTS = { headersTimeout: 3_000, bodyTimeout: 3_000 };

interface SaioEnv {
  authV1Url: string;
  user: string;
  key: string;
  proxyUrl: string;
}

/**
 * The running real Swift with a fresh token, or undefined when it is not up. With
 * CFIMG_REQUIRE_REAL_SWIFT=1 (as CI sets it) a missing Swift is an error, never a skip.
 */
export async function realSwift(): Promise<RealSwift | undefined> {
  const found = await findRealSwift();
  if (!found && process.env.CFIMG_REQUIRE_REAL_SWIFT === '1')
    throw new Error(`CFIMG_REQUIRE_REAL_SWIFT=1 but ${REAL_SWIFT_HINT}`);
  return found;
}

async function findRealSwift(): Promise<RealSwift | undefined> {
  const env = await readEnv();
  if (!env) return undefined;
  try {
    const health = await request(`${env.proxyUrl}/healthcheck`, TIMEOUTS);
    const text = await health.body.text();
    if (health.statusCode !== 200 || text !== 'OK') return undefined;

    const auth = await request(env.authV1Url, {
      ...TIMEOUTS,
      headers: { 'x-auth-user': env.user, 'x-auth-key': env.key },
    });
    await auth.body.dump();
    const token = auth.headers['x-auth-token'];
    const storageUrl = auth.headers['x-storage-url'];
    if (auth.statusCode !== 200 || typeof token !== 'string' || typeof storageUrl !== 'string') {
      return undefined;
    }
    return { ...env, storageUrl, token };
  } catch {
    return undefined;
  }
}

/** `$CFIMG_SAIO_DIR/env.json` as the script wrote it; only 127.0.0.1 URLs are trusted. */
async function readEnv(): Promise<SaioEnv | undefined> {
  const dir = process.env.CFIMG_SAIO_DIR || '/tmp/cfimg-saio';
  let doc: Partial<Record<keyof SaioEnv, unknown>>;
  try {
    doc = JSON.parse(await readFile(join(dir, 'env.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const { authV1Url, user, key, proxyUrl } = doc;
  if (typeof user !== 'string' || typeof key !== 'string') return undefined;
  if (!isLoopback(authV1Url) || !isLoopback(proxyUrl)) return undefined;
  return { authV1Url, user, key, proxyUrl };
}

function isLoopback(url: unknown): url is string {
  if (typeof url !== 'string') return false;
  try {
    return new URL(url).hostname === '127.0.0.1';
  } catch {
    return false;
  }
}
