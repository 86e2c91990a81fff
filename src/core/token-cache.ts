/**
 * A small on-disk cache of Identity tokens, so a script that runs cfimg ten times signs in once.
 * The file is mode 0600 in a 0700 directory and holds tokens only: entries are keyed by a hash
 * of (auth URL, username, secret, region, snet), never by the secret itself. A cache whose mode
 * is looser than that is ignored, with a warning, rather than trusted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the cache remembers of one sign-in. */
export interface CachedToken {
  token: string;
  /** ISO 8601. */
  expires: string;
  storageUrl: string;
  region: string;
}

interface CacheFile {
  version: 1;
  entries: Record<string, CachedToken>;
}

/** Tokens are used until this long before they expire. */
const SAFETY_MARGIN_MS = 5 * 60_000;

/** The cache key: a digest of everything that makes a token valid for a request. */
export function tokenCacheKey(parts: {
  authUrl: string;
  username: string;
  secret: string;
  region: string;
  snet: boolean;
}): string {
  const text = JSON.stringify([
    parts.authUrl,
    parts.username,
    parts.secret,
    parts.region.toUpperCase(),
    parts.snet,
  ]);
  return createHash('sha256').update(text).digest('hex');
}

export class TokenCache {
  readonly #dir: string;
  readonly #file: string;
  readonly #warn: (message: string) => void;

  constructor(dir: string, warn: (message: string) => void) {
    this.#dir = dir;
    this.#file = join(dir, 'tokens.json');
    this.#warn = warn;
  }

  /** A still-valid token for `key`, or undefined. */
  async get(key: string, now = Date.now()): Promise<CachedToken | undefined> {
    const file = await this.#read();
    const entry = file?.entries[key];
    if (!entry) return undefined;
    const expires = Date.parse(entry.expires);
    return Number.isFinite(expires) && expires - SAFETY_MARGIN_MS > now ? entry : undefined;
  }

  /** Stores a token, dropping expired entries; failures only warn, the run goes on. */
  async put(key: string, entry: CachedToken, now = Date.now()): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      if (!(await this.#modesOk(false))) return;
      const file = (await this.#read()) ?? { version: 1, entries: {} };
      for (const [k, v] of Object.entries(file.entries)) {
        if (!(Date.parse(v.expires) > now)) delete file.entries[k];
      }
      file.entries[key] = entry;
      await this.#write(file);
    } catch (err) {
      this.#warn(`could not write the token cache in ${this.#dir}: ${(err as Error).message}`);
    }
  }

  /** Forgets a token the server refused. */
  async drop(key: string): Promise<void> {
    const file = await this.#read();
    if (!file?.entries[key]) return;
    delete file.entries[key];
    await this.#write(file).catch(() => undefined);
  }

  async #write(file: CacheFile): Promise<void> {
    const tmp = `${this.#file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.#file);
  }

  async #read(): Promise<CacheFile | undefined> {
    if (!(await this.#modesOk(true))) return undefined;
    try {
      const doc = JSON.parse(await readFile(this.#file, 'utf8')) as CacheFile;
      return doc?.version === 1 && typeof doc.entries === 'object' && doc.entries ? doc : undefined;
    } catch {
      return undefined;
    }
  }

  /** False (with a warning) when the directory or file can be read by others. */
  async #modesOk(fileMustExist: boolean): Promise<boolean> {
    const dirMode = await stat(this.#dir).then(
      (s) => s.mode & 0o777,
      () => undefined,
    );
    if (dirMode === undefined) return !fileMustExist;
    if (dirMode & 0o077) {
      this.#warn(
        `ignoring the token cache: ${this.#dir} has mode ${octal(dirMode)}, expected 700 (chmod 700 it)`,
      );
      return false;
    }
    const fileMode = await stat(this.#file).then(
      (s) => s.mode & 0o777,
      () => undefined,
    );
    if (fileMode === undefined) return !fileMustExist;
    if (fileMode & 0o077) {
      this.#warn(
        `ignoring the token cache: ${this.#file} has mode ${octal(fileMode)}, expected 600 (chmod 600 it)`,
      );
      return false;
    }
    return true;
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(3, '0');
}
