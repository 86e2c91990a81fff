/**
 * Object references and their URL form. Swift names are UTF-8 and may hold any character;
 * the URL path percent-encodes each `/`-separated part on its own, so a `/` inside an object
 * name stays a path separator, exactly as Swift stores it.
 */
import { UsageError } from './errors.js';

/** A `CONTAINER/OBJECT` pair as the user typed it. */
export interface ObjectRef {
  container: string;
  object: string;
}

/** Splits `CONTAINER/OBJECT` at the first `/`; both parts must be non-empty. */
export function parseObjectRef(text: string): ObjectRef {
  const slash = text.indexOf('/');
  const container = slash < 0 ? text : text.slice(0, slash);
  const object = slash < 0 ? '' : text.slice(slash + 1);
  if (!container || !object) {
    throw new UsageError(
      `'${text}' is not CONTAINER/OBJECT: give the container, a slash, then the object name`,
    );
  }
  checkName(container, 'container');
  checkName(object, 'object');
  return { container, object };
}

/** Checks a container name the user typed on its own (no slash allowed). */
export function parseContainer(text: string): string {
  if (!text || text.includes('/')) {
    throw new UsageError(`'${text}' is not a container name: give it without slashes`);
  }
  checkName(text, 'container');
  return text;
}

/** A UTF-16 surrogate without its pair: what some decoders make of a byte that is not UTF-8. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Refuses a name typed on the command line that cannot be the UTF-8 name Swift stores: a NUL, or
 * U+FFFD and lone surrogates, which is what a byte that is not UTF-8 turns into in argv.
 */
function checkName(name: string, what: string): void {
  if (name.includes('\u0000') || name.includes('\ufffd') || LONE_SURROGATE.test(name)) {
    throw new UsageError(`the ${what} name holds a NUL or a byte that is not UTF-8: check it`);
  }
}

/** Percent-encodes one path part; `.` and `..` are encoded so no client or proxy folds them. */
export function encodePart(part: string): string {
  if (part === '.' || part === '..') return part.replaceAll('.', '%2E');
  if (!LONE_SURROGATE.test(part)) return encodeURIComponent(part);
  // encodeURIComponent throws on a lone surrogate (a listing may hold one): send its WTF-8 bytes.
  let out = '';
  for (const char of part) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0xd800 || code > 0xdfff) out += encodeURIComponent(char);
    else
      for (const byte of [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)])
        out += `%${byte.toString(16).toUpperCase()}`;
  }
  return out;
}

/** The path below the storage URL for a container, or an object in it. */
export function objectPath(container: string, object?: string): string {
  const parts = [container, ...(object === undefined ? [] : object.split('/'))];
  return `/${parts.map(encodePart).join('/')}`;
}

/** A query string from defined values, encoded; empty when nothing is set. */
export function queryString(query: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(query).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  if (pairs.length === 0) return '';
  return `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
}

/** The last part of an object name: the default local file name for `get`. */
export function baseName(object: string): string {
  const parts = object.split('/').filter((p) => p !== '');
  return parts.at(-1) ?? object;
}

/**
 * The file `get` writes when no -o is given: the object's base name, which must name a file in
 * the current directory. `.`, `..` and names that are only slashes name none (`..` would be the
 * parent directory), so they are refused with the fix.
 */
export function defaultFileName(object: string): string {
  const name = baseName(object);
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\u0000')) {
    throw new UsageError(
      `the object name ${JSON.stringify(object)} gives no file name: choose one with -o FILE`,
    );
  }
  return name;
}
