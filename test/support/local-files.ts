/** Damage to local files, for the tests of verification and repair. */
import { open } from 'node:fs/promises';

/** Inverts one byte of a file in place. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const buf = Buffer.alloc(1);
    await fh.read(buf, 0, 1, offset);
    buf[0] = (buf[0] ?? 0) ^ 0xff;
    await fh.write(buf, 0, 1, offset);
  } finally {
    await fh.close();
  }
}
