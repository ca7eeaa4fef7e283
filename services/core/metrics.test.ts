import { testLogger } from '../../test/helpers/server.js';
import { Metrics, type QueueCounts } from './metrics.js';

const { log, lines } = testLogger('debug');
const queue = (name: string, counts: Partial<QueueCounts> = {}): QueueCounts => ({
  name, readyCount: 0, deferredCount: 0, blockedCount: 0, activeCount: 0, readyOldestSeconds: null, ...counts,
});

describe('Metrics', () => {
  it('keeps its own registry: two runtimes in one process do not collide', async () => {
    const a = new Metrics(log);
    const b = new Metrics(log);
    a.stowInstance('stored');
    expect(await a.scrape()).toContain('lucida_stow_instances_total{outcome="stored"} 1');
    expect(await b.scrape()).toContain('lucida_stow_instances_total{outcome="stored"} 0');
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('reports queue depth per queue and state, read from pg-boss at each scrape', async () => {
    const metrics = new Metrics(log);
    let calls = 0;
    let depth = 3;
    metrics.observe({
      queues: {
        getQueues: async () => {
          calls++;
          return [queue('derive', { readyCount: depth, activeCount: 2, readyOldestSeconds: 12 }), queue('convert-photo', { deferredCount: 1 }),
            queue('__pgboss__send-it', { readyCount: 1 })];
        },
      },
    });
    let text = await metrics.scrape();
    expect(calls).toBe(1); // one query serves both queue gauges
    expect(text).toContain('lucida_queue_jobs{queue="derive",state="ready"} 3');
    expect(text).toContain('lucida_queue_jobs{queue="derive",state="active"} 2');
    expect(text).toContain('lucida_queue_jobs{queue="convert-photo",state="deferred"} 1');
    expect(text).toContain('lucida_queue_oldest_ready_seconds{queue="derive"} 12');
    expect(text).not.toContain('lucida_queue_oldest_ready_seconds{queue="convert-photo"}'); // not counted yet
    expect(text).not.toContain('__pgboss__');
    depth = 0;
    text = await metrics.scrape();
    expect(text).toContain('lucida_queue_jobs{queue="derive",state="ready"} 0');
  });

  it('leaves the queue samples out, and still answers, when pg-boss cannot be read', async () => {
    const metrics = new Metrics(log);
    metrics.observe({ queues: { getQueues: async () => { throw new Error('connection refused'); } } });
    metrics.jobSettled('derive', 'failed');
    const text = await metrics.scrape();
    expect(text).not.toMatch(/^lucida_queue_jobs\{/m);
    expect(text).toContain('lucida_jobs_total{queue="derive",outcome="failed"} 1');
    expect(lines.some((l) => l.includes('queue depth not available for this scrape'))).toBe(true);
  });

  it('does not wait for a database that does not answer', async () => {
    const metrics = new Metrics(log, { queueQueryTimeoutMs: 200 });
    metrics.observe({ queues: { getQueues: () => new Promise<never>(() => {}) } });
    const started = Date.now();
    const text = await metrics.scrape();
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190); // it did wait for the answer, up to the timeout
    expect(waited).toBeLessThan(2000);
    expect(text).not.toMatch(/^lucida_queue_jobs\{/m);
    expect(text).toMatch(/^lucida_process_cpu_seconds_total /m); // the rest of the scrape is there
    expect(lines.some((l) => l.includes('no answer in 200 ms'))).toBe(true);
  });

  it('reports the database pool by state', async () => {
    const metrics = new Metrics(log);
    metrics.observe({ pool: { totalCount: 5, idleCount: 2, waitingCount: 1 } });
    const text = await metrics.scrape();
    expect(text).toContain('lucida_db_pool_connections{state="idle"} 2');
    expect(text).toContain('lucida_db_pool_connections{state="in_use"} 3');
    expect(text).toContain('lucida_db_pool_waiting_requests 1');
  });
});
