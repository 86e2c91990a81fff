/** Writes the chunks of a piece at their offsets of a file, one positional write each. */
import type { FileHandle } from 'node:fs/promises';
import { localError } from './local-io.js';

/**
 * Writes each chunk at its position as it arrives and settles when the write is done, so the
 * chunk is free for reuse then (see FetchRangeOptions.borrow). Measured on the benchmark, this
 * beat gathering chunks into 1 MiB writes: no copy, and no chunk kept alive for the GC.
 */
export class PositionalWriter {
  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly base = 0,
  ) {}

  async add(chunk: Buffer, position: number): Promise<void> {
    try {
      const { bytesWritten } = await this.fh.write(chunk, 0, chunk.length, this.base + position);
      if (bytesWritten !== chunk.length)
        throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    } catch (err) {
      throw localError(err, this.path);
    }
  }

  /** Nothing is held back: every `add` has written its chunk when it settles. */
  async flush(): Promise<void> {}
}
