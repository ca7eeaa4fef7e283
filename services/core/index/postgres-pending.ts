/**
 * Pending-row bookkeeping for reconciliation: rows whose request died between phase 1 and 3 of
 * the two-phase store. Kept apart from the QIDO/ingest adapter because only the worker uses it.
 */
import type pg from 'pg';

export interface StalePending { pk: string; sopInstanceUID: string; objectKey: string }

export class PostgresPendingRows {
  constructor(private readonly pool: pg.Pool) {}

  async listStale(olderThanSeconds: number, limit: number): Promise<StalePending[]> {
    const { rows } = await this.pool.query(
      `SELECT pk, sop_uid, object_key FROM instances
        WHERE status = 'pending' AND received_at < now() - make_interval(secs => $1)
        ORDER BY received_at LIMIT $2`,
      [olderThanSeconds, limit]);
    return rows.map((r) => ({ pk: String(r.pk), sopInstanceUID: r.sop_uid, objectKey: r.object_key }));
  }

  /**
   * Deletes the row only if it is still the same stale pending attempt: a request that took it over
   * (replacePending) has a new object key and received_at, and its row must stay.
   */
  async deleteIfStillStale(p: StalePending, olderThanSeconds: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM instances
        WHERE pk = $1 AND object_key = $3 AND status = 'pending' AND received_at < now() - make_interval(secs => $2)`,
      [p.pk, olderThanSeconds, p.objectKey]);
    return rowCount === 1;
  }
}
