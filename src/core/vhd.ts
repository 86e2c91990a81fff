/**
 * VHD (Virtual Hard Disk, the format Cloud Images exports) parsing and a structural check of a
 * downloaded image. Parsers are pure and never throw: a bad field is a problem in the verdict,
 * since a damaged download is an expected outcome to report, not a bug.
 */
import { type FileHandle, open } from 'node:fs/promises';

/** Size of a sector, the unit of BAT entries and of the block bitmaps. */
export const SECTOR_SIZE = 512;

/** Size of the footer at the end of every VHD (and of its copy at the start of a dynamic one). */
export const FOOTER_SIZE = 512;

/** Size of the dynamic disk header that follows the footer copy. */
export const DYNAMIC_HEADER_SIZE = 1024;

/** A BAT entry for a block that holds no data (it reads as zeros). */
export const UNALLOCATED = 0xffffffff;

/** VHD timestamps count seconds from 2000-01-01 00:00:00 UTC. */
export const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);

const FOOTER_COOKIE = 'conectix';
const DYNAMIC_COOKIE = 'cxsparse';
const VERSION_1_0 = 0x00010000;
const FOOTER_CHECKSUM_AT = 64;
const HEADER_CHECKSUM_AT = 36;

/** BAT entries read per chunk: 64 KiB of table at a time, whatever the disk's size. */
const BAT_CHUNK_ENTRIES = 16384;

/** What the footer's disk type field says. */
export type DiskTypeName = 'fixed' | 'dynamic' | 'differencing' | 'unknown';

/** Cylinders, heads and sectors per track, as the footer stores them. */
export interface Geometry {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
}

/** A checksum as stored in the structure and as recomputed from its bytes. */
export interface Checksum {
  stored: number;
  computed: number;
}

/** The fields of a VHD footer; four-byte codes are latin1 strings, NULs included (`tap\0`). */
export interface VhdFooter {
  cookie: string;
  features: number;
  version: number;
  /** Offset of the dynamic header; all ones for a fixed disk. */
  dataOffset: bigint;
  timestamp: Date;
  creatorApp: string;
  creatorVersion: number;
  creatorOs: string;
  originalSize: bigint;
  /** The virtual disk's size in bytes. */
  currentSize: bigint;
  geometry: Geometry;
  diskType: number;
  diskTypeName: DiskTypeName;
  checksum: Checksum;
  /** 32 lowercase hex digits, no dashes. */
  uuid: string;
  savedState: boolean;
}

/** A parsed footer and what is wrong with it; `footer` is missing when the buffer is too short. */
export interface FooterVerdict {
  ok: boolean;
  footer: VhdFooter | undefined;
  problems: string[];
}

/** The fields of a dynamic (or differencing) disk header. */
export interface DynamicHeader {
  cookie: string;
  dataOffset: bigint;
  /** Offset of the block allocation table (BAT). */
  tableOffset: bigint;
  headerVersion: number;
  maxTableEntries: number;
  blockSize: number;
  checksum: Checksum;
  parentUuid: string;
}

/** A parsed dynamic header and what is wrong with it. */
export interface HeaderVerdict {
  ok: boolean;
  header: DynamicHeader | undefined;
  problems: string[];
}

/**
 * The outcome of checking a VHD file; each problem is one sentence. A differencing disk is
 * checked like a dynamic one: `ok` says it is whole, not that it is usable without its parent.
 */
export interface VhdReport {
  ok: boolean;
  /** Missing when no footer was found at all. */
  diskType: DiskTypeName | undefined;
  /** The footer's current size (a number: VHD tops out at 2 TiB, far below 2^53). */
  virtualSize: number | undefined;
  problems: string[];
  blockSize?: number;
  allocatedBlocks?: number;
}

/** One's complement of the sum of all bytes of `buf`, the four at `checksumOffset` taken as 0. */
export function vhdChecksum(buf: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i++) {
    if (i < checksumOffset || i >= checksumOffset + 4) sum += buf[i] ?? 0;
  }
  return ~sum >>> 0;
}

/** Reads a VHD footer (512 bytes) field by field and lists what is wrong with it. */
export function parseFooter(buf: Uint8Array): FooterVerdict {
  const problems: string[] = [];
  if (buf.length < FOOTER_SIZE) {
    problems.push(`a VHD footer is ${FOOTER_SIZE} bytes, only ${buf.length} were given`);
    return { ok: false, footer: undefined, problems };
  }
  if (buf.length > FOOTER_SIZE) {
    problems.push(`a VHD footer is ${FOOTER_SIZE} bytes, ${buf.length} were given`);
  }

  const bytes = view(buf, FOOTER_SIZE);
  const diskType = bytes.readUInt32BE(60);
  const footer: VhdFooter = {
    cookie: bytes.toString('latin1', 0, 8),
    features: bytes.readUInt32BE(8),
    version: bytes.readUInt32BE(12),
    dataOffset: bytes.readBigUInt64BE(16),
    timestamp: new Date(VHD_EPOCH_MS + bytes.readUInt32BE(24) * 1000),
    creatorApp: bytes.toString('latin1', 28, 32),
    creatorVersion: bytes.readUInt32BE(32),
    creatorOs: bytes.toString('latin1', 36, 40),
    originalSize: bytes.readBigUInt64BE(40),
    currentSize: bytes.readBigUInt64BE(48),
    geometry: {
      cylinders: bytes.readUInt16BE(56),
      heads: bytes.readUInt8(58),
      sectorsPerTrack: bytes.readUInt8(59),
    },
    diskType,
    diskTypeName: diskTypeName(diskType),
    checksum: { stored: bytes.readUInt32BE(64), computed: vhdChecksum(bytes, FOOTER_CHECKSUM_AT) },
    uuid: bytes.toString('hex', 68, 84),
    savedState: bytes.readUInt8(84) !== 0,
  };

  if (footer.cookie !== FOOTER_COOKIE) {
    problems.push(`the cookie is ${show(bytes, 0, 8)} where a VHD footer has "${FOOTER_COOKIE}"`);
  }
  problems.push(...checksumProblems(footer.checksum));
  if (footer.version !== VERSION_1_0) {
    problems.push(`the format version is ${hex(footer.version)}, not 1.0 (0x00010000)`);
  }
  if (footer.diskTypeName === 'unknown') {
    problems.push(`disk type ${diskType} is none of fixed (2), dynamic (3) or differencing (4)`);
  }
  return { ok: problems.length === 0, footer, problems };
}

/** Reads a dynamic disk header (1024 bytes) field by field and lists what is wrong with it. */
export function parseDynamicHeader(buf: Uint8Array): HeaderVerdict {
  const problems: string[] = [];
  if (buf.length < DYNAMIC_HEADER_SIZE) {
    problems.push(
      `a dynamic header is ${DYNAMIC_HEADER_SIZE} bytes, only ${buf.length} were given`,
    );
    return { ok: false, header: undefined, problems };
  }
  if (buf.length > DYNAMIC_HEADER_SIZE) {
    problems.push(`a dynamic header is ${DYNAMIC_HEADER_SIZE} bytes, ${buf.length} were given`);
  }

  const bytes = view(buf, DYNAMIC_HEADER_SIZE);
  const header: DynamicHeader = {
    cookie: bytes.toString('latin1', 0, 8),
    dataOffset: bytes.readBigUInt64BE(8),
    tableOffset: bytes.readBigUInt64BE(16),
    headerVersion: bytes.readUInt32BE(24),
    maxTableEntries: bytes.readUInt32BE(28),
    blockSize: bytes.readUInt32BE(32),
    checksum: { stored: bytes.readUInt32BE(36), computed: vhdChecksum(bytes, HEADER_CHECKSUM_AT) },
    parentUuid: bytes.toString('hex', 40, 56),
  };

  if (header.cookie !== DYNAMIC_COOKIE) {
    problems.push(
      `the cookie is ${show(bytes, 0, 8)} where a dynamic header has "${DYNAMIC_COOKIE}"`,
    );
  }
  problems.push(...checksumProblems(header.checksum));
  if (header.headerVersion !== VERSION_1_0) {
    problems.push(`the header version is ${hex(header.headerVersion)}, not 1.0 (0x00010000)`);
  }
  if (header.blockSize === 0 || header.blockSize % SECTOR_SIZE !== 0) {
    problems.push(`the block size ${header.blockSize} is not a positive multiple of 512`);
  }
  return { ok: problems.length === 0, header, problems };
}

/** Bytes of the sector bitmap in front of each block: one bit a sector, padded to a sector. */
export function bitmapSize(blockSize: number): number {
  const bytes = Math.ceil(blockSize / SECTOR_SIZE / 8);
  return Math.ceil(bytes / SECTOR_SIZE) * SECTOR_SIZE;
}

/**
 * Checks that the VHD at `path` is whole: a valid footer at the end, and for a fixed disk the
 * exact size, for a dynamic one the footer copy, the header, and every allocated block inside
 * the file. Reads only the metadata (the BAT in 64 KiB chunks), never the data. Throws only the
 * fs error when the file cannot be opened or read.
 */
export async function checkVhdFile(path: string): Promise<VhdReport> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    return await checkOpenVhd(file, size);
  } finally {
    await file.close();
  }
}

async function checkOpenVhd(file: FileHandle, size: number): Promise<VhdReport> {
  if (size < FOOTER_SIZE) {
    return notVhd(`The file is ${size} bytes, shorter than the ${FOOTER_SIZE}-byte VHD footer.`);
  }
  const tail = await readAt(file, size - FOOTER_SIZE, FOOTER_SIZE);
  const trailing = parseFooter(tail);
  if (trailing.footer?.cookie === FOOTER_COOKIE) {
    const problems = trailing.problems.map((p) => `The footer is damaged: ${p}.`);
    return checkByType(file, size, trailing.footer, tail, problems);
  }

  // A download missing its last segment ends mid-data, so the footer is gone; a dynamic disk
  // still has its footer copy at offset 0, which tells what the file should have been. (qemu-img
  // 7.2 reads such a file without a word and converts the missing blocks to zeros.)
  const copy = parseFooter(await readAt(file, 0, FOOTER_SIZE));
  if (copy.ok && copy.footer !== undefined && copy.footer.diskTypeName !== 'fixed') {
    const problem =
      'The last 512 bytes are not a VHD footer, but the file starts with the footer copy of a ' +
      `${copy.footer.diskTypeName} disk: the end of the file is missing.`;
    return checkByType(file, size, copy.footer, undefined, [problem]);
  }
  return notVhd(
    `The last 512 bytes are not a VHD footer (no "${FOOTER_COOKIE}" cookie): ` +
      'the file is not a VHD, or its end is missing.',
  );
}

async function checkByType(
  file: FileHandle,
  size: number,
  footer: VhdFooter,
  tail: Buffer | undefined,
  problems: string[],
): Promise<VhdReport> {
  const report: VhdReport = {
    ok: false,
    diskType: footer.diskTypeName,
    virtualSize: Number(footer.currentSize),
    problems,
  };
  if (footer.diskTypeName === 'fixed') checkFixedSize(size, footer.currentSize, problems);
  if (footer.diskTypeName === 'dynamic' || footer.diskTypeName === 'differencing') {
    await checkDynamic(file, size, footer, tail, report);
  }
  report.ok = problems.length === 0;
  return report;
}

function checkFixedSize(size: number, currentSize: bigint, problems: string[]): void {
  const expected = currentSize + BigInt(FOOTER_SIZE);
  const actual = BigInt(size);
  if (actual < expected) {
    problems.push(
      `The file is ${actual} bytes, ${expected - actual} short of the ${expected} that a fixed ` +
        `disk of ${currentSize} bytes needs: part of it is missing.`,
    );
  } else if (actual > expected) {
    problems.push(
      `The file is ${actual} bytes, ${actual - expected} more than the ${expected} that a fixed ` +
        `disk of ${currentSize} bytes takes.`,
    );
  }
}

async function checkDynamic(
  file: FileHandle,
  size: number,
  footer: VhdFooter,
  tail: Buffer | undefined,
  report: VhdReport,
): Promise<void> {
  const { problems } = report;
  // Without a trailing footer the data may run to the very end of the file.
  const dataEnd = tail === undefined ? size : size - FOOTER_SIZE;
  if (tail !== undefined && !(await readAt(file, 0, FOOTER_SIZE)).equals(tail)) {
    problems.push('The footer copy at offset 0 differs from the footer at the end of the file.');
  }

  const header = await readHeader(file, footer.dataOffset, dataEnd, problems);
  if (header === undefined) return;
  report.blockSize = header.blockSize;

  const blocksNeeded = ceilDiv(footer.currentSize, BigInt(header.blockSize));
  if (BigInt(header.maxTableEntries) < blocksNeeded) {
    problems.push(
      `The block allocation table has ${header.maxTableEntries} entries, fewer than the ` +
        `${blocksNeeded} blocks of ${header.blockSize} bytes that cover the virtual disk.`,
    );
  }
  report.allocatedBlocks = await checkBlocks(file, header, dataEnd, size, problems);
}

async function readHeader(
  file: FileHandle,
  offset: bigint,
  dataEnd: number,
  problems: string[],
): Promise<DynamicHeader | undefined> {
  if (offset < BigInt(FOOTER_SIZE) || offset + BigInt(DYNAMIC_HEADER_SIZE) > BigInt(dataEnd)) {
    problems.push(
      `The footer's data offset ${offset} does not point at a ${DYNAMIC_HEADER_SIZE}-byte ` +
        `dynamic header inside the file's ${dataEnd} bytes of data.`,
    );
    return undefined;
  }

  const verdict = parseDynamicHeader(await readAt(file, Number(offset), DYNAMIC_HEADER_SIZE));
  problems.push(...verdict.problems.map((p) => `The dynamic header is damaged: ${p}.`));
  const header = verdict.header;
  const usable =
    header?.cookie === DYNAMIC_COOKIE &&
    header.blockSize > 0 &&
    header.blockSize % SECTOR_SIZE === 0;
  return usable ? header : undefined;
}

/**
 * Streams the BAT and counts allocated blocks, reporting those that end past the data (the
 * mark of a truncated image) in one sentence, however many there are. Returns the count.
 */
async function checkBlocks(
  file: FileHandle,
  header: DynamicHeader,
  dataEnd: number,
  fileSize: number,
  problems: string[],
): Promise<number> {
  const entries = readableEntries(header, dataEnd, problems);
  const start = Number(header.tableOffset);
  const blockBytes = bitmapSize(header.blockSize) + header.blockSize;
  let allocated = 0;
  let beyond = 0;
  let first: { index: number; end: number } | undefined;
  let furthest = 0;

  for (let done = 0; done < entries; done += BAT_CHUNK_ENTRIES) {
    const count = Math.min(BAT_CHUNK_ENTRIES, entries - done);
    const chunk = await readAt(file, start + done * 4, count * 4);
    for (let i = 0; i + 4 <= chunk.length; i += 4) {
      const sector = chunk.readUInt32BE(i);
      if (sector === UNALLOCATED) continue;
      allocated++;
      const end = sector * SECTOR_SIZE + blockBytes;
      if (end <= dataEnd) continue;
      beyond++;
      first ??= { index: done + i / 4, end };
      furthest = Math.max(furthest, end);
    }
  }

  if (first !== undefined) {
    problems.push(
      `${beyond} of ${allocated} allocated blocks end past the data, which stops at byte ` +
        `${dataEnd} (the first is block ${first.index}, ending at byte ${first.end}): the file ` +
        `is truncated, at least ${furthest + FOOTER_SIZE - fileSize} bytes are missing.`,
    );
  }
  return allocated;
}

/** How many BAT entries lie inside the data; a table cut short is a problem of its own. */
function readableEntries(header: DynamicHeader, dataEnd: number, problems: string[]): number {
  const start = header.tableOffset;
  const end = start + BigInt(header.maxTableEntries) * 4n;
  if (start >= BigInt(FOOTER_SIZE) && end <= BigInt(dataEnd)) return header.maxTableEntries;

  problems.push(
    `The block allocation table (${header.maxTableEntries} entries at offset ${start}) ` +
      `does not fit inside the file's ${dataEnd} bytes of data.`,
  );
  if (start < BigInt(FOOTER_SIZE) || start >= BigInt(dataEnd)) return 0;
  return Number((BigInt(dataEnd) - start) / 4n);
}

function notVhd(problem: string): VhdReport {
  return { ok: false, diskType: undefined, virtualSize: undefined, problems: [problem] };
}

/** Reads up to `length` bytes at `position`; shorter only at the end of the file. */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

function diskTypeName(code: number): DiskTypeName {
  if (code === 2) return 'fixed';
  if (code === 3) return 'dynamic';
  if (code === 4) return 'differencing';
  return 'unknown';
}

function checksumProblems({ stored, computed }: Checksum): string[] {
  if (stored === computed) return [];
  return [`the checksum is ${hex(stored)} but the bytes give ${hex(computed)}`];
}

function view(buf: Uint8Array, length: number): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset, length);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** Bytes as a quoted string, printable ASCII as is and the rest as \xNN. */
function show(buf: Buffer, start: number, end: number): string {
  let text = '';
  for (const byte of buf.subarray(start, end)) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    text += printable ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${text}"`;
}
