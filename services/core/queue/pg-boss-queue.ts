/**
 * pg-boss wiring: one PgBoss per process (API and worker roles share it), all queues created with
 * their retry policy. Jobs live in the `pgboss` schema of the index database, so a job can be sent
 * in the same transaction as the rows it refers to (see JobQueue.send's `tx`).
 */
import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { DEAD_LETTER, JOBS, type JobName, type JobPayloads, type JobQueue, type SqlExecutor } from './jobs.js';

export interface RetryPolicy {
  retryLimit: number; retryDelaySeconds: number;
  /**
   * A worker process sends a heartbeat for each job it holds every half of this; a job whose worker
   * went silent (killed, frozen, partitioned) is failed and retried by another worker after it.
   */
  heartbeatSeconds: number;
}

export class PgBossQueue implements JobQueue {
  private constructor(readonly boss: PgBoss) {}

  static async start(opts: { databaseUrl: string; log: Logger; retry: RetryPolicy }): Promise<PgBossQueue> {
    // Supervision and the monitor pass (which fails, and so retries, the jobs of silent workers) run
    // as often as heartbeats are due, so a killed worker's job is picked up by another within about
    // two heartbeat intervals (default 60 s passes would add up to a minute).
    const every = Math.min(60, opts.retry.heartbeatSeconds);
    const boss = new PgBoss({
      connectionString: opts.databaseUrl, schema: 'pgboss', max: 4, useListenNotify: true,
      // Its own pool: drop a connection whose host vanished within about 20 s, as the serving pool
      // does (index/database.ts createPool). pg-boss hands its options to pg.Pool as they are, but
      // does not declare pg's socket options in its type.
      ...({ keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as object),
      superviseIntervalSeconds: every, monitorIntervalSeconds: every,
    });
    boss.on('error', (err) => opts.log.error({ err }, 'queue error'));
    await boss.start();
    // Work on photos is retried with exponential backoff, then dead-lettered (and the capture status
    // says why). createQueue leaves an existing queue alone, so updateQueue applies today's policy.
    const backoff = opts.retry.retryDelaySeconds > 0;
    const retrying = {
      retryLimit: opts.retry.retryLimit, retryDelay: opts.retry.retryDelaySeconds, retryBackoff: backoff,
      ...(backoff ? { retryDelayMax: 300 } : {}), expireInSeconds: 300, heartbeatSeconds: opts.retry.heartbeatSeconds, notify: true,
    };
    try {
      for (const name of Object.values(DEAD_LETTER)) await boss.createQueue(name);
      for (const [name, options] of [
        [JOBS.convertPhoto, { ...retrying, deadLetter: DEAD_LETTER.convertPhoto }],
        [JOBS.derive, { ...retrying, deadLetter: DEAD_LETTER.derive }],
        [JOBS.reconcilePending, {}],
        // Up to ~2 days of retries (30 s doubling, at most an hour apart): an outage of the store.
        [JOBS.discardObject, { retryLimit: 50, retryDelay: 30, retryBackoff: true, retryDelayMax: 3600 }],
      ] as const) {
        await boss.createQueue(name, options);
        if (Object.keys(options).length) await boss.updateQueue(name, options);
      }
    } catch (err) {
      await boss.stop({ graceful: false }).catch(() => {});
      throw err;
    }
    return new PgBossQueue(boss);
  }

  async send<N extends JobName>(name: N, data: JobPayloads[N], opts: { tx?: SqlExecutor; delaySeconds?: number } = {}): Promise<void> {
    await this.boss.send(name, data as object, {
      ...(opts.tx ? { db: opts.tx } : {}), ...(opts.delaySeconds ? { startAfter: opts.delaySeconds } : {}),
    });
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: 10_000 });
  }
}
