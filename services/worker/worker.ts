/**
 * The worker role: pg-boss queues and their handlers. Today it runs `reconcile-pending` at start
 * and every five minutes; the photo `convert-photo` and `derive` jobs join it in their issue.
 */
import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { PostgresPendingRows } from '../core/index/postgres-pending.js';
import type { ObjectStore } from '../core/storage/object-store.js';
import { reconcilePending } from './reconcile.js';

export const QUEUES = { reconcilePending: 'reconcile-pending' } as const;

export interface Worker { stop(): Promise<void> }

export async function startWorker(deps: {
  databaseUrl: string; pending: PostgresPendingRows; store: ObjectStore; log: Logger; pendingTimeoutSeconds: number;
}): Promise<Worker> {
  const boss = new PgBoss({ connectionString: deps.databaseUrl, schema: 'pgboss', max: 4 });
  boss.on('error', (err) => deps.log.error({ err }, 'queue error'));
  await boss.start();
  await boss.createQueue(QUEUES.reconcilePending);
  const reconcile = () => reconcilePending({
    pending: deps.pending, store: deps.store, log: deps.log, olderThanSeconds: deps.pendingTimeoutSeconds,
  });
  await boss.work(QUEUES.reconcilePending, async () => { await reconcile(); });
  await boss.schedule(QUEUES.reconcilePending, '*/5 * * * *');
  await boss.send(QUEUES.reconcilePending, {}, { singletonKey: 'startup', singletonSeconds: 60 });
  deps.log.info('worker started');
  return {
    async stop() {
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
