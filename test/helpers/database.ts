/**
 * A real Postgres for tests: one embedded server per test file (jest worker), migrated.
 * Use `resetDatabase(pool)` between cases that need an empty index.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { createPool, migrate, startEmbeddedPostgres } from '../../services/core/index/database.js';
import { freePort } from './net.js';

export interface TestDatabase { url: string; pool: pg.Pool; dataDir: string; stop(): Promise<void> }

export async function startTestDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-test-'));
  const db = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  const pool = createPool(db.url, 10);
  await migrate(pool);
  return {
    url: db.url,
    pool,
    dataDir,
    async stop() {
      await pool.end();
      await db.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function resetDatabase(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE instances, series, studies, patients RESTART IDENTITY CASCADE');
}
