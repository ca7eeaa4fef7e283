/**
 * Filesystem ObjectStore: the embedded default. Atomic and durable puts: write to a temporary
 * file in the same filesystem, fsync it, rename over the final name, fsync the directory.
 *
 * Several processes may share one root (API and worker roles given the same DATA_DIR): each store
 * writes its temporary files in a directory of its own under `<root>/.tmp`. At start it removes what
 * crashed processes left: at once the directory of a Lucida process known to be dead (named
 * `p-<process id>`, checked through process liveness: core/index/process-liveness.ts), and anything
 * else once untouched for an hour, which a live process's file never is (it is written to until it
 * is renamed away).
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { LucidaError } from '../errors.js';
import { assertValidKey, type ByteRange, type ObjectStore, type StoredObject } from './object-store.js';

/** Temporary files and directories untouched for this long were left by a process that died. */
const STALE_TEMPORARY_MS = 3600_000;

/** The running process, when the store belongs to one: its temporary directory is named after it. */
export interface StoreOwner {
  processId: string;
  /** Whether another process (by id) is alive: a dead one's temporary files can go at once. */
  isAlive(processId: string): Promise<boolean>;
}

const PROCESS_DIR = /^p-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export class FsObjectStore implements ObjectStore {
  /** `<root>/.tmp`, shared by every process using the root. */
  private readonly tmpRoot: string;
  /** This store's own directory in it. */
  private readonly tmpDir: string;

  constructor(private readonly root: string, private readonly owner?: StoreOwner) {
    this.tmpRoot = path.join(root, '.tmp');
    this.tmpDir = path.join(this.tmpRoot, owner ? `p-${owner.processId}` : randomUUID());
  }

  /**
   * Creates the root and this store's temporary directory, and removes temporary files (and
   * directories) crashed processes left: a dead process's directory at once (when this store has an
   * owner to ask), others once untouched for an hour. Other live processes' files stay.
   */
  async init(): Promise<void> {
    await mkdir(this.tmpRoot, { recursive: true });
    await this.removeDeadProcessDirectories();
    await removeStaleTemporaries(this.tmpRoot, Date.now() - STALE_TEMPORARY_MS);
    await mkdir(this.tmpDir, { recursive: true });
  }

  private async removeDeadProcessDirectories(): Promise<void> {
    if (!this.owner) return;
    for (const name of await readdir(this.tmpRoot)) {
      const id = PROCESS_DIR.exec(name)?.[1];
      if (!id || id === this.owner.processId || await this.owner.isAlive(id)) continue;
      await rm(path.join(this.tmpRoot, name), { recursive: true, force: true });
    }
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
      const fh = await this.createTemporary(tmp);
      try {
        // writeFile takes a stream too, reading it as it writes (backpressure included).
        await writeFile(fh, body);
        await fh.sync();
        sizeBytes = Buffer.isBuffer(body) ? body.length : (await fh.stat()).size;
      } finally {
        await fh.close();
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

  /**
   * Creates a temporary file in this store's directory, creating the directory when it is missing:
   * on a put before init(), or after another process's init() removed it as stale (empty and idle
   * for an hour).
   */
  private async createTemporary(file: string): Promise<FileHandle> {
    try {
      return await open(file, 'wx', 0o640);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.tmpDir, { recursive: true });
      return open(file, 'wx', 0o640);
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

  /** Walks the directories under the root (one level at a time), skipping the temporary area. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    const walk = async function* (dir: string, keyPrefix: string): AsyncGenerator<StoredObject> {
      const entries = await readdir(dir, { withFileTypes: true }).catch(ignoreMissing([]));
      for (const entry of entries) {
        const key = keyPrefix + entry.name;
        if (key === '.tmp') continue;
        // Only the subtrees that can hold keys starting with the prefix.
        if (!(key.startsWith(prefix) || prefix.startsWith(key + '/'))) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          yield* walk(full, key + '/');
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const s = await stat(full).catch(ignoreMissing(undefined));
          if (s) yield { key, sizeBytes: s.size };
        }
      }
    };
    yield* walk(this.root, '');
  }
}

/**
 * Removes from `.tmp` the entries last modified before `before`: loose files, files in the
 * directories of processes, and those directories when they were idle too and are now empty.
 * Entries may vanish meanwhile (renamed into place by their process): that is not an error.
 */
async function removeStaleTemporaries(tmpRoot: string, before: number): Promise<void> {
  for (const entry of await readdir(tmpRoot, { withFileTypes: true })) {
    const entryPath = path.join(tmpRoot, entry.name);
    if (!entry.isDirectory()) {
      await removeIfStale(entryPath, before);
      continue;
    }
    // Judged before its stale files go, since removing them touches the directory.
    const idle = await isStale(entryPath, before);
    const files = await readdir(entryPath).catch(ignoreMissing([]));
    for (const name of files) await removeIfStale(path.join(entryPath, name), before);
    // Housekeeping: a directory not empty (its process wrote meanwhile), gone, or not removable stays.
    if (idle) await rmdir(entryPath).catch(() => {});
  }
}

async function isStale(file: string, before: number): Promise<boolean> {
  const s = await stat(file).catch(ignoreMissing(undefined));
  return s !== undefined && s.mtimeMs < before;
}

async function removeIfStale(file: string, before: number): Promise<void> {
  if (await isStale(file, before)) await rm(file, { recursive: true, force: true });
}

const ignoreMissing = <T>(value: T) => (err: NodeJS.ErrnoException): T => {
  if (err.code === 'ENOENT') return value;
  throw err;
};

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
