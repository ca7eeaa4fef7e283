/**
 * Prometheus metrics (prom-client) of one runtime: HTTP requests, STOW and capture intake, job
 * outcomes, queue depth, object-store errors and the database pool, beside Node's default process
 * metrics. Served as text by GET /metrics (api/routes/metrics.ts), on the API port or, in a
 * worker-only process, on the ops server (worker/ops-server.ts).
 *
 * Each runtime owns its Registry (never prom-client's global one): tests run several runtimes in one
 * process. Labels are bounded by construction: route PATTERNS (never a path, which holds UIDs),
 * methods, status codes, queue names and store operations. No metric carries a UID or patient data.
 * Names follow the Prometheus conventions (base units, `_total` for counters).
 */
import client from 'prom-client';
import type { Logger } from 'pino';

/** A queue's counts as pg-boss 12's getQueues() reports them (refreshed by its monitor pass). */
export interface QueueCounts {
  name: string;
  readyCount: number;
  deferredCount: number;
  blockedCount: number;
  activeCount: number;
  readyOldestSeconds?: number | null;
}

/** What the collectors read at scrape time: pg-boss (getQueues) and the index database's pool. */
export interface MetricSources {
  queues?: { getQueues(): Promise<QueueCounts[]> };
  pool?: { totalCount: number; idleCount: number; waitingCount: number };
}

const STORE_OPERATIONS = ['put', 'get', 'delete', 'exists', 'list'] as const;
export type StoreOperation = typeof STORE_OPERATIONS[number];

/** Queue states reported as lucida_queue_jobs: disjoint, so summing over `state` gives the queue's depth. */
const QUEUE_STATES = { ready: 'readyCount', deferred: 'deferredCount', blocked: 'blockedCount', active: 'activeCount' } as const;

/** Prefix of pg-boss's own queues (`__pgboss__send-it`): not Lucida's work. */
const PG_BOSS_INTERNAL = '__pgboss__';

/** A scrape waits this long at most for pg-boss by default; then the queue samples are left out of that scrape. */
const QUEUE_QUERY_TIMEOUT_MS = 3000;

export interface MetricsOptions {
  /** How long a scrape waits for pg-boss's queue counts (default 3000 ms: well within Prometheus's 10 s scrape timeout). */
  queueQueryTimeoutMs?: number;
}

/** Request durations: a QIDO takes milliseconds, a large STOW minutes. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const STORE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new client.Registry();
  private sources: MetricSources = {};
  private readonly httpRequests: client.Counter<'method' | 'route' | 'status_code'>;
  private readonly httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
  private readonly stowInstances: client.Counter<'outcome'>;
  private readonly stowBytes: client.Counter;
  private readonly captureFiles: client.Counter<'outcome'>;
  private readonly captureBytes: client.Counter;
  private readonly jobs: client.Counter<'queue' | 'outcome'>;
  private readonly storeErrors: client.Counter<'operation'>;
  private readonly storeDuration: client.Histogram<'operation'>;

  constructor(private readonly log: Logger, options: MetricsOptions = {}) {
    const queueQueryTimeoutMs = options.queueQueryTimeoutMs ?? QUEUE_QUERY_TIMEOUT_MS;
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lucida_' });
    this.httpRequests = new client.Counter({
      name: 'lucida_http_requests_total', registers, labelNames: ['method', 'route', 'status_code'],
      help: 'HTTP requests answered, by method, route pattern ("unmatched" when no route was reached) and status (499: the client closed first)',
    });
    this.httpDuration = new client.Histogram({
      name: 'lucida_http_request_duration_seconds', registers, labelNames: ['method', 'route', 'status_code'], buckets: HTTP_BUCKETS,
      help: 'Time from a request\'s arrival to the end of its response, by method, route pattern and status',
    });
    this.stowInstances = new client.Counter({
      name: 'lucida_stow_instances_total', registers, labelNames: ['outcome'],
      help: 'Instances answered by STOW-RS, by outcome: stored (a duplicate of a stored instance included) or failed',
    });
    this.stowBytes = new client.Counter({
      name: 'lucida_stow_received_bytes_total', registers,
      help: 'Bytes of the DICOM instances and photographs received by STOW-RS (the parts read, not the multipart framing)',
    });
    this.captureFiles = new client.Counter({
      name: 'lucida_capture_files_total', registers, labelNames: ['outcome'],
      help: 'Files received by the capture API, by outcome: accepted (kept for conversion) or rejected (not a usable image)',
    });
    this.captureBytes = new client.Counter({
      name: 'lucida_capture_received_bytes_total', registers, help: 'Bytes of the files received by the capture API',
    });
    this.jobs = new client.Counter({
      name: 'lucida_jobs_total', registers, labelNames: ['queue', 'outcome'],
      help: 'Job attempts this process\'s worker finished, by queue and outcome (completed, failed: a failed attempt is retried until its retry limit)',
    });
    this.storeErrors = new client.Counter({
      name: 'lucida_object_store_errors_total', registers, labelNames: ['operation'],
      help: 'Object store operations that failed, by operation (an absent object asked for is an answer, not an error)',
    });
    this.storeDuration = new client.Histogram({
      name: 'lucida_object_store_operation_duration_seconds', registers, labelNames: ['operation'], buckets: STORE_BUCKETS,
      help: 'Object store operation time, by operation (get: until the object is open for reading)',
    });

    // Known label values start at 0, so that rate() and alerts see the first increment.
    for (const outcome of ['stored', 'failed']) this.stowInstances.inc({ outcome }, 0);
    for (const outcome of ['accepted', 'rejected']) this.captureFiles.inc({ outcome }, 0);
    for (const operation of STORE_OPERATIONS) this.storeErrors.inc({ operation }, 0);

    const sources = () => this.sources;
    // The two queue gauges are collected together (prom-client collects concurrently): one query for both.
    let reading: Promise<QueueCounts[] | undefined> | undefined;
    const queueCounts = () => (reading ??= readQueues(this.sources, this.log, queueQueryTimeoutMs).finally(() => { reading = undefined; }));
    new client.Gauge({
      name: 'lucida_queue_jobs', registers, labelNames: ['queue', 'state'],
      help: 'Jobs per queue and state (ready, deferred, blocked, active) as last counted by pg-boss\'s monitor (at most a minute old)',
      async collect() {
        this.reset(); // a queue that could not be read is left out, not reported with stale values
        const queues = await queueCounts();
        for (const q of queues ?? []) {
          if (q.name.startsWith(PG_BOSS_INTERNAL)) continue;
          for (const [state, field] of Object.entries(QUEUE_STATES)) this.set({ queue: q.name, state }, Number(q[field]) || 0);
        }
      },
    });
    new client.Gauge({
      name: 'lucida_queue_oldest_ready_seconds', registers, labelNames: ['queue'],
      help: 'How long the oldest ready job of each queue had waited at pg-boss\'s last monitor pass',
      async collect() {
        this.reset();
        const queues = await queueCounts();
        for (const q of queues ?? []) if (!q.name.startsWith(PG_BOSS_INTERNAL) && typeof q.readyOldestSeconds === 'number') this.set({ queue: q.name }, q.readyOldestSeconds);
      },
    });
    new client.Gauge({
      name: 'lucida_db_pool_connections', registers, labelNames: ['state'],
      help: 'Connections of this process\'s index database pool, by state (idle, in_use)',
      collect() {
        this.reset();
        const pool = sources().pool;
        if (!pool) return;
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
      },
    });
    new client.Gauge({
      name: 'lucida_db_pool_waiting_requests', registers,
      help: 'Queries waiting for a free connection of this process\'s index database pool',
      collect() {
        this.reset();
        const pool = sources().pool;
        if (pool) this.set(pool.waitingCount);
      },
    });
  }

  /** What the scrape-time collectors read (pg-boss, the pool): given once they exist. */
  observe(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status_code: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  stowInstance(outcome: 'stored' | 'failed'): void {
    this.stowInstances.inc({ outcome });
  }

  stowReceived(bytes: number): void {
    this.stowBytes.inc(bytes);
  }

  captureFile(file: { sizeBytes: number; rejected?: unknown }): void {
    this.captureFiles.inc({ outcome: file.rejected ? 'rejected' : 'accepted' });
    this.captureBytes.inc(file.sizeBytes);
  }

  jobSettled(queue: string, outcome: 'completed' | 'failed'): void {
    this.jobs.inc({ queue, outcome });
  }

  storeOperation(operation: StoreOperation, seconds: number, failed: boolean): void {
    if (operation !== 'list') this.storeDuration.observe({ operation }, seconds);
    if (failed) this.storeErrors.inc({ operation });
  }

  /** The Content-Type of scrape(): Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus text format; collectors that fail leave their samples out. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}

/** pg-boss's queue counts, or undefined when they cannot be read now (the database away, slow). */
async function readQueues(sources: MetricSources, log: Logger, timeoutMs: number): Promise<QueueCounts[] | undefined> {
  if (!sources.queues) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      sources.queues.getQueues(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    log.debug({ err }, 'queue depth not available for this scrape');
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
