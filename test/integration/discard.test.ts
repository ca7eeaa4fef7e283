/**
 * No failure leaves an object that nothing names: when a store write fails with an unknown outcome
 * (the object may still land, as an S3 PUT whose answer was lost can), or an object cannot be
 * deleted when a store is undone, its removal is queued as a discard-object job (real pg-boss), and
 * the pending row goes only once that is in hand; the job never removes an object the index names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { newUid } from '../../services/core/dicom/index.js';
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { FailureReason, ingestInstance, type IngestDeps } from '../../services/core/ingest/ingest-instance.js';
import { PgBossQueue } from '../../services/core/queue/pg-boss-queue.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { discardObject } from '../../services/worker/discard-object.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { testLogger } from '../helpers/server.js';

describe('objects a failed store leaves behind', () => {
  let db: TestDatabase;
  let root: string;
  let store: FaultyStore;
  let queue: PgBossQueue;
  let deps: IngestDeps;
  const { log } = testLogger('silent');

  beforeAll(async () => {
    db = await startTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'lucida-discard-'));
    store = new FaultyStore(new FsObjectStore(root), { landBeforeFailing: true });
    queue = await PgBossQueue.start({ databaseUrl: db.url, log, retry: { retryLimit: 1, retryDelaySeconds: 0, heartbeatSeconds: 30 } });
    deps = { index: new PostgresInstanceIndex(db.pool), store, log, pendingTimeoutSeconds: 900, queue };
  });
  afterAll(async () => {
    await queue?.stop();
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(() => {
    store.failures = 0;
    store.failDeletes = false;
  });

  const discardJobs = async () => (await db.pool.query<{ key: string; delay: number }>(
    `SELECT data->>'objectKey' AS key, extract(epoch FROM start_after - created_on)::int AS delay
     FROM pgboss.job WHERE name = 'discard-object' AND state = 'created' ORDER BY created_on`)).rows;
  const rows = async (sop: string) => (await db.pool.query('SELECT status, object_key FROM instances WHERE sop_uid = $1', [sop])).rows;
  const worker = () => ({ store, inventory: new PostgresInventory(db.pool), log });
  const clearJobs = () => db.pool.query("DELETE FROM pgboss.job WHERE name = 'discard-object'");

  it('removes a write whose answer was lost now, and looks for it again later', async () => {
    await clearJobs();
    const sop = newUid();
    store.failures = 1;
    const outcome = await ingestInstance(deps, await makeVlPhoto({ sopUID: sop }));
    expect(outcome).toMatchObject({ status: 'failed', reason: FailureReason.OutOfResources });
    expect(await rows(sop)).toEqual([]);
    const [job, ...more] = await discardJobs();
    expect(more).toEqual([]);
    expect(job.key).toMatch(new RegExp(`/${sop.replace(/\./g, '\\.')}\\.[0-9a-f]+\\.dcm$`));
    expect(job.delay).toBeGreaterThanOrEqual(290);
    expect(await store.exists(job.key)).toBeNull(); // deleted at once too
  });

  it('queues the removal when an undone store\'s object cannot be deleted, and the job removes it later', async () => {
    await clearJobs();
    // A study stored under one patient; an instance naming it under another is refused at commit (undo).
    const study = newUid();
    expect(await ingestInstance(deps, await makeVlPhoto({ studyUID: study, patientID: 'DISCARD1' }))).toMatchObject({ status: 'stored' });
    const sop = newUid();
    store.failDeletes = true;
    const outcome = await ingestInstance(deps, await makeVlPhoto({ studyUID: study, sopUID: sop, patientID: 'DISCARD2' }));
    expect(outcome).toMatchObject({ status: 'failed', reason: FailureReason.DataSetDoesNotMatchSopClass });
    expect(await rows(sop)).toEqual([]); // the row went: the object's removal is queued
    const [job] = await discardJobs();
    expect(await store.exists(job.key)).not.toBeNull();
    expect(job.delay).toBeLessThanOrEqual(60);

    await expect(discardObject(worker(), { objectKey: job.key })).rejects.toThrow('store unavailable'); // retried by pg-boss
    store.failDeletes = false;
    await discardObject(worker(), { objectKey: job.key });
    expect(await store.exists(job.key)).toBeNull();
  });

  it('keeps the pending row, naming its object, when neither the delete nor the queue is possible', async () => {
    const sop = newUid();
    store.failures = 1;
    store.failDeletes = true;
    const outcome = await ingestInstance({ ...deps, queue: undefined }, await makeVlPhoto({ sopUID: sop }));
    expect(outcome).toMatchObject({ status: 'failed', reason: FailureReason.OutOfResources });
    const [row] = await rows(sop);
    expect(row.status).toBe('pending'); // reconciliation removes both
    expect(await store.exists(row.object_key)).not.toBeNull();
  });

  it('never removes an object the index names', async () => {
    const sop = newUid();
    expect(await ingestInstance(deps, await makeVlPhoto({ sopUID: sop }))).toMatchObject({ status: 'stored' });
    const [row] = await rows(sop);
    await discardObject(worker(), { objectKey: row.object_key });
    expect(await store.exists(row.object_key)).not.toBeNull();
  });
});
