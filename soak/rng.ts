/**
 * Seeded randomness for the soak, so a failing session can be replayed with `--seed`. Decisions
 * about one request are drawn from a hash of (seed, run, request key, how many times that key was
 * seen), not from a shared stream, so they do not depend on how concurrent requests interleave.
 */
import { createHash } from 'node:crypto';

/** A small PRNG (mulberry32) for the decisions of one run. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** A PRNG for one decision, from the parts that identify it. */
export function rngFor(...parts: (string | number)[]): Rng {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return new Rng(digest.readUInt32BE(0));
}
