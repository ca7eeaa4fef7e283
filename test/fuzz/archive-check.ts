/**
 * After a fuzz run: is the archive whole? The product's own check (verify-store: every indexed
 * object present with its size and SHA-256, nothing in the store the index does not account for)
 * on the filesystem store under DATA_DIR/objects, plus what only a test can demand of a quiet
 * archive: no pending instance row and no temporary file left in objects/.tmp.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { verifyStore } from '../../services/core/storage/verify-store.js';

export interface ArchiveReport {
  pendingRows: number;
  /** Objects the index expects (stored instances, kept originals). */
  indexedObjects: number;
  objects: number;
  /** Objects that belong to nothing. */
  orphans: string[];
  /** Index entries whose object is missing, or has another size or SHA-256. */
  missing: string[];
  /** Files left in the temporary area. */
  temporaries: string[];
}

export async function checkArchive(pool: pg.Pool, dataDir: string): Promise<ArchiveReport> {
  const root = path.join(dataDir, 'objects');
  const report = await verifyStore(new PostgresInventory(pool), new FsObjectStore(root));
  const tmp = await readdir(path.join(root, '.tmp'), { recursive: true, withFileTypes: true }).catch(() => []);
  return {
    pendingRows: report.pendingRows,
    indexedObjects: report.expected,
    objects: report.listed,
    orphans: report.unexpected,
    missing: [
      ...report.missing.map((k) => `${k}: no object`),
      ...report.wrongSize.map((w) => `${w.key}: ${w.actual} bytes, index says ${w.expected}`),
      ...report.wrongHash.map((k) => `${k}: SHA-256 differs from the index`),
    ],
    temporaries: tmp.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))),
  };
}
