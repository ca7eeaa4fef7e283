/**
 * Process liveness (core/index/process-liveness.ts) and what reconciliation does with it: a pending
 * row whose owner process holds its advisory lock is left alone; one whose owner's session has ended
 * (the process died) is removed at once, with its object, whatever its age; one without an owner is
 * left until PENDING_TIMEOUT_SECONDS. A re-send of an instance whose first attempt died with its
 * process is stored at once. A lock connection that stops answering (its backend frozen, as a vanished
 * host) is found by the ping, and the lock taken again once its old session is gone. Real Postgres,
 * real filesystem store; "other processes" are separate sessions holding (or having held) their own
 * locks, as a separate process does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { testLogger } from '../helpers/server.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { waitFor } from '../helpers/wait.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { PostgresInstanceIndex } from '../../services/core/index/postgres-index.js';
import { PostgresPendingRows } from '../../services/core/index/postgres-pending.js';
import { startProcessLiveness, type ProcessLiveness } from '../../services/core/index/process-liveness.js';
import { tryProcessLockSql } from '../../services/core/index/sql/liveness.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { newUid, parsePart10 } from '../../services/core/dicom/index.js';
import { FailureReason, ingestInstance } from '../../services/core/ingest/ingest-instance.js';
import { reconcilePending } from '../../services/worker/reconcile.js';

describe('process liveness and abandoned stores', () => {
  let db: TestDatabase;
  let root: string;
  let store: FsObjectStore;
  let index: PostgresInstanceIndex;
  let pending: PostgresPendingRows;
  /** This test's own "process". */
  let self: ProcessLiveness;
  const { log, lines } = testLogger('info');

  beforeAll(async () => {
    db = await startTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'lucida-liveness-'));
    store = new FsObjectStore(root);
    await store.init();
    index = new PostgresInstanceIndex(db.pool);
    pending = new PostgresPendingRows(db.pool);
    self = await startProcessLiveness({ database: db.url, log, retryMs: { first: 100, max: 400 } });
  });
  afterAll(async () => {
    await self?.stop();
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => { await db.pool.query('DELETE FROM instances'); });

  /** A process id whose lock was taken by a session that has since ended: a process that died. */
  async function deadProcess(): Promise<string> {
    const id = randomUUID();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    expect((await client.query(tryProcessLockSql(id))).rows[0].locked).toBe(true);
    await client.end();
    return id;
  }

  /** What a crash after phase 2 leaves: a pending row (owned by `owner`) and its object, `ageSeconds` old. */
  async function abandon(owner: string | undefined, ageSeconds = 1): Promise<{ sop: string; key: string }> {
    const sop = newUid();
    const key = `instances/1.2.3/4.5.6/${sop}.0a0b0c0d0e0f.dcm`;
    await index.reservePending({
      sopInstanceUID: sop, sopClassUID: '1.2.840.10008.5.1.4.1.1.7', studyInstanceUID: '1.2.3', seriesInstanceUID: '4.5.6',
      transferSyntaxUID: '1.2.840.10008.1.2.1', objectKey: key, sizeBytes: 4, sha256: 'x', owner,
    });
    await store.put(key, Buffer.from('DICM'));
    await db.pool.query('UPDATE instances SET received_at = now() - make_interval(secs => $2) WHERE sop_uid = $1', [sop, ageSeconds]);
    return { sop, key };
  }
  const rowCount = async (sop: string) =>
    (await db.pool.query('SELECT count(*)::int AS n FROM instances WHERE sop_uid = $1', [sop])).rows[0].n;
  const reconcile = (processId = self.processId) => reconcilePending({ pending, store, log, olderThanSeconds: 900, processId });

  it('holds a bigint advisory lock keyed by its process id, in its own key space', async () => {
    const { rows } = await db.pool.query<{ classid: string; objid: string; objsubid: number; application_name: string }>(
      `SELECT l.classid::bigint::text AS classid, l.objid::bigint::text AS objid, l.objsubid, a.application_name
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`, [`lucida ${self.processId}`]);
    expect(rows).toHaveLength(1);
    const key = BigInt(`0x4c70${self.processId.replace(/-/g, '').slice(-12)}`);
    expect(rows[0]).toMatchObject({ classid: String(key >> 32n), objid: String(key & 0xffffffffn), objsubid: 1 });
    // High half 0x4c70xxxx: never that of the migration lock (0) nor of a hashtext() key (0 or 0xffffffff).
    expect(Number(key >> 48n)).toBe(0x4c70);
    expect(self.held).toBe(true);
  });

  it('leaves a live process\'s row, removes a dead process\'s at once, leaves a young row without an owner', async () => {
    const other = await startProcessLiveness({ database: db.url, log });
    try {
      const live = await abandon(other.processId);
      const dead = await abandon(await deadProcess());
      const unowned = await abandon(undefined);
      const report = await reconcile();
      expect(report).toEqual({ examined: 1, rowsRemoved: 1, objectsDeleted: 1, deadOwners: 1, failed: 0 });
      expect(await rowCount(dead.sop)).toBe(0);
      expect(await store.exists(dead.key)).toBeNull();
      for (const kept of [live, unowned]) {
        expect(await rowCount(kept.sop)).toBe(1);
        expect(await store.exists(kept.key)).not.toBeNull();
      }
      expect(lines.some((l) => l.includes('"msg":"reconciled abandoned stores"') && l.includes('"deadOwners":1'))).toBe(true);

      // The same process, dead now: its row goes on the next pass.
      await other.stop();
      expect(await reconcile()).toMatchObject({ rowsRemoved: 1, deadOwners: 1 });
      expect(await rowCount(live.sop)).toBe(0);
      // An old row goes whoever owns it (rows of before the migration have none).
      await db.pool.query("UPDATE instances SET received_at = now() - interval '1 hour' WHERE sop_uid = $1", [unowned.sop]);
      expect(await reconcile()).toMatchObject({ rowsRemoved: 1, deadOwners: 0 });
    } finally {
      await other.stop();
    }
  });

  it('never treats the reconciling process\'s own rows as abandoned by a dead owner', async () => {
    const id = await deadProcess();
    const row = await abandon(id);
    // Reconciling as that process (e.g. its liveness connection is being re-established): left.
    expect(await reconcile(id)).toMatchObject({ examined: 0, rowsRemoved: 0 });
    expect(await rowCount(row.sop)).toBe(1);
  });

  it('holds a removed row locked until its object is gone, so its request cannot commit it', async () => {
    const id = await deadProcess();
    const photo = parsePart10(await makeVlPhoto());
    const key = `instances/${photo.studyInstanceUID}/${photo.seriesInstanceUID}/${photo.sopInstanceUID}.aaaaaaaaaaaa.dcm`;
    await index.reservePending({
      sopInstanceUID: photo.sopInstanceUID, sopClassUID: photo.sopClassUID, studyInstanceUID: photo.studyInstanceUID,
      seriesInstanceUID: photo.seriesInstanceUID, transferSyntaxUID: photo.transferSyntaxUID, objectKey: key, sizeBytes: 1, sha256: 'x', owner: id,
    });
    const [listed] = await pending.listAbandoned({ olderThanSeconds: 900 }, 10);
    expect(listed).toEqual({ sopInstanceUID: photo.sopInstanceUID, objectKey: key, owner: id });

    // The store fails: the row comes back, and its (in fact live) request may still commit it.
    await expect(pending.removeIfAbandoned(listed, { olderThanSeconds: 900 }, async () => { throw new Error('store down'); }))
      .rejects.toThrow('store down');
    expect(await rowCount(photo.sopInstanceUID)).toBe(1);

    // The object is being removed: a concurrent commit waits for the removal, then finds no row of its own.
    let releaseObject!: () => void;
    const objectGone = new Promise<void>((resolve) => { releaseObject = resolve; });
    let removing!: () => void;
    const inRemoveObject = new Promise<void>((resolve) => { removing = resolve; });
    const removal = pending.removeIfAbandoned(listed, { olderThanSeconds: 900 }, async () => { removing(); await objectGone; });
    await inRemoveObject;
    let committed: unknown;
    const commit = index.commitStored(photo.sopInstanceUID, key, photo.metadata).then((r) => { committed = r; });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(committed).toBeUndefined(); // blocked on the row
    releaseObject();
    expect(await removal).toEqual({ removed: true, ownerDead: true });
    await commit;
    expect(committed).toEqual({ committed: false, reason: 'not-pending' });
    expect(await rowCount(photo.sopInstanceUID)).toBe(0);
  });

  it('stores a re-send at once when the first attempt\'s process died; refuses it while that process lives', async () => {
    const bytes = await makeVlPhoto();
    const photo = parsePart10(bytes);
    const deps = { index, store, log, pendingTimeoutSeconds: 900, processId: self.processId };
    const firstAttempt = async (owner: string) => {
      const key = `instances/${photo.studyInstanceUID}/${photo.seriesInstanceUID}/${photo.sopInstanceUID}.bbbbbbbbbbbb.dcm`;
      await index.reservePending({
        sopInstanceUID: photo.sopInstanceUID, sopClassUID: photo.sopClassUID, studyInstanceUID: photo.studyInstanceUID,
        seriesInstanceUID: photo.seriesInstanceUID, transferSyntaxUID: photo.transferSyntaxUID, objectKey: key,
        sizeBytes: bytes.length, sha256: 'x', owner,
      });
      await store.put(key, bytes);
      return key;
    };

    const other = await startProcessLiveness({ database: db.url, log });
    try {
      await firstAttempt(other.processId);
      expect(await ingestInstance(deps, bytes)).toMatchObject({ status: 'failed', reason: FailureReason.ProcessingFailure });
    } finally {
      await other.stop();
    }
    // Its process has died: taken over now, not after 900 s; the first attempt's object is removed.
    const outcome = await ingestInstance(deps, bytes);
    expect(outcome).toMatchObject({ status: 'stored', duplicate: false });
    const { rows } = await db.pool.query('SELECT status, object_key, owner FROM instances WHERE sop_uid = $1', [photo.sopInstanceUID]);
    expect(rows).toEqual([{ status: 'stored', object_key: expect.not.stringContaining('bbbbbbbbbbbb'), owner: self.processId }]);
    expect(await store.exists(`instances/${photo.studyInstanceUID}/${photo.seriesInstanceUID}/${photo.sopInstanceUID}.bbbbbbbbbbbb.dcm`)).toBeNull();
  });

  it('takes its lock again after losing its connection, and logs both', async () => {
    // Given the pool rather than its URL: the dedicated connection copies the pool's settings.
    const live = await startProcessLiveness({ database: db.pool, log, retryMs: { first: 100, max: 400 } });
    try {
      const row = await abandon(live.processId);
      const { rows: [{ pid }] } = await db.pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`lucida ${live.processId}`]);
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await waitFor(() => live.held, (held) => !held, { timeoutMs: 5000, intervalMs: 20 })).toBe(false);
      expect(await waitFor(() => live.held, (held) => held, { timeoutMs: 10_000, intervalMs: 50 })).toBe(true);
      const logged = (msg: string) => lines.filter((l) => l.includes(`"msg":"${msg}`) && l.includes(live.processId));
      expect(logged('process liveness lock lost')).toHaveLength(1);
      expect(logged('process liveness lock re-taken')).toHaveLength(1);
      // Alive again: its row is its own in-flight request.
      expect(await reconcile()).toMatchObject({ rowsRemoved: 0 });
      expect(await rowCount(row.sop)).toBe(1);
    } finally {
      await live.stop();
    }
  });
  it('notices a connection that stops answering (its backend frozen, as a vanished host) and takes its lock again', async () => {
    // Pinged every 200 ms, 500 ms to answer (in production 10 s and 5 s).
    const live = await startProcessLiveness({ database: db.url, log, retryMs: { first: 100, max: 400 }, ping: { everyMs: 200, timeoutMs: 500 } });
    let frozen: number | undefined;
    try {
      const { rows: [{ pid }] } = await db.pool.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE application_name = $1', [`lucida ${live.processId}`]);
      // SIGSTOP: the session stays open and its socket stays up, but nothing answers (as a host that
      // vanished without closing its sockets). No 'end', no 'error' reaches the client.
      process.kill(pid, 'SIGSTOP');
      frozen = pid;
      const t = Date.now();
      expect(await waitFor(() => live.held, (held) => !held, { timeoutMs: 5000, intervalMs: 20 })).toBe(false);
      const noticedMs = Date.now() - t;
      expect(lines.some((l) => l.includes('"msg":"process liveness lock lost') && l.includes(live.processId) && l.includes('Query read timeout'))).toBe(true);
      // The frozen session still holds the lock: it cannot be taken again yet.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(live.held).toBe(false);
      process.kill(pid, 'SIGCONT');
      frozen = undefined;
      // Thawed, the backend finds its client gone, ends, and releases the lock: taken again.
      expect(await waitFor(() => live.held, (held) => held, { timeoutMs: 10_000, intervalMs: 50 })).toBe(true);
      console.log(`liveness: a frozen backend noticed in ${noticedMs} ms (ping every 200 ms, 500 ms timeout)`);
    } finally {
      if (frozen) process.kill(frozen, 'SIGCONT');
      await live.stop();
    }
  });

  it('pings on a timer that keeps no process alive, and stops with it', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const live = await startProcessLiveness({ database: db.url, log, ping: { everyMs: 50, timeoutMs: 500 } });
    const name = `lucida ${live.processId}`;
    const sessions = async () => (await db.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0].n;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(live.held).toBe(true);
    expect(timers()).toBe(before); // the ping's timer is unref'd
    await live.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Neither a ping nor a reconnection after stop(): no session under its name, nothing lost.
    expect(await sessions()).toBe(0);
    expect(lines.some((l) => l.includes('process liveness lock lost') && l.includes(live.processId))).toBe(false);
  });
});
