/**
 * The convert-photo worker on the real pg-boss and Postgres: retry after a transient failure,
 * dead-letter after repeated failure (with the reason in the capture status), and no duplicate
 * instance however often a job runs.
 *
 * The object store is the real FsObjectStore wrapped by a fault injector: the archive's own failure
 * (a full disk, an unreachable S3) is what these tests are about, and it cannot be provoked otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testLogger } from '../helpers/server.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { receivePhoto, submitCapture, newCaptureId } from '../../services/core/capture/capture-service.js';
import { parseCaptureMetadata } from '../../services/core/capture/index.js';
import { PostgresCaptureRepository } from '../../services/core/index/postgres-captures.js';
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import { PostgresPendingRows } from '../../services/core/index/postgres-pending.js';
import { PostgresInventory } from '../../services/core/index/postgres-inventory.js';
import { PgBossQueue } from '../../services/core/queue/pg-boss-queue.js';
import { DEAD_LETTER, JOBS } from '../../services/core/queue/jobs.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { convertCaptureFile } from '../../services/worker/convert-photo.js';
import { startWorker, type Worker } from '../../services/worker/worker.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { FaultyStore } from '../helpers/faulty-store.js';
import { waitFor } from '../helpers/wait.js';

const METADATA = {
  patient: { nhsNumber: '9449305552', name: { family: 'Worker', given: ['Test'] }, sex: 'M' },
  consent: { level: 'record', recordedBy: 'A Nurse' },
  groups: [{ bodySite: { code: '70559009' }, laterality: 'L' }],
};

describe('convert-photo on pg-boss', () => {
  let db: TestDatabase;
  let root: string;
  let store: FaultyStore;
  let queue: PgBossQueue;
  let worker: Worker;
  const { log } = testLogger('silent');
  let captures: PostgresCaptureRepository;
  let index: PostgresInstanceIndex;
  let jpeg: Buffer;

  beforeAll(async () => {
    db = await startTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'lucida-worker-'));
    const fs = new FsObjectStore(root);
    await fs.init();
    // Instance writes fail while `failures` > 0 (always when it is Infinity); uploads are never refused.
    store = new FaultyStore(fs, { failPut: (key) => key.startsWith('instances/') });
    captures = new PostgresCaptureRepository(db.pool);
    index = new PostgresInstanceIndex(db.pool);
    // Two retries, no delay: three attempts in all, then the dead-letter queue.
    queue = await PgBossQueue.start({ databaseUrl: db.url, log, retry: { retryLimit: 2, retryDelaySeconds: 0, heartbeatSeconds: 30 } });
    worker = await startWorker({
      queue, pending: new PostgresPendingRows(db.pool), inventory: new PostgresInventory(db.pool), captures, log, maxPixels: 1e8, concurrency: 2,
      ingest: { index, store, log, pendingTimeoutSeconds: 900, queue },
    });
    jpeg = await makeCameraJpeg({ width: 128, height: 96 });
  });
  afterAll(async () => {
    await worker?.stop();
    await queue?.stop();
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Accepts a one-photo capture the way the API does; returns its id. */
  async function capture(): Promise<string> {
    const id = newCaptureId();
    const parsed = parseCaptureMetadata(METADATA, ['a.jpg']);
    const upload = await receivePhoto({ store, maxPixels: 1e8 }, id, { fileIndex: 0, fileName: 'a.jpg', bytes: jpeg });
    await submitCapture({ captures, store, queue, log, maxPixels: 1e8 }, {
      id, source: 'capture-api', principal: { subject: 'photographer-1', roles: ['photographer'], kind: 'idp' },
      context: parsed.context, studyMode: 'existing', groups: [{ image: parsed.groups[0].image, files: [upload] }],
    });
    return id;
  }

  /** The capture once its file is stored or failed (or as it is after `timeoutMs`). */
  async function settled(id: string, timeoutMs = 20_000) {
    const c = await waitFor(async () => (await captures.findCapture(id))!,
      (cap) => cap.files[0].status === 'stored' || cap.files[0].status === 'failed', { timeoutMs });
    return { capture: c, file: c.files[0] };
  }

  /** States of every convert-photo job for the capture, once none is still to run (or after `timeoutMs`). */
  const convertJobStates = (id: string, timeoutMs = 20_000) => waitFor(
    async () => (await db.pool.query<{ state: string }>(
      `SELECT state FROM pgboss.job WHERE name = $1 AND data->>'captureId' = $2 ORDER BY created_on, id`, [JOBS.convertPhoto, id])).rows.map((r) => r.state),
    (states) => states.every((st) => st === 'completed' || st === 'failed'), { timeoutMs });

  const instancesOf = async (sop: string) =>
    (await db.pool.query('SELECT status FROM instances WHERE sop_uid = $1', [sop])).rows.map((r) => r.status);

  it('retries after a transient failure and then stores the photo once', async () => {
    store.failures = 1;
    const { file } = await settled(await capture());
    expect(file).toEqual(expect.objectContaining({ status: 'stored', attempts: 2 }));
    expect(await instancesOf(file.sopInstanceUID)).toEqual(['stored']);
  });

  it('dead-letters after repeated failure and shows why in the capture status', async () => {
    store.failures = Infinity;
    const id = await capture();
    const { file } = await settled(id);
    store.failures = 0;
    expect(file).toEqual(expect.objectContaining({
      status: 'failed', failure: 'processing', attempts: 3,
      reason: expect.stringMatching(/^conversion failed after 3 attempt\(s\): .*could not write/),
    }));
    // Nothing half-stored: no instance row, no pending row.
    expect(await instancesOf(file.sopInstanceUID)).toEqual([]);
    const dead = await waitFor(
      async () => (await db.pool.query(`SELECT data, state FROM pgboss.job WHERE name = $1 AND data->>'captureId' = $2`, [DEAD_LETTER.convertPhoto, id])).rows,
      (rows) => rows.length > 0 && rows[0].state === 'completed');
    expect(dead).toEqual([{ data: { captureId: id, fileIndex: 0 }, state: 'completed' }]);
    // The dead-letter handler ran after the last attempt: the file keeps that attempt's reason.
    expect((await captures.findCapture(id))!.files[0].reason).toBe(file.reason);
  });

  it('never creates a second instance: duplicated jobs, and a job re-run after a crash before its status was saved', async () => {
    const id = await capture();
    // The same job sent twice more while the first is queued.
    await queue.send(JOBS.convertPhoto, { captureId: id, fileIndex: 0 });
    await queue.send(JOBS.convertPhoto, { captureId: id, fileIndex: 0 });
    const { file } = await settled(id);
    expect(file.status).toBe('stored');
    // The file is stored once the first job to run finishes: wait for all three (the one the capture
    // sent and the two duplicates) to finish too, so a late duplicate cannot add an instance unseen.
    expect(await convertJobStates(id)).toEqual(['completed', 'completed', 'completed']);
    // A worker that died after ingesting but before marking the file stored: the job runs again.
    await db.pool.query("UPDATE capture_files SET status = 'converting' WHERE capture_id = $1", [id]);
    await convertCaptureFile({ captures, ingest: { index, store, log, pendingTimeoutSeconds: 900 }, log, maxPixels: 1e8 },
      { captureId: id, fileIndex: 0 }, { retryCount: 0, retryLimit: 2 });
    expect((await captures.findCapture(id))!.files[0].status).toBe('stored');
    expect(await instancesOf(file.sopInstanceUID)).toEqual(['stored']);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM instances WHERE study_uid = (SELECT study_uid FROM captures WHERE id = $1)', [id]);
    expect(rows[0].n).toBe(1);
  });

  it('takes over the pending row its own crashed attempt left, without waiting for the reconciliation timeout', async () => {
    store.failures = 0;
    const id = await capture();
    const { file } = await settled(id);
    // Make it look like an attempt that died between reserving the UID and committing: a fresh pending row.
    await db.pool.query("UPDATE instances SET status = 'pending', received_at = now() WHERE sop_uid = $1", [file.sopInstanceUID]);
    await db.pool.query("UPDATE capture_files SET status = 'converting' WHERE capture_id = $1", [id]);
    await convertCaptureFile({ captures, ingest: { index, store, log, pendingTimeoutSeconds: 900 }, log, maxPixels: 1e8 },
      { captureId: id, fileIndex: 0 }, { retryCount: 0, retryLimit: 2 });
    expect((await captures.findCapture(id))!.files[0].status).toBe('stored');
    expect(await instancesOf(file.sopInstanceUID)).toEqual(['stored']);
  });

  it('marks a file failed when its job reaches the dead-letter queue by any route (e.g. it expired)', async () => {
    const id = await capture();
    await settled(id);
    await db.pool.query("UPDATE capture_files SET status = 'converting' WHERE capture_id = $1", [id]);
    await queue.send(DEAD_LETTER.convertPhoto as never, { captureId: id, fileIndex: 0 } as never);
    const f = await waitFor(async () => (await captures.findCapture(id))!.files[0], (file) => file.status !== 'converting');
    expect(f).toEqual(expect.objectContaining({ status: 'failed', failure: 'processing', reason: expect.stringMatching(/gave up/) }));
  });
});
