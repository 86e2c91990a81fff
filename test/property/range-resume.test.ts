/**
 * The Range resume arithmetic of the transfer engine, against the emulator: for any piece (a
 * whole object or an SLO-style byte range of one), any sub-range of it, and any pattern of
 * connections cut mid-body, or a server that ignores Range and sends the whole object again,
 * the bytes handed on are exactly those of the range, each position once and in order, and
 * every resumed request asks for the first byte not yet received.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http } from '../../src/core/http.js';
import type { Segment } from '../../src/core/large-object.js';
import { Redactor } from '../../src/core/redact.js';
import { directSession } from '../../src/core/session.js';
import { SwiftClient } from '../../src/core/swift.js';
import { fetchRange } from '../../src/core/transfer.js';
import { type Emulator, startEmulator } from '../../src/emulator/index.js';

let em: Emulator;
let http: Http;
let client: SwiftClient;
const policy = { retries: 30, baseDelayMs: 0, maxDelayMs: 0 };
let objects = 0;

beforeAll(async () => {
  em = await startEmulator();
  http = new Http({ redactor: new Redactor(), bodyTimeoutMs: 5000, headersTimeoutMs: 5000 });
  client = new SwiftClient({
    http,
    sessions: directSession(em.storageUrl(), em.token()),
    retry: policy,
  });
});

afterAll(async () => {
  await http.close();
  await em.close();
});

/** Printable bytes, so that a 200 fault can carry the whole object as its body. */
function text(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = 0x21 + ((i * 31 + seed * 7 + (i >> 7)) % 90);
  return out;
}

const scenario = fc
  .record({
    size: fc.integer({ min: 1, max: 200_000 }),
    seed: fc.nat({ max: 1000 }),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
    ignoreRange: fc.boolean(),
    bounds: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
    sloRange: fc.boolean(),
  })
  .map((s) => {
    const at = (f: number, n: number) => Math.min(n, Math.floor(f * (n + 1)));
    const [b0, b1, b2, b3] = s.bounds as [number, number, number, number];
    const [rs, re] = s.sloRange
      ? [at(b0, s.size - 1), at(b1, s.size - 1)].sort((a, b) => a - b)
      : [0, s.size - 1];
    const pieceSize = (re as number) - (rs as number) + 1;
    const [from, to] = [at(b2, pieceSize), at(b3, pieceSize)].sort((a, b) => a - b) as [
      number,
      number,
    ];
    return {
      ...s,
      range: s.sloRange ? { start: rs as number, end: re as number } : undefined,
      pieceSize,
      from,
      to,
    };
  });

describe('fetchRange', () => {
  it('hands on exactly the bytes of the range, once each, in order, whatever the connection does', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const name = `piece-${objects++}`;
        const data = text(s.size, s.seed);
        em.putObject('p', name, data);
        em.faults.clear();
        em.clearRequests();
        const path = `/p/${name}`;
        for (const cut of s.cuts)
          em.faults.add({
            match: { method: 'GET', path },
            action: { dropAfterBytes: Math.floor(cut * (s.to - s.from)) },
          });
        if (s.ignoreRange)
          em.faults.add({
            match: { method: 'GET', path },
            action: { status: 200, body: data.toString('latin1') },
          });
        const piece: Segment = {
          index: 0,
          container: 'p',
          object: name,
          offset: 0,
          size: s.pieceSize,
          ...(s.range ? { range: s.range } : {}),
        };

        const got: Buffer[] = [];
        let next = s.from;
        // What each request asked for, against what had been handed on when it was made.
        const asked: { start: number | undefined; had: number }[] = [];
        const spy = Object.create(client) as SwiftClient;
        spy.open = (container, object, opts = {}) => {
          asked.push({ start: opts.start, had: next });
          return client.open(container, object, opts);
        };
        await fetchRange(
          spy,
          piece,
          s.from,
          s.to,
          (chunk, position) => {
            expect(position).toBe(next);
            next += chunk.length;
            got.push(Buffer.from(chunk));
          },
          { policy },
        );

        const base = s.range?.start ?? 0;
        expect(next).toBe(s.to);
        expect(Buffer.concat(got).equals(data.subarray(base + s.from, base + s.to))).toBe(true);
        for (const a of asked) {
          if (a.start === undefined) expect(base + a.had).toBe(0);
          else expect(a.start).toBe(base + a.had);
        }
        if (s.to > s.from) expect(asked.length).toBeGreaterThanOrEqual(1);
        // A first cut inside the range forces a second request, which must resume.
        const firstCut = s.cuts[0];
        if (firstCut !== undefined && Math.floor(firstCut * (s.to - s.from)) < s.to - s.from)
          expect(asked.length).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 40 },
    );
  });
});
