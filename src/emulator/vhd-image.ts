/**
 * VHD images for the emulator, the tests and the demo: a fixed disk of any size generated on
 * demand, and small dynamic disks built in memory. Layouts follow the VHD specification.
 */
import { createHash } from 'node:crypto';
import {
  bitmapSize,
  DYNAMIC_HEADER_SIZE,
  FOOTER_SIZE,
  type Geometry,
  SECTOR_SIZE,
  VHD_EPOCH_MS,
  vhdChecksum,
} from '../core/vhd.js';
import { bufferContent, type Content, concatContent, generatedContent } from './content.js';

/** What a footer needs; every other field gets a fixed, valid value. */
export interface FooterOptions {
  currentSize: bigint | number;
  diskType: 'fixed' | 'dynamic';
  /** Where the dynamic header is; all ones for a fixed disk, 512 for a dynamic one by default. */
  dataOffset?: bigint | number;
  /** 32 hex digits, dashes allowed; by default derived from the size and type. */
  uuid?: string;
  /** Whole seconds after 2000-01-01 UTC; a fixed date by default, so images are reproducible. */
  timestamp?: Date;
}

/** What a dynamic disk's header needs. */
export interface DynamicHeaderOptions {
  tableOffset: bigint | number;
  maxTableEntries: number;
  blockSize: number;
}

/** A dynamic disk: its size, block size, which blocks hold data, and the seed of that data. */
export interface DynamicImageOptions {
  virtualSize: number;
  /** 2 MiB by default, as most tools write. */
  blockSize?: number;
  /** Indexes of the blocks that hold data; they are laid out in this order. */
  allocated: readonly number[];
  seed: string;
}

const ALL_ONES = 0xffffffffffffffffn;
const DEFAULT_TIMESTAMP = new Date(Date.UTC(2014, 1, 28, 21, 33, 46));
const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

/** The disk geometry for `size` bytes, by the CHS algorithm of the VHD specification. */
export function diskGeometry(size: bigint | number): Geometry {
  const sectors = BigInt(size) / BigInt(SECTOR_SIZE);
  const totalSectors = Number(sectors > 65535n * 16n * 255n ? 65535n * 16n * 255n : sectors);
  let sectorsPerTrack: number;
  let heads: number;
  let cylinderTimesHeads: number;

  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255;
    heads = 16;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
  } else {
    sectorsPerTrack = 17;
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024));
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63;
      heads = 16;
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack);
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack };
}

/**
 * A 512-byte VHD footer with a valid checksum and creator application `tap\0` (XenServer's).
 * Creator version and host OS are plain values the spec allows, not copied from any tool.
 */
export function buildFooter(options: FooterOptions): Buffer {
  const currentSize = BigInt(options.currentSize);
  const fixed = options.diskType === 'fixed';
  const dataOffset = BigInt(options.dataOffset ?? (fixed ? ALL_ONES : BigInt(FOOTER_SIZE)));
  const timestamp = options.timestamp ?? DEFAULT_TIMESTAMP;
  const uuid = options.uuid ?? defaultUuid(currentSize, options.diskType);
  const geometry = diskGeometry(currentSize);

  const footer = Buffer.alloc(FOOTER_SIZE);
  footer.write('conectix', 0, 'latin1');
  footer.writeUInt32BE(0x00000002, 8); // features: the "reserved" bit the spec says is always set
  footer.writeUInt32BE(0x00010000, 12); // format version 1.0
  footer.writeBigUInt64BE(dataOffset, 16);
  footer.writeUInt32BE(Math.floor((timestamp.getTime() - VHD_EPOCH_MS) / 1000), 24);
  footer.write('tap\0', 28, 'latin1');
  footer.writeUInt32BE(0x00010000, 32); // creator version
  footer.write('Wi2k', 36, 'latin1'); // creator host OS: the spec's code for Windows
  footer.writeBigUInt64BE(currentSize, 40); // original size
  footer.writeBigUInt64BE(currentSize, 48);
  footer.writeUInt16BE(geometry.cylinders, 56);
  footer.writeUInt8(geometry.heads, 58);
  footer.writeUInt8(geometry.sectorsPerTrack, 59);
  footer.writeUInt32BE(fixed ? 2 : 3, 60);
  uuidBytes(uuid).copy(footer, 68);
  footer.writeUInt32BE(vhdChecksum(footer, 64), 64);
  return footer;
}

/** A 1024-byte dynamic disk header with a valid checksum and no parent. */
export function buildDynamicHeader(options: DynamicHeaderOptions): Buffer {
  const header = Buffer.alloc(DYNAMIC_HEADER_SIZE);
  header.write('cxsparse', 0, 'latin1');
  header.writeBigUInt64BE(ALL_ONES, 8); // data offset: unused
  header.writeBigUInt64BE(BigInt(options.tableOffset), 16);
  header.writeUInt32BE(0x00010000, 24); // header version 1.0
  header.writeUInt32BE(options.maxTableEntries, 28);
  header.writeUInt32BE(options.blockSize, 32);
  header.writeUInt32BE(vhdChecksum(header, 36), 36);
  return header;
}

/**
 * A fixed VHD of `size` virtual bytes: `generatedContent(size, seed)` followed by the footer.
 * Nothing is stored but the footer, so any size costs no memory.
 */
export function fixedVhdImage(options: { size: number; seed: string }): Content {
  const { size, seed } = options;
  if (!Number.isSafeInteger(size) || size < 0 || size % SECTOR_SIZE !== 0) {
    throw new RangeError(`a fixed VHD's size must be a multiple of 512 bytes, got ${size}`);
  }
  const footer = buildFooter({ currentSize: size, diskType: 'fixed', uuid: seedUuid(seed) });
  return concatContent([generatedContent(size, seed), bufferContent(footer)]);
}

/**
 * A small dynamic VHD in memory: footer copy, header, BAT, then each allocated block (a full
 * bitmap and the bytes of `generatedContent` at that block's virtual offset), then the footer.
 * Blocks not listed are unallocated and read as zeros.
 */
export function dynamicVhdImage(options: DynamicImageOptions): Buffer {
  const { virtualSize, allocated, seed } = options;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const entries = checkDynamicOptions(virtualSize, blockSize, allocated);

  const tableOffset = FOOTER_SIZE + DYNAMIC_HEADER_SIZE;
  const firstBlock = tableOffset + roundUp(entries * 4, SECTOR_SIZE);
  const bitmap = bitmapSize(blockSize);
  const blockBytes = bitmap + blockSize;
  const image = Buffer.alloc(firstBlock + allocated.length * blockBytes + FOOTER_SIZE);

  const footer = buildFooter({
    currentSize: virtualSize,
    diskType: 'dynamic',
    uuid: seedUuid(seed),
  });
  footer.copy(image, 0);
  buildDynamicHeader({ tableOffset, maxTableEntries: entries, blockSize }).copy(image, FOOTER_SIZE);
  image.fill(0xff, tableOffset, firstBlock);

  const data = generatedContent(entries * blockSize, seed);
  allocated.forEach((index, k) => {
    const at = firstBlock + k * blockBytes;
    image.writeUInt32BE(at / SECTOR_SIZE, tableOffset + index * 4);
    image.fill(0xff, at, at + Math.ceil(blockSize / SECTOR_SIZE / 8));
    data.read(index * blockSize, (index + 1) * blockSize).copy(image, at + bitmap);
  });
  footer.copy(image, image.length - FOOTER_SIZE);
  return image;
}

/** A UUID derived from the seed, so the same seed always gives the same image. */
function seedUuid(seed: string): string {
  return uuidFromDigest(createHash('sha256').update(`vhd-uuid:${seed}`, 'utf8').digest());
}

function defaultUuid(size: bigint, type: string): string {
  return uuidFromDigest(createHash('sha256').update(`vhd-uuid:${type}:${size}`).digest());
}

/** The first 16 bytes of a digest, marked as a random (version 4) RFC 4122 UUID. */
function uuidFromDigest(digest: Buffer): string {
  const bytes = Buffer.from(digest.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return bytes.toString('hex');
}

function uuidBytes(uuid: string): Buffer {
  const digits = uuid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(digits)) {
    throw new RangeError(`a UUID is 32 hex digits, got "${uuid}"`);
  }
  return Buffer.from(digits, 'hex');
}

function checkDynamicOptions(
  virtualSize: number,
  blockSize: number,
  allocated: readonly number[],
): number {
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0 || virtualSize % SECTOR_SIZE !== 0) {
    throw new RangeError(
      `a dynamic VHD's size must be a positive multiple of 512, got ${virtualSize}`,
    );
  }
  if (!Number.isSafeInteger(blockSize) || blockSize <= 0 || blockSize % SECTOR_SIZE !== 0) {
    throw new RangeError(`the block size must be a positive multiple of 512, got ${blockSize}`);
  }
  const entries = Math.ceil(virtualSize / blockSize);
  const seen = new Set<number>();
  for (const index of allocated) {
    if (!Number.isInteger(index) || index < 0 || index >= entries || seen.has(index)) {
      throw new RangeError(`block ${index} is out of range 0..${entries - 1} or listed twice`);
    }
    seen.add(index);
  }
  return entries;
}

function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}
