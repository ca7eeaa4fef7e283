/**
 * Crash leftovers: a 'pending' row (and its object) left by a request that died between writing the
 * object and committing the index, older than PENDING_TIMEOUT_SECONDS, is removed by reconciliation,
 * also as the worker's reconcile-pending job (real pg-boss). Rows of dead owner processes:
 * liveness.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testLogger } from '../helpers/server.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import { PostgresPendingRows } from '../../services/core/index/postgres-pending.js';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { newUid } from '../../services/core/dicom/index.js';
import { reconcilePending } from '../../services/worker/reconcile.js';
import { startWorker } from '../../services/worker/worker.js';
import { PgBossQueue } from '../../services/core/queue/pg-boss-queue.js';
import { PostgresCaptureRepository } from '../../services/core/index/postgres-captures.js';
import { waitFor } from '../helpers/wait.js';

describe('reconciliation of abandoned stores', () => {
  let db: TestDatabase;
  let root: string;
  let store: FsObjectStore;
  let index: PostgresInstanceIndex;
  const { log } = testLogger('silent');

  beforeAll(async () => {
    db = await startTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'lucida-reconcile-'));
    store = new FsObjectStore(root);
    await store.init();
    index = new PostgresInstanceIndex(db.pool);
  });
  afterAll(async () => {
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Leaves what a crash after phase 2 leaves: a pending row and its object, `ageSeconds` old. */
  async function abandon(ageSeconds: number): Promise<{ sop: string; key: string }> {
    const sop = newUid();
    const key = `instances/1.2.3/4.5.6/${sop}.0a0b0c0d0e0f.dcm`;
    await index.reservePending({
      sopInstanceUID: sop, sopClassUID: '1.2.840.10008.5.1.4.1.1.7', studyInstanceUID: '1.2.3', seriesInstanceUID: '4.5.6',
      transferSyntaxUID: '1.2.840.10008.1.2.1', objectKey: key, sizeBytes: 4, sha256: 'x',
    });
    await store.put(key, Buffer.from('DICM'));
    await db.pool.query(`UPDATE instances SET received_at = now() - make_interval(secs => $2) WHERE sop_uid = $1`, [sop, ageSeconds]);
    return { sop, key };
  }
  const rowCount = async (sop: string) =>
    (await db.pool.query('SELECT count(*)::int AS n FROM instances WHERE sop_uid = $1', [sop])).rows[0].n;

  it('removes stale pending rows and their objects, and leaves recent ones alone', async () => {
    const stale = await abandon(3600);
    const fresh = await abandon(5);
    const report = await reconcilePending({ pending: new PostgresPendingRows(db.pool), store, log, olderThanSeconds: 900 });
    expect(report).toEqual({ examined: 1, rowsRemoved: 1, objectsDeleted: 1, deadOwners: 0, failed: 0 });
    expect(await rowCount(stale.sop)).toBe(0);
    expect(await store.exists(stale.key)).toBeNull();
    expect(await rowCount(fresh.sop)).toBe(1);
    expect(await store.exists(fresh.key)).not.toBeNull();
    await db.pool.query('DELETE FROM instances WHERE sop_uid = $1', [fresh.sop]);
  });

  it('removes a stale pending row whose object was never written (a crash before phase 2)', async () => {
    const stale = await abandon(3600);
    await store.delete(stale.key);
    const report = await reconcilePending({ pending: new PostgresPendingRows(db.pool), store, log, olderThanSeconds: 900 });
    expect(report).toEqual({ examined: 1, rowsRemoved: 1, objectsDeleted: 0, deadOwners: 0, failed: 0 });
    expect(await rowCount(stale.sop)).toBe(0);
  });

  it('leaves a row listed as stale that another request took over before it was deleted', async () => {
    const stale = await abandon(3600);
    const pending = new PostgresPendingRows(db.pool);
    const criteria = { olderThanSeconds: 900 };
    const [listed] = await pending.listAbandoned(criteria, 10);
    expect(listed).toEqual({ sopInstanceUID: stale.sop, objectKey: stale.key });
    const removeObject = () => store.delete(stale.key);
    const takeover = `instances/1.2.3/4.5.6/${stale.sop}.takeover.dcm`;
    expect(await index.replacePending({
      sopInstanceUID: stale.sop, sopClassUID: '1.2.840.10008.5.1.4.1.1.7', studyInstanceUID: '1.2.3', seriesInstanceUID: '4.5.6',
      transferSyntaxUID: '1.2.840.10008.1.2.1', objectKey: takeover, sizeBytes: 4, sha256: 'y',
    }, stale.key)).toBe(true);
    expect(await pending.removeIfAbandoned(listed, criteria, removeObject)).toEqual({ removed: false, ownerDead: false });
    // Even with the old key matching again, a fresh row is not stale.
    await db.pool.query('UPDATE instances SET object_key = $2 WHERE sop_uid = $1', [stale.sop, stale.key]);
    expect(await pending.removeIfAbandoned(listed, criteria, removeObject)).toEqual({ removed: false, ownerDead: false });
    expect(await store.exists(stale.key)).not.toBeNull();
    expect(await rowCount(stale.sop)).toBe(1);
    await db.pool.query('DELETE FROM instances WHERE sop_uid = $1', [stale.sop]);
    await store.delete(stale.key);
  });

  it('lets a slow original attempt neither commit nor undo a row another request has taken over', async () => {
    const { makeVlPhoto } = await import('../fixtures/dicom.js');
    const { parsePart10 } = await import('../../services/core/dicom/index.js');
    const sop = newUid();
    const parsed = parsePart10(await makeVlPhoto({ sopUID: sop }));
    const attempt = (key: string) => ({
      sopInstanceUID: sop, sopClassUID: parsed.sopClassUID, studyInstanceUID: parsed.studyInstanceUID,
      seriesInstanceUID: parsed.seriesInstanceUID, transferSyntaxUID: parsed.transferSyntaxUID, objectKey: key, sizeBytes: 1, sha256: key,
    });
    expect(await index.reservePending(attempt('slow-a'))).toEqual({ reserved: true });
    // B takes the row over (A looked abandoned); a third attempt naming A's key can no longer do so.
    expect(await index.replacePending(attempt('takeover-b'), 'slow-a')).toBe(true);
    expect(await index.replacePending(attempt('late-c'), 'slow-a')).toBe(false);
    // A finally finishes: its commit and its undo must not touch B's row.
    expect(await index.commitStored(sop, 'slow-a', parsed.metadata)).toEqual({ committed: false, reason: 'not-pending' });
    await index.deletePending(sop, 'slow-a');
    expect((await db.pool.query('SELECT status, object_key FROM instances WHERE sop_uid = $1', [sop])).rows)
      .toEqual([{ status: 'pending', object_key: 'takeover-b' }]);
    expect(await index.commitStored(sop, 'takeover-b', parsed.metadata)).toEqual({ committed: true });
    expect((await db.pool.query('SELECT status, object_key FROM instances WHERE sop_uid = $1', [sop])).rows)
      .toEqual([{ status: 'stored', object_key: 'takeover-b' }]);
  });

  it('runs as the worker\'s scheduled pg-boss job', async () => {
    const stale = await abandon(3600);
    const queue = await PgBossQueue.start({ databaseUrl: db.url, log, retry: { retryLimit: 1, retryDelaySeconds: 0, heartbeatSeconds: 30 } });
    const worker = await startWorker({
      queue, pending: new PostgresPendingRows(db.pool), inventory: new PostgresInventory(db.pool), captures: new PostgresCaptureRepository(db.pool), log,
      ingest: { index, store, log, pendingTimeoutSeconds: 900, queue }, maxPixels: 1e8, concurrency: 1,
    });
    try {
      const { rows: schedules } = await db.pool.query("SELECT cron FROM pgboss.schedule WHERE name = 'reconcile-pending'");
      expect(schedules).toEqual([{ cron: '*/5 * * * *' }]);
      // What the schedule sends every five minutes (the pass at start is the runtime's: crash.test.ts).
      await queue.boss.send('reconcile-pending', {});
      expect(await waitFor(() => rowCount(stale.sop), (n) => n === 0, { timeoutMs: 20_000, intervalMs: 200 })).toBe(0);
      expect(await store.exists(stale.key)).toBeNull();
      const { rows } = await db.pool.query(
        "SELECT state FROM pgboss.job WHERE name = 'reconcile-pending' ORDER BY created_on DESC LIMIT 1");
      expect(rows[0]?.state).toBe('completed');
    } finally {
      await worker.stop();
      await queue.stop();
    }
  });
});

describe('taking over an abandoned store through STOW', () => {
  it('replaces a stale pending attempt, removes its object and stores the new one', async () => {
    const { startTestServer, multipartBody } = await import('../helpers/server.js');
    const { makeVlPhoto } = await import('../fixtures/dicom.js');
    const srv = await startTestServer({ PENDING_TIMEOUT_SECONDS: '60' });
    try {
      const sop = newUid();
      const photo = await makeVlPhoto({ sopUID: sop });
      const staleKey = `instances/1.2.3/4.5.6/${sop}.deadbeef0000.dcm`;
      const objects = new FsObjectStore(path.join(srv.config.dataDir, 'objects'));
      await objects.put(staleKey, Buffer.from('half-written by a request that crashed'));
      await srv.runtime.pool.query(
        `INSERT INTO instances (sop_uid, status, study_uid, series_uid, sop_class_uid, transfer_syntax_uid, object_key, size_bytes, sha256, received_at)
         VALUES ($1, 'pending', '1.2.3', '4.5.6', '1.2.840.10008.5.1.4.1.1.77.1.4', '1.2.840.10008.1.2.4.50', $2, 38, 'x', now() - interval '1 hour')`,
        [sop, staleKey]);
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: photo }]);
      const token = await srv.token('photographer');
      const res = await (await import('supertest')).default(srv.url).post('/dicomweb/studies')
        .set('Authorization', `Bearer ${token}`).set('Content-Type', contentType).send(body);
      expect(res.status).toBe(200);
      expect(await objects.exists(staleKey)).toBeNull();
      const { rows } = await srv.runtime.pool.query('SELECT status, object_key FROM instances WHERE sop_uid = $1', [sop]);
      expect(rows).toHaveLength(1);
      expect(rows[0].status).toBe('stored');
      expect(await objects.exists(rows[0].object_key)).toEqual({ sizeBytes: photo.length });
    } finally {
      await srv.destroy();
    }
  });
});
