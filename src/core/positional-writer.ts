/** Batches the chunks of a piece into writes of about 1 MiB at the right offsets of a file. */
import type { FileHandle } from 'node:fs/promises';
import { localError } from './local-io.js';

const BATCH = 1 << 20;

/**
 * Collects chunks that arrive in order and writes them with one `writev` per MiB. A chunk that
 * does not continue the batch (a piece fetched again from its start) flushes the batch first,
 * so every byte lands at its own position.
 */
export class PositionalWriter {
  #chunks: Buffer[] = [];
  #bytes = 0;
  #at = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly base = 0,
  ) {}

  async add(chunk: Buffer, position: number): Promise<void> {
    if (this.#bytes > 0 && position !== this.#at + this.#bytes) await this.flush();
    if (this.#bytes === 0) this.#at = position;
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#bytes === 0) return;
    const chunks = this.#chunks;
    const expected = this.#bytes;
    this.#chunks = [];
    this.#bytes = 0;
    try {
      const { bytesWritten } = await this.fh.writev(chunks, this.base + this.#at);
      if (bytesWritten !== expected)
        throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    } catch (err) {
      throw localError(err, this.path);
    }
  }
}
