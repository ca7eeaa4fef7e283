/**
 * Many processes, one database (issue 6, item 3): two API processes (`lucida serve`) and two worker
 * processes (`lucida worker`) as separate operating-system processes on ONE Postgres and ONE
 * filesystem store (a shared DATA_DIR, every process on DATABASE_URL), as a Trust runs them behind a
 * load balancer.
 *
 * Given that deployment:
 * 1. concurrent STOW-RS of one new patient's new study (two series) through both APIs at once creates
 *    one patient, one study and two series rows, acknowledges every instance, and nobody deadlocks;
 * 2. photographs captured through both APIs are converted exactly once in effect by the two
 *    competing workers (pg-boss, SKIP LOCKED), each with its derive job done (how the work was split
 *    between them is up to the scheduler: it is reported, not asserted);
 * 3. a worker killed with SIGKILL in the middle of a conversion leaves its job to the other worker,
 *    which finishes it once the job's heartbeat has lapsed (JOB_HEARTBEAT_SECONDS=10).
 * The figures (instances sent / acknowledged / found, jobs queued / completed / by worker, takeover
 * time) are printed on one line for CI.
 *
 * Tokens: every process on one DATA_DIR verifies with the local key under DATA_DIR/keys, created
 * here before the processes start so that they all load the same one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { loadConfig } from '../../services/core/config.js';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { newUid } from '../../services/core/dicom/index.js';
import { STANDARD_RENDITIONS, renditionVariant } from '../../services/core/dicom/renditions.js';
import { PostgresAuditLog } from '../../services/core/index/postgres-audit.js';
import { JOBS } from '../../services/core/queue/jobs.js';
import { FsObjectStore } from '../../services/core/storage/fs-object-store.js';
import { objectKeys } from '../../services/core/storage/object-store.js';
import { makeJpeg, makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg, setExifOrientation } from '../fixtures/photos.js';
import { postCapture, waitForCapture, waitForQa } from '../helpers/capture.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/net.js';
import { inParallel } from '../helpers/parallel.js';
import { readyAt, spawnLucida, type LucidaProcess } from '../helpers/processes.js';
import { multipartBody, testLogger } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const TAG = {
  ReferencedSOPSequence: '00081199', FailedSOPSequence: '00081198', StudyInstanceUID: '0020000D', SeriesInstanceUID: '0020000E',
  NumberOfStudyRelatedSeries: '00201206', NumberOfStudyRelatedInstances: '00201208', NumberOfSeriesRelatedInstances: '00201209',
} as const;
const value = (ds: any, tag: string) => ds?.[tag]?.Value?.[0];
const HEARTBEAT_SECONDS = 10;

/** A STOW-RS patient of its own (no NHS number: PatientID without issuer). */
const STOW_PATIENT = { patientID: 'SCALEOUT-0001', patientName: 'SCALE^OUT', issuer: '' };
const CAPTURE_METADATA = {
  patient: { nhsNumber: '9449305552', name: { family: 'Scale', given: ['Out'] }, sex: 'F' },
  consent: { level: 'record', recordedBy: 'A Nurse' },
  groups: [{ bodySite: { code: '70559009' }, laterality: 'L' }],
};

/** Where the derive job puts an instance's thumbnail (services/worker/derive.ts). */
const thumbnailKey = (sop: string) => objectKeys.derivative(sop, renditionVariant(1, STANDARD_RENDITIONS.thumbnail));

/**
 * Lines that must never appear: error level and above, and a deadlock or serialization failure at any
 * level (SQLSTATE 40P01 / 40001 as pg reports them in an error's `code`, or Postgres's own messages).
 */
const CONCURRENCY_FAILURE = /"code":"(40P01|40001)"|deadlock detected|could not serialize access/i;
function badLines(p: LucidaProcess): string[] {
  return p.lines.filter((line) => {
    if (CONCURRENCY_FAILURE.test(line)) return true;
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return false;
    }
  });
}

describe('many processes, one database', () => {
  let db: TestDatabase;
  let dataDir: string;
  let apis: { p: LucidaProcess; url: string }[] = [];
  let workers: LucidaProcess[] = [];
  /** Every process started, for afterAll (also when another failed to start). */
  const spawned: LucidaProcess[] = [];
  let token: (role: string, subject?: string) => Promise<string>;
  let store: FsObjectStore;
  /**
   * A 6000 × 4000 photo stored turned (EXIF Orientation 6), so its conversion decodes, turns and
   * re-encodes 24 MP: about two seconds of work, long enough to be caught in flight. Textured (smooth
   * noise): the flat quadrants of makeCameraJpeg convert several times faster.
   */
  let bigPhoto: Buffer;
  const figures = {
    sent: 0, acknowledged: 0, found: 0, jobs: '', byWorker: '', takeover: '', deadlocks: -1,
  };

  beforeAll(async () => {
    db = await startTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-scale-'));
    const key = await loadOrCreateLocalKey(dataDir);
    const { auth } = loadConfig({ DATA_DIR: dataDir });
    token = (role, subject = `scale-${role}`) => signLocalToken(key, auth, { subject, roles: [role] });
    store = new FsObjectStore(path.join(dataDir, 'objects'));
    const common = {
      DATA_DIR: dataDir, DATABASE_URL: db.url, HOST: '127.0.0.1',
      // A dead worker's job lapses 10–20 s after its last heartbeat (pg-boss's monitor pass runs every
      // heartbeat interval), and is retried a second later.
      JOB_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS), JOB_RETRY_DELAY_SECONDS: '1',
      // One conversion at a time per worker: two active conversions are then one in each worker.
      CONVERT_CONCURRENCY: '1',
    };
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const photo = sharp({ create: { width: 750, height: 500, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .resize(6000, 4000).withExif({ IFD0: { Make: 'Canon', Model: 'EOS R5' } }).jpeg({ quality: 85 }).toBuffer()
      .then((jpeg) => setExifOrientation(jpeg, 6));
    const results = await Promise.allSettled([
      ...ports.slice(0, 2).map((port, i) => spawnLucida({
        name: `scale-api-${i + 1}`, command: 'serve',
        env: { ...common, PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}` },
        ready: readyAt(`http://127.0.0.1:${port}`),
      })),
      // A worker-only process answers /readyz on its own PORT (services/worker/ops-server.ts); ready
      // once that says so and its handlers are registered.
      ...ports.slice(2).map((port, i) => spawnLucida({
        name: `scale-worker-${i + 1}`, command: 'worker', env: { ...common, PORT: String(port) },
        ready: async (p) => p.logged('worker started').length > 0 && await readyAt(`http://127.0.0.1:${port}`)(),
      })),
    ]);
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    spawned.push(...started);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    apis = started.slice(0, 2).map((p, i) => ({ p, url: `http://127.0.0.1:${ports[i]}` }));
    workers = started.slice(2);
    bigPhoto = await photo;
  }, 90_000);

  afterAll(async () => {
    console.log(`scale-out: instances sent ${figures.sent} / acknowledged ${figures.acknowledged} / found ${figures.found}; `
      + `jobs ${figures.jobs}; by worker ${figures.byWorker}; takeover after SIGKILL ${figures.takeover}; deadlocks ${figures.deadlocks}`);
    await Promise.all(spawned.map(async (p) => {
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
      await p.kill('SIGTERM');
      clearTimeout(timer);
    }));
    await db?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('stores concurrent STOW-RS of one new study through both APIs as one patient, one study, two series', async () => {
    const studyUID = newUid();
    const series = [{ uid: newUid(), number: 1 }, { uid: newUid(), number: 2 }];
    const jpeg = await makeJpeg(64, 48);
    // 40 instances, two in three in the first series, in requests of 1, 2, 3, 1, 2, 3... instances.
    const instances = await Promise.all(Array.from({ length: 40 }, (_, i) => {
      const s = series[i % 3 === 2 ? 1 : 0];
      return makeVlPhoto({
        jpeg, ...STOW_PATIENT, studyUID, seriesUID: s.uid, seriesNumber: s.number, instanceNumber: i + 1, accession: 'SCALE1',
      });
    }));
    const perSeries = series.map((_, k) => instances.filter((__, i) => (i % 3 === 2 ? 1 : 0) === k).length);
    const requests: Buffer[][] = [];
    for (let i = 0, n = 1; i < instances.length; i += n, n = (n % 3) + 1) requests.push(instances.slice(i, i + n));
    const writer = await token('epr');
    const reader = await token('clinician');

    const responses = await inParallel(requests, 8, async (parts, i) => {
      const { body, contentType } = multipartBody(parts.map((b) => ({ contentType: 'application/dicom', body: b })));
      return request(apis[i % 2].url).post('/dicomweb/studies').set('Authorization', `Bearer ${writer}`)
        .set('Content-Type', contentType).set('Accept', 'application/dicom+json').send(body);
    });
    figures.sent = instances.length;
    figures.acknowledged = responses.reduce((n, r) => n + (r.status === 200 ? (r.body[TAG.ReferencedSOPSequence]?.Value?.length ?? 0) : 0), 0);
    expect(responses.map((r) => r.status)).toEqual(requests.map(() => 200));
    expect(responses.filter((r) => r.body[TAG.FailedSOPSequence])).toEqual([]);
    expect(figures.acknowledged).toBe(instances.length);

    // The index: exactly one row per patient, study and series, every instance stored under them.
    const { rows: [counts] } = await db.pool.query(`
      SELECT (SELECT count(*) FROM patients WHERE patient_id = $1 AND issuer = '')::int AS patients,
             (SELECT count(*) FROM studies WHERE study_uid = $2)::int AS studies,
             (SELECT count(*) FROM series se JOIN studies s ON s.pk = se.study_fk WHERE s.study_uid = $2)::int AS series,
             (SELECT count(*) FROM instances WHERE study_uid = $2 AND status = 'stored')::int AS stored,
             (SELECT count(*) FROM instances WHERE study_uid = $2 AND status = 'pending')::int AS pending`,
    [STOW_PATIENT.patientID, studyUID]);
    expect(counts).toEqual({ patients: 1, studies: 1, series: 2, stored: 40, pending: 0 });

    // And what a client sees, through either API.
    for (const api of apis) {
      const studies = await request(api.url).get(`/dicomweb/studies?PatientID=${STOW_PATIENT.patientID}`)
        .set('Authorization', `Bearer ${reader}`).expect(200);
      expect(studies.body.map((s: any) => [value(s, TAG.StudyInstanceUID), value(s, TAG.NumberOfStudyRelatedSeries),
        value(s, TAG.NumberOfStudyRelatedInstances)])).toEqual([[studyUID, 2, 40]]);
      const found = await request(api.url).get(`/dicomweb/studies/${studyUID}/series`).set('Authorization', `Bearer ${reader}`).expect(200);
      expect(found.body.map((s: any) => [value(s, TAG.SeriesInstanceUID), value(s, TAG.NumberOfSeriesRelatedInstances)])
        .sort((a: any[], b: any[]) => b[1] - a[1])).toEqual(series.map((s, k) => [s.uid, perSeries[k]]));
      figures.found = value(studies.body[0], TAG.NumberOfStudyRelatedInstances);
    }
    // Both APIs took part, and nobody logged an error, a deadlock or a serialization failure.
    const stowsServed = apis.map((a) => a.p.logged('request').filter((l) => l.method === 'POST' && l.path === '/dicomweb/studies').length);
    expect(stowsServed).toEqual([Math.ceil(requests.length / 2), Math.floor(requests.length / 2)]);
    for (const p of [...apis.map((a) => a.p), ...workers]) expect({ [p.name]: badLines(p) }).toEqual({ [p.name]: [] });
    // Two API processes appended to one audit chain under its advisory lock: it still verifies.
    const audit = new PostgresAuditLog(db.pool, testLogger('silent').log);
    expect(await audit.verify()).toEqual(expect.objectContaining({ ok: true }));
  });

  it('converts photographs captured through both APIs exactly once by the competing workers', async () => {
    const photographer = await token('photographer', 'scale-photographer');
    // Twelve captures of the same picture (stored turned, so each conversion re-encodes it).
    const photo = await makeCameraJpeg({ width: 1600, height: 1200, orientation: 6 });
    const photos = Array.from({ length: 12 }, () => photo);
    const accepted = await inParallel(photos, 4, async (bytes, i) => {
      const res = await postCapture(apis[i % 2].url, photographer, { ...CAPTURE_METADATA, groups: [{ ...CAPTURE_METADATA.groups[0], files: [`p${i}.jpg`] }] },
        [{ fileName: `p${i}.jpg`, bytes }]);
      expect(res.status).toBe(202);
      return res.body.id as string;
    });
    const statuses = await Promise.all(accepted.map((id, i) => waitForQa(apis[i % 2].url, photographer, id, 60_000)));
    expect(statuses.map((s) => [s.status, s.files.map((f: any) => f.status)])).toEqual(accepted.map(() => ['stored', ['stored']]));

    // One stored instance per capture file, and one object in the store for it: nothing converted twice.
    const { rows } = await db.pool.query(`
      SELECT cf.capture_id, cf.sop_uid, cf.status, count(i.pk)::int AS instances, min(i.object_key) AS object_key
      FROM capture_files cf LEFT JOIN instances i ON i.sop_uid = cf.sop_uid AND i.status = 'stored'
      WHERE cf.capture_id = ANY($1::uuid[]) GROUP BY cf.capture_id, cf.sop_uid, cf.status`, [accepted]);
    expect(rows).toHaveLength(12);
    expect(rows.filter((r) => r.status !== 'stored' || r.instances !== 1)).toEqual([]);
    for (const r of rows) {
      const objects = await listKeys(`instances/`, r.sop_uid);
      expect(objects).toEqual([r.object_key]);
      expect(await store.exists(thumbnailKey(r.sop_uid))).not.toBeNull();
    }

    // Who did what: each worker logs each conversion it did (the line may reach this process a little
    // after the capture's status says stored). Twelve in all, whoever did them: the split depends on
    // which worker polled first each time, and is only reported. That each worker takes jobs is shown
    // deterministically by the next test (the victim takes one while the survivor is paused).
    const converted = await waitFor(
      () => workers.map((w) => w.logged('photo stored').filter((l) => accepted.includes(l.captureId as string)).length),
      (counts) => counts.reduce((a, b) => a + b, 0) >= 12, { timeoutMs: 5000, intervalMs: 50 });
    figures.byWorker = workers.map((w, i) => `${w.name} converted ${converted[i]}`).join(', ');
    expect(converted.reduce((a, b) => a + b, 0)).toBe(12);
    for (const p of [...apis.map((a) => a.p), ...workers]) expect({ [p.name]: badLines(p) }).toEqual({ [p.name]: [] });
  });

  it('leaves the conversion of a worker killed with SIGKILL to the other worker', async () => {
    const [victim, survivor] = workers;
    const photographer = await token('photographer', 'scale-photographer');
    let captureId = '';
    const jobsOfCapture = async () => (await db.pool.query<{ id: string; state: string; retry_count: number; file: number }>(
      `SELECT id, state, retry_count, (data->>'fileIndex')::int AS file FROM pgboss.job
       WHERE name = $1 AND data->>'captureId' = $2 ORDER BY file`, [JOBS.convertPhoto, captureId])).rows;

    // pg-boss 12 does not record which worker holds a job. So the survivor is paused (SIGSTOP) while
    // the two-file capture is queued: the victim, one conversion at a time, is then the only worker
    // that can take a job, and the first active job is its own. It is killed as soon as that is
    // seen (polled every 20 ms), seconds before a 24 MP conversion could end. No race on scheduling.
    let atKill: Awaited<ReturnType<typeof jobsOfCapture>>;
    survivor.child.kill('SIGSTOP');
    try {
      const res = await postCapture(apis[1].url, photographer, { ...CAPTURE_METADATA, groups: [{ ...CAPTURE_METADATA.groups[0], files: ['a.jpg', 'b.jpg'] }] },
        [{ fileName: 'a.jpg', bytes: bigPhoto }, { fileName: 'b.jpg', bytes: bigPhoto }]).expect(202);
      captureId = res.body.id as string;
      atKill = await waitFor(jobsOfCapture, (jobs) => jobs.some((j) => j.state === 'active'), { timeoutMs: 30_000, intervalMs: 20 });
      if (atKill.some((j) => j.state === 'active')) victim.child.kill('SIGKILL');
    } finally {
      survivor.child.kill('SIGCONT');
    }
    const killedAt = Date.now();
    // One job taken (the victim's), the other still waiting for a worker.
    expect({ jobsWhenKilled: atKill.map((j) => j.state).sort() }).toEqual({ jobsWhenKilled: ['active', 'created'] });
    const victimsFile = atKill.find((j) => j.state === 'active')!.file;
    expect((await victim.exited).signal).toBe('SIGKILL');

    // Follow the jobs until both are done: the victim's lapses (heartbeat), is retried and completes.
    let lapsedAt: number | undefined;
    const done = await waitFor(async () => {
      const jobs = await jobsOfCapture();
      if (!lapsedAt && jobs.some((j) => j.state === 'retry' || (j.state === 'active' && j.retry_count > 0))) lapsedAt = Date.now();
      return jobs;
    }, (jobs) => jobs.every((j) => j.state === 'completed'), { timeoutMs: 60_000, intervalMs: 250 });
    const finishedAt = Date.now();
    expect(done.map((j) => j.state)).toEqual(['completed', 'completed']);
    const retried = done.filter((j) => j.retry_count > 0);
    expect(retried.map((j) => j.file)).toEqual([victimsFile]); // only the victim's job lapsed and ran again

    // The capture ends converted, once: the survivor stored both files, one instance and one object each.
    const status = await waitForCapture(apis[0].url, photographer, captureId);
    expect(status.files.map((f: any) => f.status)).toEqual(['stored', 'stored']);
    const storedBy = (w: LucidaProcess) => w.logged('photo stored').filter((l) => l.captureId === captureId).map((l) => l.fileIndex as number);
    expect(storedBy(victim)).toEqual([]);
    expect((await waitFor(() => storedBy(survivor).sort(), (files) => files.length >= 2, { timeoutMs: 5000, intervalMs: 50 }))).toEqual([0, 1]);
    for (const f of status.files) {
      const { rows } = await db.pool.query(`SELECT object_key FROM instances WHERE sop_uid = $1 AND status = 'stored'`, [f.sopInstanceUID]);
      expect(rows).toHaveLength(1);
      expect(await listKeys('instances/', f.sopInstanceUID)).toEqual([rows[0].object_key]);
    }
    const takeover = (finishedAt - killedAt) / 1000;
    figures.takeover = `${takeover.toFixed(1)} s (job lapsed after ${lapsedAt ? ((lapsedAt - killedAt) / 1000).toFixed(1) : '?'} s, file ${retried[0].file})`;
    // Lapsed within two heartbeat intervals, retried a second later, converted in a few seconds.
    expect(takeover).toBeLessThan(3 * HEARTBEAT_SECONDS + 10);
    for (const p of [...apis.map((a) => a.p), survivor]) expect({ [p.name]: badLines(p) }).toEqual({ [p.name]: [] });
  }, 90_000);

  it('ran every queued job to completion, one derive job per stored instance', async () => {
    const states = async () => (await db.pool.query<{ name: string; state: string; n: number }>(
      `SELECT name, state, count(*)::int AS n FROM pgboss.job WHERE name = ANY($1) GROUP BY name, state ORDER BY name, state`,
      [[JOBS.convertPhoto, JOBS.derive]])).rows;
    const settled = await waitFor(states, (rows) => rows.every((r) => r.state === 'completed'), { timeoutMs: 30_000, intervalMs: 250 });
    expect(settled.filter((r) => r.state !== 'completed')).toEqual([]);
    const { rows: [counts] } = await db.pool.query(`
      SELECT (SELECT count(*) FROM instances WHERE status = 'stored')::int AS instances,
             (SELECT count(*) FROM capture_files)::int AS files,
             (SELECT count(*) FROM pgboss.job WHERE name = $1)::int AS convert,
             (SELECT count(*) FROM pgboss.job WHERE name = $2)::int AS derive,
             (SELECT count(DISTINCT data->>'sopInstanceUID') FROM pgboss.job WHERE name = $2)::int AS derived_sops`,
    [JOBS.convertPhoto, JOBS.derive]);
    // 40 STOW-RS instances + 12 + 2 photographs; every one rendered (its thumbnail is in the store).
    expect(counts).toEqual({ instances: 54, files: 14, convert: 14, derive: 54, derived_sops: 54 });
    const { rows: sops } = await db.pool.query<{ sop_uid: string }>(`SELECT sop_uid FROM instances WHERE status = 'stored'`);
    const missing = [];
    for (const { sop_uid } of sops) {
      if (!await store.exists(thumbnailKey(sop_uid))) missing.push(sop_uid);
    }
    expect(missing).toEqual([]);
    const completed = (name: string) => settled.find((r) => r.name === name && r.state === 'completed')?.n ?? 0;
    const derivedBy = workers.map((w) => w.logged('renditions stored').length);
    figures.jobs = `convert-photo queued ${counts.convert} / completed ${completed(JOBS.convertPhoto)}, `
      + `derive queued ${counts.derive} / completed ${completed(JOBS.derive)}`;
    figures.byWorker += `; derive ${workers.map((w, i) => `${w.name} ${derivedBy[i]}`).join(', ')}`;
    // Postgres's own count of deadlocks it broke, in this database (reported by backends within ~10 s).
    const { rows: [stat] } = await db.pool.query(`SELECT deadlocks::int FROM pg_stat_database WHERE datname = current_database()`);
    figures.deadlocks = stat.deadlocks;
    expect(stat.deadlocks).toBe(0);
  });

  /** Keys of the stored objects under `prefix` whose name starts with `sop` + '.' (instance objects are keyed study/series/sop.attempt.dcm). */
  async function listKeys(prefix: string, sop: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of store.list(prefix)) if (path.basename(o.key).startsWith(`${sop}.`)) keys.push(o.key);
    return keys.sort();
  }
});
