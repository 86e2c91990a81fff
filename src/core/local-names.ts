/**
 * Local file names for Swift objects. An object name is any UTF-8 string, slashes and `..`
 * included (Swiftly writes `../` names outside the output directory); here each becomes one
 * file-name component that cannot leave its directory, and distinct names stay distinct.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from './errors.js';

/** The longest file-name component most file systems accept, in bytes (ext4, XFS, APFS). */
const MAX_NAME_BYTES = 255;

/** Hex digits of sha256 kept after a cut name: 64 bits tell the long names of one image apart. */
const HASH_DIGITS = 16;

/**
 * Marks a cut name. Every `%` the encoding writes is followed by two uppercase hex digits, so
 * `%~` (like `%empty`) never comes out of an uncut name.
 */
const CUT_MARK = '%~';
const EMPTY_NAME = '%empty';

/**
 * Characters encoded besides `%`, `/`, `\` and control characters: Windows refuses them, and a
 * `:` there writes an alternate data stream. Encoding them everywhere keeps names the same on
 * every platform, so a partial download can be resumed on another machine.
 */
const WINDOWS_RESERVED = new Set(['<', '>', ':', '"', '|', '?', '*']);

/** Windows device names, which open the device whatever the extension (`nul.txt`). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]) *(\.|$)/i;

/**
 * Maps a Swift object name to one safe file-name component; `encoded` tells whether it differs
 * from the object name. Ordinary names (`<uuid>.vhd-00001`) are kept as they are. `%`, `/`, `\`,
 * control characters and the characters Windows forbids become `%XX` (UTF-8 bytes); `.`, `..`
 * and the empty name are encoded whole; a name over 255 bytes keeps a readable head and a
 * sha256 suffix. The mapping is injective: decoding `%XX` gives back the object name.
 */
export function localSegmentName(segmentName: string): { name: string; encoded: boolean } {
  const name = shorten(encodeName(segmentName));
  return { name, encoded: name !== segmentName };
}

/**
 * `dir` joined with `name`, as an absolute path; throws a UsageError unless the result lies
 * strictly inside `dir`. The check is on the path's text: it does not follow symbolic links.
 */
export function resolveInside(dir: string, name: string): string {
  const root = resolve(dir);
  const target = resolve(root, name);
  const rel = relative(root, target);
  const outside = rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  if (outside || name.includes('\0')) {
    throw new UsageError(`the local name ${JSON.stringify(name)} would not be inside ${root}`);
  }
  return target;
}

function encodeName(raw: string): string {
  if (raw === '') return EMPTY_NAME;
  if (raw === '.' || raw === '..') return percent(raw);

  let out = '';
  for (const char of raw) out += mustEncode(char) ? percent(char) : char;

  // Windows drops a trailing dot or space ("a." would overwrite "a"), and a device name opens
  // the device: encode the character that makes the trouble.
  const last = out.at(-1);
  if (last === '.' || last === ' ') out = out.slice(0, -1) + percent(last);
  if (WINDOWS_DEVICE.test(out)) out = percent(out.charAt(0)) + out.slice(1);
  return out;
}

function mustEncode(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0xd800 && code <= 0xdfff) ||
    char === '%' ||
    char === '/' ||
    char === '\\' ||
    WINDOWS_RESERVED.has(char)
  );
}

/** `%XX` for each byte of `text` in UTF-8; a lone surrogate gets its own three bytes (WTF-8). */
function percent(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const bytes =
      code >= 0xd800 && code <= 0xdfff
        ? [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        : Buffer.from(char, 'utf8');
    for (const byte of bytes) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Cuts a name over the limit between whole characters (or `%XX` triples) and adds a hash. */
function shorten(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES) return name;

  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASH_DIGITS);
  const budget = MAX_NAME_BYTES - CUT_MARK.length - HASH_DIGITS;
  let head = '';
  let bytes = 0;
  for (const token of name.match(/%[0-9A-F]{2}|[\s\S]/gu) ?? []) {
    bytes += Buffer.byteLength(token, 'utf8');
    if (bytes > budget) break;
    head += token;
  }
  return head + CUT_MARK + hash;
}
