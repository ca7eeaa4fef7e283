/** The index's inventory of objects, for `verify-store` (sql/inventory.ts). Read only. */
import type pg from 'pg';
import {
  UPLOADS_START, accountedKeysSql, keptUploadsPageSql, pendingCountSql, storedObjectsPageSql, type UploadCursor,
} from './sql/inventory.js';

export interface ExpectedObject { key: string; sizeBytes: number; sha256: string }

interface ObjectRow { key: string; size_bytes: string; sha256: string }

const toExpected = (r: ObjectRow): ExpectedObject => ({ key: r.key, sizeBytes: Number(r.size_bytes), sha256: r.sha256 });

export class PostgresInventory {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Every object the index expects: stored instances' objects, then kept uploads, each table page by
   * page on its primary key (no particular key order). A row stored while the run goes may be missed.
   */
  async *expected(pageSize = 1000): AsyncIterable<ExpectedObject> {
    for (let afterPk = '0'; ;) {
      const { rows } = await this.pool.query<ObjectRow & { pk: string }>(storedObjectsPageSql(afterPk, pageSize));
      for (const r of rows) yield toExpected(r);
      if (rows.length < pageSize) break;
      afterPk = rows[rows.length - 1].pk;
    }
    for (let after: UploadCursor = UPLOADS_START; ;) {
      const { rows } = await this.pool.query<ObjectRow & { capture_id: string; file_index: number }>(keptUploadsPageSql(after, pageSize));
      for (const r of rows) yield toExpected(r);
      if (rows.length < pageSize) break;
      const last = rows[rows.length - 1];
      after = { captureId: last.capture_id, fileIndex: last.file_index };
    }
  }

  /** The subset of `keys` the index accounts for. */
  async accounted(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const { rows } = await this.pool.query<{ key: string }>(accountedKeysSql(keys));
    return new Set(rows.map((r) => r.key));
  }

  async pendingRows(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(pendingCountSql);
    return rows[0].n;
  }
}
