import { describe, expect, it } from 'vitest';
import { exitCodeFor, messageFor } from '../../src/cli/exit.js';
import {
  AuthError,
  ConfigError,
  IntegrityError,
  InterruptedError,
  LocalIOError,
  NotFoundError,
  TransferError,
  UsageError,
} from '../../src/core/errors.js';
import {
  normalizeEtag,
  parseContentRange,
  parseLength,
  parseObjectManifest,
  parseRetryAfter,
} from '../../src/core/headers.js';
import { compositeEtag, dloHealth, layOut, parseSloRange } from '../../src/core/large-object.js';
import { baseName, objectPath, parseObjectRef, queryString } from '../../src/core/paths.js';
import { Redactor } from '../../src/core/redact.js';
import { isTransient, retryDelay, StatusError } from '../../src/core/retry.js';

describe('object references and path encoding', () => {
  it.each([
    ['images/a.vhd', 'images', 'a.vhd'],
    ['images/dir/a b.vhd', 'images', 'dir/a b.vhd'],
  ])('splits %s', (text, container, object) => {
    expect(parseObjectRef(text)).toEqual({ container, object });
  });

  it.each(['images', 'images/', '/a.vhd', ''])('refuses %j with the expected form', (text) => {
    expect(() => parseObjectRef(text)).toThrow(/is not CONTAINER\/OBJECT/);
  });

  it.each([
    ['c', 'a b.vhd', '/c/a%20b.vhd'],
    ['c', 'x#y?z%w', '/c/x%23y%3Fz%25w'],
    ['c', 'dir/sub/ï.vhd', '/c/dir/sub/%C3%AF.vhd'],
    ['my c', 'a/../b', '/my%20c/a/%2E%2E/b'],
    ['c', undefined, '/c'],
  ])('encodes %s / %s per segment', (container, object, path) => {
    expect(objectPath(container, object)).toBe(path);
  });

  it('builds queries from defined values only', () => {
    expect(queryString({ format: 'json', prefix: 'a b/', marker: undefined, limit: 10 })).toBe(
      '?format=json&prefix=a%20b%2F&limit=10',
    );
    expect(queryString({})).toBe('');
  });

  it('takes the last part of a name as the default file name', () => {
    expect(baseName('exports/x/9af8.vhd')).toBe('9af8.vhd');
    expect(baseName('plain.vhd')).toBe('plain.vhd');
  });
});

describe('header parsers', () => {
  it.each([
    ['123', 123],
    [' 0 ', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['', undefined],
    [undefined, undefined],
    ['99999999999999999', undefined],
  ])('Content-Length %j -> %j', (text, value) => {
    expect(parseLength(text)).toBe(value);
  });

  it.each([
    ['bytes 0-9/100', { start: 0, end: 9, size: 100 }],
    ['bytes */100', { size: 100 }],
    ['bytes 5-9/*', { start: 5, end: 9 }],
    ['bytes 9-5/100', undefined],
    ['items 0-9/100', undefined],
  ])('Content-Range %j', (text, range) => {
    expect(parseContentRange(text)).toEqual(range);
  });

  it.each([
    ['"83DCE2D37B7046228F72C1E5C688D8C8"', '83dce2d37b7046228f72c1e5c688d8c8'],
    ['83dce2d37b7046228f72c1e5c688d8c8', '83dce2d37b7046228f72c1e5c688d8c8'],
    ['W/"abc"', 'abc'],
    ['""', undefined],
  ])('ETag %s', (text, tag) => {
    expect(normalizeEtag(text)).toBe(tag);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('reads X-Object-Manifest encoded or not', () => {
    expect(parseObjectManifest('exports/9af8.vhd-')).toEqual({
      container: 'exports',
      prefix: '9af8.vhd-',
    });
    expect(parseObjectManifest('my%20exports/%C3%AF.vhd-')).toEqual({
      container: 'my exports',
      prefix: 'ï.vhd-',
    });
    expect(parseObjectManifest('noslash')).toBeUndefined();
  });
});

describe('large-object arithmetic', () => {
  it("gives the seed article's manifest ETag from its three segment hashes", () => {
    const hashes = [
      '699580384e28b7c2b3b8d916169c11ca',
      'b513404695fc1117c42ee6dc7de91ef1',
      '372d9904e2048dc84dea82fdb0ead10e',
    ];
    expect(compositeEtag(hashes.map((hash) => ({ hash })))).toBe(
      '83dce2d37b7046228f72c1e5c688d8c8',
    );
    expect(1048576000 * 2 + 487424512).toBe(2584576512);
  });

  it('lays pieces end to end', () => {
    expect(layOut([{ size: 3 }, { size: 0 }, { size: 5 }]).map((p) => [p.index, p.offset])).toEqual(
      [
        [0, 0],
        [1, 3],
        [2, 3],
      ],
    );
  });

  it('warns about gaps, odd sizes and empty listings', () => {
    const item = (n: string, bytes: number) => ({
      name: `img.vhd-${n}`,
      bytes,
      hash: '',
      content_type: '',
      last_modified: '',
    });
    expect(dloHealth('img.vhd-', [item('00001', 10), item('00002', 10), item('00003', 4)])).toEqual(
      [],
    );
    expect(dloHealth('img.vhd-', [item('00001', 10), item('00003', 10)])[0]).toMatch(
      /jumps from 00001 to 00003/,
    );
    expect(
      dloHealth('img.vhd-', [item('00001', 10), item('00002', 7), item('00003', 10)])[0],
    ).toMatch(/img.vhd-00002 has 7 bytes/);
    expect(dloHealth('img.vhd-', [])[0]).toMatch(/matches no segment/);
  });

  it.each([
    ['0-9', 100, { start: 0, end: 9 }],
    ['90-', 100, { start: 90, end: 99 }],
    ['-10', 100, { start: 90, end: 99 }],
    ['5-500', 100, { start: 5, end: 99 }],
    ['-', 100, undefined],
  ])('SLO range %s of %d', (text, size, range) => {
    expect(parseSloRange(text, size)).toEqual(range);
  });
});

describe('retry policy', () => {
  const policy = { retries: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };
  it.each([
    [new StatusError(503, 'x'), true],
    [new StatusError(429, 'x'), true],
    [new StatusError(408, 'x'), true],
    [new StatusError(404, 'x'), false],
    [new StatusError(401, 'x'), false],
    [Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true],
    [Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' }), true],
    [new IntegrityError('bad'), false],
    [new Error('plain'), false],
  ])('%s transient: %s', (err, transient) => {
    expect(isTransient(err)).toBe(transient);
  });

  it('honours Retry-After over backoff', () => {
    expect(retryDelay(new StatusError(429, 'x', undefined, 7000), 1, policy)).toBe(7000);
  });

  it('backs off exponentially with jitter inside the window, capped', () => {
    expect(retryDelay(new Error('x'), 1, policy, () => 0)).toBe(500);
    expect(retryDelay(new Error('x'), 1, policy, () => 1)).toBe(1000);
    expect(retryDelay(new Error('x'), 3, policy, () => 1)).toBe(4000);
    expect(retryDelay(new Error('x'), 20, policy, () => 1)).toBe(30_000);
  });
});

describe('errors to exit codes', () => {
  it.each([
    [new UsageError('u'), 2],
    [new ConfigError('c'), 2],
    [new IntegrityError('i'), 3],
    [new AuthError('a'), 4],
    [new NotFoundError('n'), 5],
    [new TransferError('t', { method: 'GET', url: 'u' }), 6],
    [new LocalIOError('l'), 1],
    [new InterruptedError('SIGINT'), 130],
    [new InterruptedError('SIGTERM'), 143],
    [new Error('boom'), 1],
  ])('%s -> %d', (err, code) => {
    expect(exitCodeFor(err)).toBe(code);
  });

  it('prints one masked line, and the stack only when verbose', () => {
    const r = new Redactor();
    r.add('s3cr3t-key');
    const err = new AuthError('key s3cr3t-key refused');
    expect(messageFor(err, r, false)).toBe('cfimg: key [redacted] refused');
    expect(messageFor(new Error('x'), r, false)).toBe(
      'cfimg: unexpected error: x (run with --verbose for details)',
    );
    expect(messageFor(err, r, true).split('\n').length).toBeGreaterThan(1);
  });
});

describe('redaction', () => {
  it('masks every registered secret and secret headers', () => {
    const r = new Redactor();
    r.add('tok-123456');
    r.add('key-abcdef');
    r.add('ab'); // too short to mask safely
    expect(r.redact('tok-123456 and key-abcdef, ab')).toBe('[redacted] and [redacted], ab');
    expect(r.headers({ 'X-Auth-Token': 'anything', accept: 'x' })).toEqual({
      'X-Auth-Token': '[redacted]',
      accept: 'x',
    });
  });
});
