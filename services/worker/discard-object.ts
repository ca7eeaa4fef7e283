/**
 * `discard-object`: removes an object a failed store left behind (ingest-instance.ts `discard`): one
 * the store could not delete at the time, or a write whose outcome was unknown. Retried with backoff
 * while the store is down (pg-boss-queue.ts). Never an object the index names: keys are unique to an
 * attempt, so one the index names now means the job is wrong, and it does nothing.
 */
import type { Logger } from 'pino';
import type { PostgresInventory } from '../core/index/postgres-inventory.js';
import type { DiscardObjectJob } from '../core/queue/jobs.js';
import type { ObjectStore } from '../core/storage/object-store.js';

export async function discardObject(deps: { store: ObjectStore; inventory: PostgresInventory; log: Logger }, job: DiscardObjectJob): Promise<void> {
  if ((await deps.inventory.accounted([job.objectKey])).size > 0) {
    deps.log.warn({ objectKey: job.objectKey }, 'discard-object: the index names this object; kept');
    return;
  }
  if (!(await deps.store.exists(job.objectKey))) return;
  await deps.store.delete(job.objectKey);
  deps.log.info({ objectKey: job.objectKey }, 'discarded an object a failed store left');
}
