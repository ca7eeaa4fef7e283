/**
 * Pending-row bookkeeping for reconciliation: rows whose request died between phase 1 and 3 of
 * the two-phase store. Kept apart from the QIDO/ingest adapter because only the worker uses it.
 */
import type pg from 'pg';

export interface StalePending { sopInstanceUID: string; objectKey: string; receivedAt: Date }

export class PostgresPendingRows {
  constructor(private readonly pool: pg.Pool) {}

  async listStale(olderThanSeconds: number, limit: number): Promise<StalePending[]> {
    const { rows } = await this.pool.query(
      `SELECT sop_uid, object_key, received_at FROM instances
        WHERE status = 'pending' AND received_at < now() - make_interval(secs => $1)
        ORDER BY received_at LIMIT $2`,
      [olderThanSeconds, limit]);
    return rows.map((r) => ({ sopInstanceUID: r.sop_uid, objectKey: r.object_key, receivedAt: r.received_at }));
  }

  /** Deletes the row only if it is still the same abandoned pending row (not taken over since). */
  async deleteIfUnchanged(p: StalePending): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM instances WHERE sop_uid = $1 AND status = 'pending' AND received_at = $2`,
      [p.sopInstanceUID, p.receivedAt]);
    return rowCount === 1;
  }
}
