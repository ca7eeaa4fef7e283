/**
 * Composition root: builds adapters from config and starts the roles. Nothing else constructs
 * adapters. Used by cli.ts and by tests that need a whole running server.
 */
import type http from 'node:http';
import type { Logger } from 'pino';
import type pg from 'pg';
import { buildApp } from './api/app.js';
import { listenHttp } from './api/http/listen.js';
import type { Config } from './core/config.js';
import type { AuditLog } from './core/audit/types.js';
import { createTokenVerifier, loadOrCreateLocalKey, loadSessionKey, type TokenVerifier } from './core/auth/tokens.js';
import { PostgresAuditLog } from './core/index/postgres-audit.js';
import { PostgresLaunchRepository } from './core/index/postgres-launches.js';
import { PostgresAnnotationRepository } from './core/index/postgres-annotations.js';
import { PostgresTimeline } from './core/index/postgres-timeline.js';
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from './core/index/database.js';
import { PostgresInstanceIndex } from './core/index/postgres-index.js';
import { PostgresPendingRows } from './core/index/postgres-pending.js';
import { PostgresInventory } from './core/index/postgres-inventory.js';
import { isProcessAlive, startProcessLiveness } from './core/index/process-liveness.js';
import { reconcilePending } from './worker/reconcile.js';
import { PostgresCaptureRepository } from './core/index/postgres-captures.js';
import { PgBossQueue } from './core/queue/pg-boss-queue.js';
import { createObjectStore } from './core/storage/create-store.js';
import { instrumentStore } from './core/storage/instrumented-store.js';
import { Metrics } from './core/metrics.js';
import { startOpsServer } from './worker/ops-server.js';
import { startWorker, type Worker } from './worker/worker.js';

export type Role = 'api' | 'worker';

export interface Runtime {
  url?: string;
  server?: http.Server;
  pool: pg.Pool;
  /** The API role's audit log: flush() resolves when every event appended so far is durable. */
  audit?: AuditLog;
  /** This runtime's metrics (served at /metrics by the API, or by the ops server of a worker-only process). */
  metrics: Metrics;
  /** A worker-only process's ops server (/healthz, /readyz, /metrics). */
  opsUrl?: string;
  stop(): Promise<void>;
}

/**
 * Replacements for the API's verifier and audit log. Code only, never configuration: the benchmark
 * uses them to measure what authentication and audit cost (test/bench/bare-server.ts).
 */
export interface RuntimeOverrides { verifier?: TokenVerifier; audit?: AuditLog }

export async function startRuntime(config: Config, log: Logger, roles: Role[], overrides: RuntimeOverrides = {}): Promise<Runtime> {
  // What has been started, stopped in reverse order: by stop(), or at once when start-up fails half way.
  const started: (() => Promise<unknown>)[] = [];
  const stopAll = async () => { for (const stop of started.reverse()) await stop(); };
  try {
    return await start(config, log, roles, started, stopAll, overrides);
  } catch (err) {
    await stopAll().catch((e) => log.error({ err: e }, 'could not stop after a failed start'));
    throw err;
  }
}

async function start(config: Config, log: Logger, roles: Role[], started: (() => Promise<unknown>)[],
  stopAll: () => Promise<void>, overrides: RuntimeOverrides): Promise<Runtime> {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    log.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'starting embedded Postgres');
    const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
      dataDir: config.dataDir, port: config.embeddedPostgresPort, onLog: (line) => log.debug({ postgres: line }),
    });
    started.push(() => embedded.stop());
    databaseUrl = embedded.url;
  }
  // Migrations on a connection of their own, without a time limit: one on a big table may take minutes.
  const migrations = createPool(databaseUrl, 1);
  const applied = await migrate(migrations).finally(() => migrations.end());
  if (applied.length) log.info({ applied }, 'migrations applied');
  // Serving queries have a bound, so that one sent to a database host that vanished (failover,
  // network cut) fails in 2 minutes with a 503, not after TCP's ~15. No legitimate one comes near it:
  // requests read at most 1,000 rows (QIDO, timeline, annotations, audit search) through indexes; the
  // slowest, an audit search on an unindexed filter (action, outcome) that matches nothing, scans the
  // trail at about a million rows a second; the audit writer's batch has its own 15 s
  // statement_timeout; reconciliation works row by row. A wait on a lock held by a frozen peer ends too.
  const pool = createPool(databaseUrl, config.dbPoolMax, { queryTimeoutMs: 120_000 });
  started.push(() => pool.end());
  const metrics = new Metrics(log);
  metrics.observe({ pool });
  // This process's liveness lock, held until the very end (stopped after the roles, before the pool).
  const liveness = await startProcessLiveness({ database: databaseUrl, log });
  started.push(() => liveness.stop());

  const store = await createObjectStore(config, log, {
    processId: liveness.processId, isAlive: (id) => isProcessAlive(pool, id),
  });
  // Every store call of both roles is measured (durations, errors) through this one.
  const objects = instrumentStore(store, metrics);
  const index = new PostgresInstanceIndex(pool);
  const captures = new PostgresCaptureRepository(pool);
  // One pg-boss per process: the API sends jobs, the worker role also works them.
  const queue = await PgBossQueue.start({ databaseUrl, log, retry: { ...config.photos, heartbeatSeconds: config.jobHeartbeatSeconds } });
  started.push(() => queue.stop());
  metrics.observe({ queues: queue.boss });
  const ingest = { index, store: objects, log, pendingTimeoutSeconds: config.pendingTimeoutSeconds, queue, processId: liveness.processId };
  // Every process reconciles at start: what a killed process left (pending rows of a dead owner, and
  // their objects) goes now, not after PENDING_TIMEOUT_SECONDS. A failure here is not fatal.
  await reconcilePending({
    pending: new PostgresPendingRows(pool), store: ingest.store, log, olderThanSeconds: config.pendingTimeoutSeconds,
    processId: liveness.processId,
  }).catch((err) => log.warn({ err }, 'reconciliation at start failed; the worker retries every five minutes'));

  if (roles.includes('worker')) {
    const workerLog = log.child({ role: 'worker' });
    const worker: Worker = await startWorker({
      queue, pending: new PostgresPendingRows(pool), inventory: new PostgresInventory(pool), captures, ingest: { ...ingest, log: workerLog }, log: workerLog,
      maxPixels: config.photos.maxPixels, concurrency: config.photos.convertConcurrency, metrics,
    });
    started.push(() => worker.stop());
  }

  const checkReady = async () => {
    await pool.query('SELECT 1');
    await objects.exists('readiness-probe');
    // Without its lock this process looks dead to the others, whose reconciliation may then take its
    // stores in flight (they fail safely, never with a 200): take no new work until it is back.
    if (!liveness.held) throw new Error('process liveness lock not held (reconnecting to the database)');
  };
  let opsUrl: string | undefined;
  if (!roles.includes('api')) {
    // A worker-only process still answers probes and scrapes (Kubernetes, Prometheus).
    const ops = await startOpsServer({ config, log: log.child({ role: 'worker' }), metrics, checkReady });
    started.push(() => ops.stop());
    opsUrl = ops.url;
  }

  let server: http.Server | undefined;
  let url: string | undefined;
  let auditLog: AuditLog | undefined;
  if (roles.includes('api')) {
    const localKey = config.auth.jwksUrl ? undefined : await loadOrCreateLocalKey(config.dataDir);
    const sessionKey = await loadSessionKey(config);
    const verifier = overrides.verifier
      ?? createTokenVerifier({ ...config.auth, localPublicJwk: localKey?.publicJwk, sessionPublicJwk: sessionKey.publicJwk });
    const audit = overrides.audit ?? new PostgresAuditLog(pool, log.child({ component: 'audit' }));
    auditLog = audit;
    // Registered before the server's stop, so it runs after it: the last requests' events are written.
    started.push(() => audit.close());
    const app = buildApp({
      config, index, store: objects, verifier, log, captures, queue, audit, sessionKey, metrics, checkReady,
      launches: new PostgresLaunchRepository(pool),
      timeline: new PostgresTimeline(pool),
      annotations: new PostgresAnnotationRepository(pool),
      processId: liveness.processId,
    });
    // Large STOW bodies may take minutes: no whole-request deadline (an idle socket is still dropped).
    // On stop, requests in flight may finish for up to 10 s; then what is left is closed.
    const listening = await listenHttp(app, config, { requestTimeoutMs: 0, drainMs: 10_000 });
    started.push(() => listening.close());
    server = listening.server;
    url = listening.url;
  }

  let stopping: Promise<void> | undefined;
  return {
    url, server, pool, audit: auditLog, metrics, opsUrl,
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
