/** The index's inventory of objects, for `verify-store` (sql/inventory.ts). Read only. */
import type pg from 'pg';
import { accountedKeysSql, expectedObjectsSql, pendingCountSql } from './sql/inventory.js';

export interface ExpectedObject { key: string; sizeBytes: number; sha256: string }

export class PostgresInventory {
  constructor(private readonly pool: pg.Pool) {}

  /** Every object the index expects, page by page in key order. */
  async *expected(pageSize = 1000): AsyncIterable<ExpectedObject> {
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<{ key: string; size_bytes: string; sha256: string }>(expectedObjectsSql(after, pageSize));
      for (const r of rows) yield { key: r.key, sizeBytes: Number(r.size_bytes), sha256: r.sha256 };
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].key;
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
