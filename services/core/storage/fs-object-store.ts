/**
 * Filesystem ObjectStore: the embedded default. Atomic and durable puts: write to a temporary
 * file in the same filesystem, fsync it, rename over the final name, fsync the directory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { LucidaError } from '../errors.js';
import { assertValidKey, type ByteRange, type ObjectStore } from './object-store.js';

export class FsObjectStore implements ObjectStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, '.tmp');
  }

  /** Creates the root and cleans temporary files left by a crash. */
  async init(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  private file(key: string): string {
    assertValidKey(key);
    return path.join(this.root, key);
  }

  async put(key: string, body: Readable | Buffer): Promise<{ sizeBytes: number }> {
    const target = this.file(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      let sizeBytes: number;
      if (Buffer.isBuffer(body)) {
        const fh = await open(tmp, 'wx', 0o640);
        try {
          await fh.writeFile(body);
          await fh.sync();
        } finally {
          await fh.close();
        }
        sizeBytes = body.length;
      } else {
        const out = createWriteStream(tmp, { flags: 'wx', mode: 0o640 });
        await pipeline(body, out);
        sizeBytes = out.bytesWritten;
        const fh = await open(tmp, 'r');
        try { await fh.sync(); } finally { await fh.close(); }
      }
      const dir = path.dirname(target);
      await mkdir(dir, { recursive: true });
      await rename(tmp, target);
      await syncDir(dir);
      return { sizeBytes };
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new LucidaError('NOT_FOUND', 'object not found');
      throw err;
    });
    // The stream owns the handle from here: it closes it when done or destroyed.
    return createReadStream('', { fd: fh, start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
  }

  async delete(key: string): Promise<void> {
    await unlink(this.file(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async exists(key: string): Promise<{ sizeBytes: number } | null> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? { sizeBytes: s.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
