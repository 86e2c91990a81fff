/**
 * Swift's timestamps. Swift keeps object times with 10 µs resolution and shows them three ways:
 * `X-Timestamp` ("1700000000.12345"), the listing's `last_modified` (ISO with microseconds and no
 * zone) and `Last-Modified` (an HTTP date rounded *up* to the second, as the object server does).
 */

/** A point in time in Swift's units of 10 µs since the epoch. */
export type SwiftTime = number;

const UNITS_PER_SECOND = 100_000;
let last: SwiftTime = 0;

/** The current time; strictly increasing, so two writes in one millisecond still order. */
export function swiftNow(): SwiftTime {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 100);
  last = Math.max(now, last + 1);
  return last;
}

/** The Swift time of a JavaScript date (millisecond precision). */
export function swiftTimeOf(date: Date): SwiftTime {
  return date.getTime() * 100;
}

/** `X-Timestamp` form: seconds with five decimals. */
export function normalTimestamp(t: SwiftTime): string {
  const seconds = Math.floor(t / UNITS_PER_SECOND);
  const fraction = String(t % UNITS_PER_SECOND).padStart(5, '0');
  return `${String(seconds).padStart(10, '0')}.${fraction}`;
}

/** Listing form: `2014-02-28T21:33:46.410150` (UTC, no zone). */
export function isoTimestamp(t: SwiftTime): string {
  const seconds = Math.floor(t / UNITS_PER_SECOND);
  const micros = String((t % UNITS_PER_SECOND) * 10).padStart(6, '0');
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${micros}`;
}

/** `Last-Modified` form: the HTTP date of the timestamp rounded up to a whole second. */
export function httpDate(t: SwiftTime): string {
  return new Date(Math.ceil(t / UNITS_PER_SECOND) * 1000).toUTCString();
}

/** The listing form of an HTTP date, as an SLO manifest records its segments' times. */
export function isoOfHttpDate(t: SwiftTime): string {
  const seconds = Math.ceil(t / UNITS_PER_SECOND);
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.000000`;
}
