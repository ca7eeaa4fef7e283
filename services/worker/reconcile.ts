/**
 * Reconciliation of abandoned stores: a 'pending' index row belongs to a request that died (crash,
 * kill, lost database) between writing its object and committing the index when its owner process
 * is dead (it no longer holds its liveness lock: core/index/process-liveness.ts), which is known at
 * once, or when it is older than PENDING_TIMEOUT_SECONDS (rows without an owner, or an owner that
 * is somehow still alive). Its client never received a 200, so both the object and the row go.
 *
 * Run by every process at start (runtime.ts: a SIGKILLed process's leftovers go when it, or any
 * other process, starts) and by the worker every five minutes. Cheap and idempotent; several
 * processes may run it at once. The object key is unique to the attempt (objectKeys.instance), and
 * each row is deleted only if it is still that abandoned attempt, so a request that took the UID
 * over since, or is still running, keeps its row and object.
 */
import type { Logger } from 'pino';
import type { AbandonedCriteria, PostgresPendingRows } from '../core/index/postgres-pending.js';
import type { ObjectStore } from '../core/storage/object-store.js';

export interface ReconcileReport {
  /** Abandoned rows looked at. */
  examined: number;
  /** Rows removed (each with its object, if it had been written). */
  rowsRemoved: number;
  /** Objects removed: the crash came after the object was written. */
  objectsDeleted: number;
  /** Distinct dead owner processes of the rows removed (0 when only timed-out rows were). */
  deadOwners: number;
  /** Rows that could not be removed this time (store or database error): left for the next pass. */
  failed: number;
}

export async function reconcilePending(deps: {
  pending: PostgresPendingRows; store: ObjectStore; log: Logger; olderThanSeconds: number;
  /** The running process's id: its own pending rows are its in-flight requests. */
  processId?: string;
}): Promise<ReconcileReport> {
  const criteria: AbandonedCriteria = { olderThanSeconds: deps.olderThanSeconds, processId: deps.processId };
  const report: ReconcileReport = { examined: 0, rowsRemoved: 0, objectsDeleted: 0, deadOwners: 0, failed: 0 };
  const deadOwners = new Set<string>();
  for (;;) {
    const batch = await deps.pending.listAbandoned(criteria, 500);
    let progressed = false;
    for (const p of batch) {
      report.examined++;
      let objectFound = false;
      try {
        const { removed, ownerDead } = await deps.pending.removeIfAbandoned(p, criteria, async () => {
          objectFound = (await deps.store.exists(p.objectKey)) !== null;
          if (objectFound) await deps.store.delete(p.objectKey);
        });
        if (!removed) continue;
        progressed = true;
        report.rowsRemoved++;
        if (objectFound) report.objectsDeleted++;
        if (ownerDead && p.owner) deadOwners.add(p.owner);
      } catch (err) {
        report.failed++;
        deps.log.warn({ err, sopInstanceUID: p.sopInstanceUID }, 'could not remove an abandoned store; left for the next pass');
      }
    }
    // A batch where nothing could be removed (all taken over, or failing) would come back unchanged.
    if (!progressed) break;
  }
  report.deadOwners = deadOwners.size;
  deps.log.info({ ...report }, 'reconciled abandoned stores');
  return report;
}
