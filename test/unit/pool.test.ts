import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/core/errors.js';
import { runPool } from '../../src/core/transfer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runPool', () => {
  it('runs every item, at most `limit` at a time', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(5);
      running--;
      done.push(n);
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(3);
  });

  /**
   * Runs `items` two at a time with work that does not watch the signal (a rename, an fsync:
   * it finishes normally), and aborts with SIGINT while the first two are in flight.
   */
  async function abortedMidway(items: number[]) {
    const outer = new AbortController();
    const done: number[] = [];
    const run = runPool(
      items,
      2,
      async (n) => {
        await sleep(30);
        done.push(n);
      },
      outer.signal,
    );
    await sleep(10);
    outer.abort(new InterruptedError('SIGINT'));
    const outcome = await run.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    return { outcome, done: done.sort() };
  }

  it('rejects with the reason of an abort that left items undone, even when no work failed', async () => {
    const { outcome, done } = await abortedMidway([1, 2, 3, 4, 5, 6]);
    expect(outcome).toBeInstanceOf(InterruptedError);
    expect(done).toEqual([1, 2]);
  });

  it('resolves when the abort came after the last item was taken and every item finished', async () => {
    const { outcome, done } = await abortedMidway([1, 2]);
    expect(outcome).toBe('resolved');
    expect(done).toEqual([1, 2]);
  });

  it('stops taking items after a failure and rejects with the first error', async () => {
    const started: number[] = [];
    const run = runPool([1, 2, 3, 4, 5], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('boom');
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });
});
