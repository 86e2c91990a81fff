/**
 * The `Range` header as Swift's swob reads it: a syntactically bad header is ignored (200),
 * unsatisfiable specs are dropped, none left means 416, and egregious sets (over 50 ranges, more
 * than 2 overlaps, 8 or more not in ascending order) are refused like unsatisfiable ones.
 */

/** One byte-range spec as written: `a-b`, `a-` or `-n` (suffix). */
export interface RangeSpec {
  start: number | undefined;
  end: number | undefined;
}

/** A satisfiable range, half-open: [start, end). */
export interface ByteRange {
  start: number;
  end: number;
}

const MAX_RANGES = 50;
const MAX_OVERLAPS = 2;
const MAX_NONASCENDING = 8;

/** Parses a Range header; undefined when absent or syntactically invalid (to be ignored). */
export function parseRange(header: string | undefined): RangeSpec[] | undefined {
  if (!header) return undefined;
  const value = header.replace(/ /g, '');
  if (!value.toLowerCase().startsWith('bytes=')) return undefined;
  const specs: RangeSpec[] = [];
  for (const part of value.slice(6).split(',')) {
    const dash = part.indexOf('-');
    if (dash < 0) return undefined;
    const [a, b] = [part.slice(0, dash), part.slice(dash + 1)];
    if ((a !== '' && !/^\d+$/.test(a)) || (b !== '' && !/^\d+$/.test(b))) return undefined;
    const start = a === '' ? undefined : Number(a);
    const end = b === '' ? undefined : Number(b);
    if (start === undefined && end === undefined) return undefined;
    if (start !== undefined && end !== undefined && end < start) return undefined;
    specs.push({ start, end });
  }
  return specs;
}

/**
 * The satisfiable ranges for a body of `length` bytes, as swob's `ranges_for_length`: an empty
 * list means 416.
 */
export function rangesForLength(specs: RangeSpec[], length: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (const { start, end } of specs) {
    if (start === undefined) {
      if (end === 0 || end === undefined) continue;
      ranges.push({ start: Math.max(0, length - end), end: length });
    } else if (start < length) {
      ranges.push({ start, end: end === undefined ? length : Math.min(end + 1, length) });
    }
  }
  return egregious(ranges) ? [] : ranges;
}

function egregious(ranges: ByteRange[]): boolean {
  if (ranges.length > MAX_RANGES) return true;
  let overlaps = 0;
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      if (overlap(ranges[i] as ByteRange, ranges[j] as ByteRange)) overlaps += 1;
    }
  }
  if (overlaps > MAX_OVERLAPS) return true;
  const ascending = ranges.every((r, i) => {
    const prev = ranges[i - 1];
    return (
      prev === undefined || prev.start < r.start || (prev.start === r.start && prev.end <= r.end)
    );
  });
  return !ascending && ranges.length >= MAX_NONASCENDING;
}

function overlap(a: ByteRange, b: ByteRange): boolean {
  const inside = (x: number, r: ByteRange) => r.start < x && x < r.end;
  return inside(b.start, a) || inside(b.end, a) || inside(a.start, b) || inside(a.end, b);
}

/** The `Content-Range` value of a satisfied range. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end - 1}/${size}`;
}
