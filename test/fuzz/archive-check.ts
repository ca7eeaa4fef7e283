/**
 * After a fuzz run: is the archive whole? Compares the filesystem object store (DATA_DIR/objects,
 * layout in services/core/storage/object-store.ts `objectKeys`) with the index:
 *   instances/<study>/<series>/<sop>.<attempt>.dcm  the object of a stored instance row
 *   derived/<sop>/<variant>                         renditions of a stored instance
 *   uploads/<capture>/<file index>                  an original kept for a capture file
 * and nothing else; every stored instance's object and every kept original exists with its size;
 * no pending instance row; no temporary file left in .tmp.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

export interface ArchiveReport {
  pendingRows: number;
  storedInstances: number;
  objects: number;
  /** Objects that belong to nothing (or sit where no object should). */
  orphans: string[];
  /** Index entries whose object is missing or has another size. */
  missing: string[];
  /** Files left in the temporary area. */
  temporaries: string[];
}

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

export async function checkArchive(pool: pg.Pool, dataDir: string): Promise<ArchiveReport> {
  const root = path.join(dataDir, 'objects');
  const { rows: [{ n: pendingRows }] } = await pool.query("SELECT count(*)::int AS n FROM instances WHERE status = 'pending'");
  const { rows: instances } = await pool.query<{ sop_uid: string; object_key: string; size_bytes: string }>(
    "SELECT sop_uid, object_key, size_bytes FROM instances WHERE status = 'stored'");
  const { rows: uploads } = await pool.query<{ upload_key: string; size_bytes: string }>(
    'SELECT upload_key, size_bytes FROM capture_files WHERE upload_key IS NOT NULL');
  const instanceKeys = new Map(instances.map((r) => [r.object_key, Number(r.size_bytes)]));
  const sops = new Set(instances.map((r) => r.sop_uid));
  const uploadKeys = new Map(uploads.map((r) => [r.upload_key, Number(r.size_bytes)]));

  const all = await files(root);
  const temporaries = all.filter((f) => f.startsWith('.tmp/'));
  const objects = all.filter((f) => !f.startsWith('.tmp/'));
  const orphans = objects.filter((key) => {
    if (key.startsWith('instances/')) return !instanceKeys.has(key);
    if (key.startsWith('derived/')) return !sops.has(key.split('/')[1]);
    if (key.startsWith('uploads/')) return !uploadKeys.has(key);
    return true;
  });
  const missing: string[] = [];
  for (const [key, size] of [...instanceKeys, ...uploadKeys]) {
    const s = await stat(path.join(root, key)).catch(() => undefined);
    if (!s) missing.push(`${key}: no object`);
    else if (s.size !== size) missing.push(`${key}: ${s.size} bytes, index says ${size}`);
  }
  return { pendingRows, storedInstances: instances.length, objects: objects.length, orphans, missing, temporaries };
}
