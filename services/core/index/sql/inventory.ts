/**
 * The index's side of `verify-store`: what the object store must hold (stored instances and kept
 * original uploads, each with the size and SHA-256 recorded at ingest), read page by page, and which
 * listed keys the index accounts for. Keys follow `objectKeys` (storage/object-store.ts).
 *
 * Each table is paged on its own primary key (keyset pagination), so every page is one index range
 * scan of `limit` rows, whatever the archive's size: a million-row archive is never read at once, nor
 * scanned and sorted once per page. The order of keys does not matter (the report sorts its lists).
 */
import type { SqlStatement } from './statement.js';

/** The next `limit` stored instances' objects after instance row `afterPk` ('0' = from the start), in pk order. */
export function storedObjectsPageSql(afterPk: string, limit: number): SqlStatement {
  return {
    text: `SELECT i.pk, i.object_key AS key, i.size_bytes, i.sha256 FROM instances i
           WHERE i.status = 'stored' AND i.pk > $1::bigint
           ORDER BY i.pk
           LIMIT $2`,
    values: [afterPk, limit],
  };
}

/** Where a page of kept uploads ends: the capture_files primary key of its last row. */
export interface UploadCursor { captureId: string; fileIndex: number }

/** Before every capture_files row (file indexes start at 0). */
export const UPLOADS_START: UploadCursor = { captureId: '00000000-0000-0000-0000-000000000000', fileIndex: -1 };

/** The next `limit` kept original uploads after `after`, in primary-key order. */
export function keptUploadsPageSql(after: UploadCursor, limit: number): SqlStatement {
  return {
    // A row comparison on the primary key's columns: Postgres uses it as the index scan's start.
    text: `SELECT f.capture_id, f.file_index, f.upload_key AS key, f.size_bytes, f.sha256 FROM capture_files f
           WHERE f.upload_key IS NOT NULL AND (f.capture_id, f.file_index) > ($1::uuid, $2::int)
           ORDER BY f.capture_id, f.file_index
           LIMIT $3`,
    values: [after.captureId, after.fileIndex, limit],
  };
}

/** A capture id in object keys: the canonical lower-case UUID text (8-4-4-4-12 hex digits). */
const UPLOAD_KEY_PATTERN = '^uploads/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9]{1,9}$';

/**
 * Of the given object keys, those something in the index accounts for:
 * - `instances/<study>/<series>/<sop>.<attempt>.dcm`: the object of a stored or pending instance row
 *   (a pending one is a store in flight, or an abandoned one that reconciliation removes);
 * - `derived/<sop>/<variant>`: a rendition of a stored instance;
 * - `uploads/<capture id>/<file index>`: a kept original upload.
 * Each is found through its table's unique key. CASE keeps the uuid and int casts away from any key
 * not of exactly that shape: a stray object in the store is unaccounted for, never a failed cast that
 * ends the run.
 */
export function accountedKeysSql(keys: string[]): SqlStatement {
  return {
    text: `SELECT k AS key FROM unnest($1::text[]) AS k
           WHERE CASE
             WHEN k LIKE 'instances/%' THEN EXISTS (
               SELECT 1 FROM instances i
               WHERE i.sop_uid = regexp_replace(split_part(k, '/', 4), '\\.[0-9a-f]+\\.dcm$', '') AND i.object_key = k)
             WHEN k LIKE 'derived/%' THEN EXISTS (
               SELECT 1 FROM instances i WHERE i.sop_uid = split_part(k, '/', 2) AND i.status = 'stored')
             WHEN k ~ '${UPLOAD_KEY_PATTERN}' THEN EXISTS (
               SELECT 1 FROM capture_files f
               WHERE f.capture_id = split_part(k, '/', 2)::uuid AND f.file_index = split_part(k, '/', 3)::int AND f.upload_key = k)
             ELSE false
           END`,
    values: [keys],
  };
}

/** Instance rows still pending: stores in flight, or abandoned ones not yet reconciled. */
export const pendingCountSql: SqlStatement = {
  text: "SELECT count(*)::int AS n FROM instances WHERE status = 'pending'", values: [],
};
