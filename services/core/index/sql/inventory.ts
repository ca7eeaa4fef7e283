/**
 * The index's side of `verify-store`: what the object store must hold (stored instances and kept
 * original uploads, each with the size and SHA-256 recorded at ingest), read page by page in key
 * order (keyset pagination: a million-row archive is never read at once), and which listed keys
 * the index accounts for. Keys follow `objectKeys` (storage/object-store.ts).
 */
import type { SqlStatement } from './statement.js';

/** The next `limit` expected objects with keys after `afterKey` ('' = from the start), in byte order. */
export function expectedObjectsSql(afterKey: string, limit: number): SqlStatement {
  return {
    text: `SELECT key, size_bytes, sha256 FROM (
             SELECT object_key AS key, size_bytes, sha256 FROM instances WHERE status = 'stored'
             UNION ALL
             SELECT upload_key, size_bytes, sha256 FROM capture_files WHERE upload_key IS NOT NULL
           ) expected
           WHERE key COLLATE "C" > $1
           ORDER BY key COLLATE "C"
           LIMIT $2`,
    values: [afterKey, limit],
  };
}

/**
 * Of the given object keys, those something in the index accounts for:
 * - `instances/<study>/<series>/<sop>.<attempt>.dcm`: the object of a stored or pending instance row
 *   (a pending one is a store in flight, or an abandoned one that reconciliation removes);
 * - `derived/<sop>/<variant>`: a rendition of a stored instance;
 * - `uploads/<capture id>/<file index>`: a kept original upload.
 * Each is found through its table's unique key; CASE keeps the uuid cast away from other keys.
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
             WHEN k ~ '^uploads/[0-9a-f-]{36}/[0-9]{1,9}$' THEN EXISTS (
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
