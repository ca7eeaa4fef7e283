/**
 * /metrics on a real server (api + worker roles), and the ops server of a worker-only process.
 *
 * Given an archive that has received a STOW of two instances, a STOW refused, a capture, a QIDO, a WADO-RS retrieve
 * and two 404s, the scrape shows each request under its route pattern and status, the STOW instances
 * and bytes, the capture's file, the derive jobs completed and the queue depth; and it names no UID
 * and no patient, although every request above did.
 */
import request from 'supertest';
import { loadConfig } from '../../services/core/config.js';
import { newUid } from '../../services/core/dicom/index.js';
import { startRuntime, type Runtime } from '../../services/runtime.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { postCapture, waitForCapture } from '../helpers/capture.js';
import { startTestDatabase, type TestDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/net.js';
import { multipartBody, startTestServer, testLogger, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const patient = { patientID: '9434765919', issuer: 'NHS', patientName: 'SCRAPE^PATIENCE' };
const study = newUid();
const series = newUid();
const sops = [newUid(), newUid()];
const instancePath = `/dicomweb/studies/${study}/series/${series}/instances`;

/** The value of one sample line of a scrape (exact name and labels), or undefined when absent. */
function valueOf(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('metrics', () => {
  let db: TestDatabase;
  let srv: TestServer;
  let sizes: number[];
  let captureId: string;

  beforeAll(async () => {
    db = await startTestDatabase();
    srv = await startTestServer({ DATABASE_URL: db.url }, ['api', 'worker']);
    const epr = await srv.token('epr');
    const files = await Promise.all(sops.map((sopUID) => makeVlPhoto({ ...patient, studyUID: study, seriesUID: series, sopUID })));
    sizes = files.map((f) => f.length);
    const { body, contentType } = multipartBody(files.map((f) => ({ contentType: 'application/dicom', body: f })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${epr}`)
      .set('Content-Type', contentType).set('Accept', 'application/dicom+json').send(body).expect(200);
    // One part that is not DICOM: refused (409), and counted as a failed instance.
    const junk = multipartBody([{ contentType: 'application/dicom', body: Buffer.from('not a DICOM file') }]);
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${epr}`)
      .set('Content-Type', junk.contentType).set('Accept', 'application/dicom+json').send(junk.body).expect(409);
    sizes.push('not a DICOM file'.length);
    await request(srv.url).get(`/dicomweb/studies?StudyInstanceUID=${study}&PatientID=${patient.patientID}`)
      .set('Authorization', `Bearer ${epr}`).expect(200);
    await request(srv.url).get(`${instancePath}/${sops[0]}`).set('Authorization', `Bearer ${epr}`)
      .set('Accept', 'multipart/related; type="application/dicom"; transfer-syntax=*').expect(200);
    // A route that matches, for an instance that does not exist; and a path no route matches.
    await request(srv.url).get(`${instancePath}/${newUid()}/metadata`).set('Authorization', `Bearer ${epr}`).expect(404);
    await request(srv.url).get(`/dicomweb/studies/${study}/no-such-resource`).set('Authorization', `Bearer ${epr}`).expect(404);

    const photographer = await srv.token('photographer', { subject: 'metrics-photographer' });
    const metadata = {
      patient: { nhsNumber: patient.patientID, name: { family: 'Scrape', given: ['Patience'] }, birthDate: '1970-01-01', sex: 'F' },
      consent: { level: 'record', recordedBy: 'A Nurse', recordedAt: '2026-11-24T09:00:00Z' },
      groups: [{ bodySite: { code: '70559009' }, laterality: 'R', files: ['a.jpg'] }],
    };
    const captured = await postCapture(srv.url, photographer, metadata, [{ fileName: 'a.jpg', bytes: await makeCameraJpeg({ width: 64, height: 48 }) }])
      .expect(202);
    captureId = captured.body.id;
    expect((await waitForCapture(srv.url, photographer, captureId)).status).toBe('stored');
  });
  afterAll(async () => {
    await srv?.destroy();
    await db?.stop();
  });

  const scrape = async (url = srv.url) => {
    const res = await request(url).get('/metrics').buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => { text += c; });
      r.on('end', () => cb(null, text));
    }).expect(200);
    return { text: res.body as string, res };
  };

  it('serves the Prometheus text format without a token', async () => {
    const { text, res } = await scrape();
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toMatch(/^# TYPE lucida_http_requests_total counter$/m);
    expect(valueOf(text, 'lucida_process_cpu_seconds_total')).toBeGreaterThan(0); // Node's default metrics, prefixed
  });

  it('counts requests by method, route pattern and status, never by path', async () => {
    const { text } = await scrape();
    const requests = (method: string, route: string, status: number) =>
      valueOf(text, `lucida_http_requests_total{method="${method}",route="${route}",status_code="${status}"}`);
    expect(requests('POST', '/dicomweb/studies', 200)).toBe(1);
    expect(requests('POST', '/dicomweb/studies', 409)).toBe(1);
    expect(requests('GET', '/dicomweb/studies', 200)).toBe(1);
    expect(requests('GET', '/dicomweb/studies/:study/series/:series/instances/:instance', 200)).toBe(1);
    expect(requests('GET', '/dicomweb/studies/:study/series/:series/instances/:instance/metadata', 404)).toBe(1);
    expect(requests('GET', 'unmatched', 404)).toBe(1);
    expect(requests('POST', '/api/captures', 202)).toBe(1);
    expect(valueOf(text, 'lucida_http_request_duration_seconds_count{method="POST",route="/dicomweb/studies",status_code="200"}')).toBe(1);
  });

  it('counts STOW instances and their bytes, and the capture\'s file', async () => {
    const { text } = await scrape();
    expect(valueOf(text, 'lucida_stow_instances_total{outcome="stored"}')).toBe(2);
    expect(valueOf(text, 'lucida_stow_instances_total{outcome="failed"}')).toBe(1);
    expect(valueOf(text, 'lucida_stow_received_bytes_total')).toBe(sizes[0] + sizes[1] + sizes[2]);
    expect(valueOf(text, 'lucida_capture_files_total{outcome="accepted"}')).toBe(1);
    expect(valueOf(text, 'lucida_capture_received_bytes_total')).toBeGreaterThan(0);
  });

  it('counts jobs completed per queue, and shows queue depth and the database pool', async () => {
    // Three derive jobs (two STOW instances, one converted photograph) and one conversion.
    const text = await waitFor(async () => (await scrape()).text,
      (t) => valueOf(t, 'lucida_jobs_total{queue="derive",outcome="completed"}') === 3, { timeoutMs: 20_000 });
    expect(valueOf(text, 'lucida_jobs_total{queue="derive",outcome="completed"}')).toBe(3);
    expect(valueOf(text, 'lucida_jobs_total{queue="convert-photo",outcome="completed"}')).toBe(1);
    expect(valueOf(text, 'lucida_queue_jobs{queue="derive",state="ready"}')).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'lucida_queue_jobs{queue="convert-photo",state="active"}')).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'lucida_db_pool_connections{state="idle"}')).toBeGreaterThanOrEqual(0);
    expect(valueOf(text, 'lucida_object_store_errors_total{operation="put"}')).toBe(0);
    expect(text).not.toContain('__pgboss__'); // pg-boss's own queues are not Lucida's work
    expect(valueOf(text, 'lucida_object_store_operation_duration_seconds_count{operation="put"}')).toBeGreaterThanOrEqual(3);
  });

  it('names no UID and no patient', async () => {
    const { text } = await scrape();
    for (const secret of [study, series, ...sops, captureId, patient.patientID, 'SCRAPE', 'Scrape', 'Patience']) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/\d+\.\d+\.\d+\.\d+\.\d+/); // nothing shaped like a UID
  });

  // Only the exact path answers: Express's default (case-insensitive, trailing slash optional)
  // would let a spelling the proxy does not block (docker/nginx/lucida-locations.conf) through.
  it.each(['/metrics/', '/METRICS', '/Metrics?x=1', '/METRICS/'])('does not answer %s: a 404 problem', async (path) => {
    const res = await request(srv.url).get(path).expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('ROUTE_NOT_FOUND');
    expect(res.text).not.toContain('lucida_http_requests_total');
  });

  it('still answers the health probes beside it', async () => {
    await request(srv.url).get('/healthz').expect(200, { status: 'ok' });
    await request(srv.url).get('/readyz').expect(200, { status: 'ready' });
  });

  describe('a worker-only process', () => {
    let worker: Runtime;
    let url: string;
    beforeAll(async () => {
      const port = await freePort();
      // Same database and store as the server above: a second worker of the same archive.
      const config = loadConfig({ DATA_DIR: srv.config.dataDir, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
      worker = await startRuntime(config, testLogger('info').log, ['worker']);
      url = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => { await worker?.stop(); });

    it('answers the probes', async () => {
      expect(worker.url).toBeUndefined(); // no API
      expect(worker.opsUrl).toBeDefined();
      await request(url).get('/healthz').expect(200, { status: 'ok' });
      const ready = await request(url).get('/readyz').expect(200, { status: 'ready' });
      expect(ready.headers['x-content-type-options']).toBe('nosniff');
      expect(ready.headers['content-security-policy']).toContain("default-src 'none'");
      expect(ready.headers['x-request-id']).toBeDefined();
    });

    it('serves its own metrics', async () => {
      const { text, res } = await scrape(url);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(valueOf(text, 'lucida_http_requests_total{method="GET",route="/healthz",status_code="200"}')).toBe(1);
      expect(valueOf(text, 'lucida_queue_jobs{queue="derive",state="ready"}')).toBeGreaterThanOrEqual(0);
      expect(text).toMatch(/^# TYPE lucida_jobs_total counter$/m);
      // Its own registry: none of the API process's requests.
      expect(text).not.toContain('route="/dicomweb/studies"');
    });

    it('answers anything else with a 404 problem, and no API', async () => {
      const res = await request(url).get(`/dicomweb/studies?StudyInstanceUID=${study}`).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('ROUTE_NOT_FOUND');
      await request(url).post('/metrics').expect(404);
      for (const path of ['/metrics/', '/METRICS']) {
        const wrong = await request(url).get(path).expect(404);
        expect(wrong.body.code).toBe('ROUTE_NOT_FOUND');
      }
    });
  });
});
