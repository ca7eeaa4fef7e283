/**
 * Reconciliation of abandoned stores: a 'pending' index row older than PENDING_TIMEOUT_SECONDS
 * belongs to a request that died (crash, kill, lost database) between writing the object and
 * committing the index. Its client never received a 200, so both the object and the row go.
 * The object key is unique to that attempt (objectKeys.instance), so deleting it cannot touch the
 * object of a request that has since taken the SOP Instance UID over.
 */
import type { Logger } from 'pino';
import type { PostgresPendingRows } from '../core/index/postgres-pending.js';
import type { ObjectStore } from '../core/storage/object-store.js';

/**
 * Stale rows seen, and rows removed. Every examined row's object is deleted (deleting an absent one
 * is not an error), so no object count is kept: the store cannot say whether there was one.
 */
export interface ReconcileReport { examined: number; rowsRemoved: number }

export async function reconcilePending(deps: {
  pending: PostgresPendingRows; store: ObjectStore; log: Logger; olderThanSeconds: number;
}): Promise<ReconcileReport> {
  const report: ReconcileReport = { examined: 0, rowsRemoved: 0 };
  for (;;) {
    const batch = await deps.pending.listStale(deps.olderThanSeconds, 500);
    if (batch.length === 0) break;
    let progressed = false;
    for (const p of batch) {
      report.examined++;
      await deps.store.delete(p.objectKey);
      if (await deps.pending.deleteIfStillStale(p, deps.olderThanSeconds)) {
        report.rowsRemoved++;
        progressed = true;
      }
    }
    if (!progressed) break;
  }
  deps.log.info({ ...report }, 'reconciled abandoned stores');
  return report;
}
