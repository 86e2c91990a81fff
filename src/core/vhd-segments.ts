/**
 * A VHD check of an image that is still a directory of segments, without joining them: the
 * footer at the end of the last segment(s), the size a fixed disk must have, and for a dynamic
 * disk the footer copy and the dynamic header at the start. The BAT and the blocks are not
 * followed here (that needs the joined file: `verify --vhd` of it, or of the reassembled image).
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { localError } from './local-io.js';
import { offsetsOf } from './segments-manifest.js';
import type { VhdReport } from './vhd.js';
import { DYNAMIC_HEADER_SIZE, FOOTER_SIZE, parseDynamicHeader, parseFooter } from './vhd.js';

/** A segment file and its size in the image. */
export interface SegmentFile {
  file: string;
  bytes: number;
}

/**
 * Bytes [start, start + length) of the image the segment files make up, or undefined when a
 * file they fall in is missing or shorter than recorded.
 */
export async function readAcross(
  dir: string,
  segments: SegmentFile[],
  start: number,
  length: number,
): Promise<Buffer | undefined> {
  const out = Buffer.alloc(length);
  const offsets = offsetsOf(segments);
  for (const [i, s] of segments.entries()) {
    const at = offsets[i] as number;
    const from = Math.max(start, at);
    const to = Math.min(start + length, at + s.bytes);
    if (from >= to) continue;
    const path = join(dir, s.file);
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw localError(err, path, 'reading');
    });
    if (!fh) return undefined;
    try {
      const { bytesRead } = await fh.read(out, from - start, to - from, from - at);
      if (bytesRead !== to - from) return undefined;
    } finally {
      await fh.close();
    }
  }
  return out;
}

/** Checks the VHD structure that can be seen without joining the segments; see the module. */
export async function checkVhdSegments(dir: string, segments: SegmentFile[]): Promise<VhdReport> {
  const size = segments.reduce((n, s) => n + s.bytes, 0);
  const notVhd = (problem: string): VhdReport => ({
    ok: false,
    diskType: undefined,
    virtualSize: undefined,
    problems: [problem],
  });
  if (size < FOOTER_SIZE) return notVhd(`the image is ${size} bytes, shorter than a VHD footer`);
  const tail = await readAcross(dir, segments, size - FOOTER_SIZE, FOOTER_SIZE);
  if (!tail) return notVhd('the last segment is missing or short: the VHD footer cannot be read');
  const verdict = parseFooter(tail);
  const footer = verdict.footer;
  if (footer?.cookie !== 'conectix')
    return notVhd('the last 512 bytes of the last segment are not a VHD footer');
  const problems = verdict.problems.map((p) => `the footer is damaged: ${p}`);
  const report: VhdReport = {
    ok: false,
    diskType: footer.diskTypeName,
    virtualSize: Number(footer.currentSize),
    problems,
  };
  if (footer.diskTypeName === 'fixed' && BigInt(size) !== footer.currentSize + 512n)
    problems.push(
      `a fixed disk of ${footer.currentSize} bytes takes ${footer.currentSize + 512n} bytes, ` +
        `the segments add up to ${size}`,
    );
  if (footer.diskTypeName === 'dynamic' || footer.diskTypeName === 'differencing')
    problems.push(...(await dynamicStart(dir, segments, tail, footer.dataOffset)));
  report.ok = problems.length === 0;
  return report;
}

/** The footer copy at offset 0 and the dynamic header it points to. */
async function dynamicStart(
  dir: string,
  segments: SegmentFile[],
  tail: Buffer,
  dataOffset: bigint,
): Promise<string[]> {
  const copy = await readAcross(dir, segments, 0, FOOTER_SIZE);
  if (!copy) return ['the first segment is missing or short: the footer copy cannot be read'];
  if (!copy.equals(tail)) return ['the footer copy at the start differs from the footer'];
  const at = Number(dataOffset);
  const header = Number.isSafeInteger(at)
    ? await readAcross(dir, segments, at, DYNAMIC_HEADER_SIZE)
    : undefined;
  if (!header) return [`the dynamic header at offset ${dataOffset} cannot be read`];
  return parseDynamicHeader(header).problems.map((p) => `the dynamic header is damaged: ${p}`);
}
