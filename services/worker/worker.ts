/**
 * The worker role: pg-boss handlers, one file per job.
 * - `convert-photo`: uploaded photographs → VL Photographic Images (convert-photo.ts);
 * - `derive`: thumbnail, default rendering and QA after every ingest (derive.ts);
 * - `reconcile-pending`: abandoned stores, every five minutes (reconcile.ts; every process, API or
 *   worker, also runs one pass at start: runtime.ts);
 * - `discard-object`: objects a failed store left behind (discard-object.ts).
 * Conversion and derive jobs are fetched in batches and settled one by one (perJobResults), so one
 * bad photo never fails its neighbours; a full batch is followed at once by the next (burst).
 */
import type { JobWithMetadata } from 'pg-boss';
import type { Logger } from 'pino';
import type { CaptureRepository } from '../core/capture/capture-port.js';
import type { IngestDeps } from '../core/ingest/ingest-instance.js';
import type { Metrics } from '../core/metrics.js';
import type { PostgresInventory } from '../core/index/postgres-inventory.js';
import type { PostgresPendingRows } from '../core/index/postgres-pending.js';
import { DEAD_LETTER, JOBS, type ConvertPhotoJob, type DeriveJob, type DiscardObjectJob } from '../core/queue/jobs.js';
import type { PgBossQueue } from '../core/queue/pg-boss-queue.js';
import { convertCaptureFile, markDeadLettered } from './convert-photo.js';
import { deriveInstance } from './derive.js';
import { discardObject } from './discard-object.js';
import { reconcilePending } from './reconcile.js';

export interface WorkerDeps {
  queue: PgBossQueue;
  pending: PostgresPendingRows;
  /** What the index names (discard-object never removes such an object). */
  inventory: PostgresInventory;
  captures: CaptureRepository;
  ingest: IngestDeps;
  log: Logger;
  maxPixels: number;
  /** Jobs of each queue processed at once by this process. */
  concurrency: number;
  /** Counts each job attempt's outcome per queue (absent in tests that need no metrics). */
  metrics?: Pick<Metrics, 'jobSettled'>;
}

export interface Worker { stop(): Promise<void> }

export async function startWorker(deps: WorkerDeps): Promise<Worker> {
  const { boss } = deps.queue;
  const { store, index } = deps.ingest;
  const batch = {
    batchSize: deps.concurrency, includeMetadata: true, perJobResults: true, burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 1,
  } as const;

  /** Runs `handle` on every job of a batch at once; each job succeeds or fails (and is retried) alone. */
  const settleEach = <T extends object>(handle: (job: JobWithMetadata<T>) => Promise<void>) =>
    async (jobs: JobWithMetadata<T>[]) => Promise.all(jobs.map(async (job) => {
      try {
        await handle(job);
        deps.metrics?.jobSettled(job.name, 'completed');
        return { id: job.id, status: 'completed' as const };
      } catch (err) {
        deps.metrics?.jobSettled(job.name, 'failed');
        return { id: job.id, status: 'failed' as const, output: { message: (err as Error).message } };
      }
    }));

  await boss.work(JOBS.convertPhoto, batch, settleEach<ConvertPhotoJob>((job) =>
    convertCaptureFile({ captures: deps.captures, ingest: deps.ingest, log: deps.log, maxPixels: deps.maxPixels },
      job.data, { retryCount: job.retryCount, retryLimit: job.retryLimit })));

  // markFailed leaves a stored file alone, so this is safe after any kind of ending.
  await boss.work(DEAD_LETTER.convertPhoto, batch, settleEach<ConvertPhotoJob>((job) => markDeadLettered(deps.captures, job.data)));

  // Renditions and QA yield to conversions: half the slots, so a burst of captures is stored first.
  const deriveBatch = { ...batch, batchSize: Math.max(1, Math.floor(deps.concurrency / 2)) };
  await boss.work(JOBS.derive, deriveBatch, settleEach<DeriveJob>((job) =>
    deriveInstance({ index, store, log: deps.log }, job.data)));

  // One worker process runs each scheduled pass; the pass at start is the runtime's, in every process.
  await boss.work(JOBS.reconcilePending, async () => {
    await reconcilePending({
      pending: deps.pending, store, log: deps.log, olderThanSeconds: deps.ingest.pendingTimeoutSeconds,
      processId: deps.ingest.processId,
    });
  });
  await boss.schedule(JOBS.reconcilePending, '*/5 * * * *');
  await boss.work(JOBS.discardObject, batch, settleEach<DiscardObjectJob>((job) =>
    discardObject({ store, inventory: deps.inventory, log: deps.log }, job.data)));
  deps.log.info('worker started');
  return {
    async stop() {
      for (const name of [...Object.values(JOBS), DEAD_LETTER.convertPhoto]) await boss.offWork(name, { wait: true }).catch(() => {});
    },
  };
}
