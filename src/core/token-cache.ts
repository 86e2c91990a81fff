/**
 * A small on-disk cache of Identity tokens, so a script that runs cfimg ten times signs in once.
 * The file is mode 0600 in a 0700 directory and holds tokens only. An entry's key is derived
 * with scrypt, under a random salt kept in the file, from (auth URL, username, secret, region,
 * snet): a stolen cache file gives no fast way to test guesses of a weak password. A cache
 * whose mode is looser than that is ignored, with a warning, rather than trusted.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** What the cache remembers of one sign-in. */
export interface CachedToken {
  token: string;
  /** ISO 8601. */
  expires: string;
  storageUrl: string;
  region: string;
}

/** Everything that makes a token valid for a request; the secret never leaves this process. */
export interface TokenCacheKeyParts {
  authUrl: string;
  username: string;
  secret: string;
  region: string;
  snet: boolean;
}

interface CacheFile {
  version: 2;
  /** Hex; new with each new file. */
  salt: string;
  entries: Record<string, CachedToken>;
}

/** Tokens are used until this long before they expire. */
const SAFETY_MARGIN_MS = 5 * 60_000;

/** scrypt cost: 16 MiB and some tens of milliseconds, once per run. */
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

const scryptAsync = promisify(scrypt) as (
  secret: string,
  salt: Buffer,
  length: number,
  opts: typeof SCRYPT,
) => Promise<Buffer>;

/** The key of an entry: scrypt of the parts under the file's salt. */
export async function tokenCacheKey(parts: TokenCacheKeyParts, salt: string): Promise<string> {
  const text = JSON.stringify([
    parts.authUrl,
    parts.username,
    parts.secret,
    parts.region.toUpperCase(),
    parts.snet,
  ]);
  return (await scryptAsync(text, Buffer.from(salt, 'hex'), 32, SCRYPT)).toString('hex');
}

export class TokenCache {
  readonly #dir: string;
  readonly #file: string;
  readonly #warn: (message: string) => void;
  /** Keys already derived in this run: scrypt runs once per run, not once per call. */
  readonly #keys = new Map<string, Promise<string>>();

  constructor(dir: string, warn: (message: string) => void) {
    this.#dir = dir;
    this.#file = join(dir, 'tokens.json');
    this.#warn = warn;
  }

  /** A still-valid token for these credentials, or undefined. */
  async get(parts: TokenCacheKeyParts, now = Date.now()): Promise<CachedToken | undefined> {
    const file = await this.#read();
    if (!file) return undefined;
    const entry = file.entries[await this.#key(parts, file.salt)];
    if (!entry) return undefined;
    const expires = Date.parse(entry.expires);
    return Number.isFinite(expires) && expires - SAFETY_MARGIN_MS > now ? entry : undefined;
  }

  /** Stores a token, dropping expired entries; failures only warn, the run goes on. */
  async put(parts: TokenCacheKeyParts, entry: CachedToken, now = Date.now()): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      if (!(await this.#modesOk(false))) return;
      const file = (await this.#read()) ?? {
        version: 2,
        salt: randomBytes(16).toString('hex'),
        entries: {},
      };
      for (const [k, v] of Object.entries(file.entries)) {
        if (!(Date.parse(v.expires) > now)) delete file.entries[k];
      }
      file.entries[await this.#key(parts, file.salt)] = entry;
      await this.#write(file);
    } catch (err) {
      this.#warn(`could not write the token cache in ${this.#dir}: ${(err as Error).message}`);
    }
  }

  /** Forgets a token the server refused. */
  async drop(parts: TokenCacheKeyParts): Promise<void> {
    const file = await this.#read();
    if (!file) return;
    const key = await this.#key(parts, file.salt);
    if (!file.entries[key]) return;
    delete file.entries[key];
    await this.#write(file).catch(() => undefined);
  }

  #key(parts: TokenCacheKeyParts, salt: string): Promise<string> {
    const id = JSON.stringify([salt, parts]);
    let key = this.#keys.get(id);
    if (!key) {
      key = tokenCacheKey(parts, salt);
      this.#keys.set(id, key);
    }
    return key;
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
      // Anything else (version 1 keyed by a plain SHA-256, a damaged file) is replaced on put.
      const doc = JSON.parse(await readFile(this.#file, 'utf8')) as CacheFile;
      const usable =
        doc?.version === 2 &&
        typeof doc.salt === 'string' &&
        /^[0-9a-f]{32}$/.test(doc.salt) &&
        typeof doc.entries === 'object' &&
        doc.entries;
      return usable ? doc : undefined;
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
