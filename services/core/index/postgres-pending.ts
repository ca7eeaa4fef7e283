/**
 * Pending-row bookkeeping for reconciliation: rows whose request died between phase 1 and 3 of the
 * two-phase store (its process was killed, or it is older than PENDING_TIMEOUT_SECONDS). Kept apart
 * from the QIDO/ingest adapter because only reconciliation (services/worker/reconcile.ts) uses it.
 */
import type pg from 'pg';
import { deleteAbandonedPendingSql, listAbandonedPendingSql, type AbandonedCriteria } from './sql/instances.js';

export type { AbandonedCriteria } from './sql/instances.js';

export interface AbandonedPending { sopInstanceUID: string; objectKey: string; owner?: string }

export class PostgresPendingRows {
  constructor(private readonly pool: pg.Pool) {}

  /** Abandoned pending rows, oldest first. */
  async listAbandoned(criteria: AbandonedCriteria, limit: number): Promise<AbandonedPending[]> {
    const { rows } = await this.pool.query<{ sop_uid: string; object_key: string; owner: string | null }>(
      listAbandonedPendingSql(criteria, limit));
    return rows.map((r) => ({ sopInstanceUID: r.sop_uid, objectKey: r.object_key, ...(r.owner ? { owner: r.owner } : {}) }));
  }

  /**
   * Removes a listed row and, through `removeObject`, its object, if the row is still that abandoned
   * attempt (deleteAbandonedPendingSql). The row is deleted first, in a transaction that commits only
   * after `removeObject` has succeeded: while the object is being removed the row stays locked, so a
   * request that is in fact alive (its process only lost its liveness connection) cannot commit it,
   * and waits; it then finds its row gone and reports a failure, never a 200 for a deleted object. If
   * `removeObject` fails the row comes back, for the next pass: no object is left without a row.
   */
  async removeIfAbandoned(p: AbandonedPending, criteria: AbandonedCriteria, removeObject: () => Promise<void>):
  Promise<{ removed: boolean; ownerDead: boolean }> {
    const client = await this.pool.connect();
    let failed: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ owner_dead: boolean }>(deleteAbandonedPendingSql(p.sopInstanceUID, p.objectKey, criteria));
      if (rows.length === 0) {
        await client.query('ROLLBACK');
        return { removed: false, ownerDead: false };
      }
      await removeObject();
      await client.query('COMMIT');
      return { removed: true, ownerDead: rows[0].owner_dead };
    } catch (err) {
      failed = err as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      // A client whose statement failed may have lost its connection: the pool discards it.
      client.release(failed);
    }
  }
}
