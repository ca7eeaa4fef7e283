/**
 * Pending-row bookkeeping for reconciliation: rows whose request died between phase 1 and 3 of
 * the two-phase store. Kept apart from the QIDO/ingest adapter because only the worker uses it.
 */
import type pg from 'pg';
import { deletePendingSql, listStalePendingSql } from './sql/instances.js';

export interface StalePending { sopInstanceUID: string; objectKey: string }

export class PostgresPendingRows {
  constructor(private readonly pool: pg.Pool) {}

  async listStale(olderThanSeconds: number, limit: number): Promise<StalePending[]> {
    const { rows } = await this.pool.query<{ sop_uid: string; object_key: string }>(listStalePendingSql(olderThanSeconds, limit));
    return rows.map((r) => ({ sopInstanceUID: r.sop_uid, objectKey: r.object_key }));
  }

  /** Deletes the row only if it is still the same stale pending attempt (see deletePendingSql). */
  async deleteIfStillStale(p: StalePending, olderThanSeconds: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(deletePendingSql(p.sopInstanceUID, p.objectKey, olderThanSeconds));
    return rowCount === 1;
  }
}
