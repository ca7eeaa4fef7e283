/**
 * Composition root: builds adapters from config and starts the roles. Nothing else constructs
 * adapters. Used by cli.ts and by tests that need a whole running server.
 */
import http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import type pg from 'pg';
import { buildApp } from './api/app.js';
import type { Config } from './core/config.js';
import { createTokenVerifier, loadOrCreateLocalKey } from './core/auth/tokens.js';
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from './core/index/database.js';
import { PostgresInstanceIndex } from './core/index/postgres-index.js';
import { PostgresPendingRows } from './core/index/postgres-pending.js';
import { FsObjectStore } from './core/storage/fs-object-store.js';
import { startWorker, type Worker } from './worker/worker.js';

export type Role = 'api' | 'worker';

export interface Runtime {
  url?: string;
  server?: http.Server;
  pool: pg.Pool;
  stop(): Promise<void>;
}

export async function startRuntime(config: Config, log: Logger, roles: Role[]): Promise<Runtime> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    log.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'starting embedded Postgres');
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir, port: config.embeddedPostgresPort, onLog: (line) => log.debug({ postgres: line }),
    });
    databaseUrl = embedded.url;
  }
  const pool = createPool(databaseUrl, config.dbPoolMax);
  const applied = await migrate(pool);
  if (applied.length) log.info({ applied }, 'migrations applied');

  const store = new FsObjectStore(path.join(config.dataDir, 'objects'));
  await store.init();
  const index = new PostgresInstanceIndex(pool);

  let worker: Worker | undefined;
  if (roles.includes('worker')) {
    worker = await startWorker({
      databaseUrl, pending: new PostgresPendingRows(pool), store, log: log.child({ role: 'worker' }),
      pendingTimeoutSeconds: config.pendingTimeoutSeconds,
    });
  }

  let server: http.Server | undefined;
  let url: string | undefined;
  if (roles.includes('api')) {
    const localKey = config.auth.jwksUrl ? undefined : await loadOrCreateLocalKey(config.dataDir);
    const verifier = createTokenVerifier({ ...config.auth, localPublicJwk: localKey?.publicJwk });
    const app = buildApp({
      config, index, store, verifier, log,
      checkReady: async () => {
        await pool.query('SELECT 1');
        await store.exists('readiness-probe');
      },
    });
    server = http.createServer(app);
    // Large STOW bodies may take minutes: no whole-request deadline, but an idle socket is dropped.
    server.requestTimeout = 0;
    server.headersTimeout = 30_000;
    server.timeout = config.requestTimeoutSeconds * 1000;
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.port, config.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://localhost:${port}`;
  }

  let stopping: Promise<void> | undefined;
  return {
    url, server, pool,
    stop() {
      stopping ??= (async () => {
        if (server) {
          // Stop accepting; let in-flight requests finish (up to 10 s), then close what is left.
          const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
          server.closeIdleConnections();
          const timer = setTimeout(() => server!.closeAllConnections(), 10_000);
          await closed;
          clearTimeout(timer);
        }
        await worker?.stop();
        await pool.end();
        await embedded?.stop();
      })();
      return stopping;
    },
  };
}
