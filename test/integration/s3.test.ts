/**
 * The archive end to end on the S3 store (s3rver on loopback; production runs MinIO): a camera
 * capture converted by the worker and a STOW-RS instance, found by QIDO and retrieved by WADO-RS,
 * their objects in the bucket and none under DATA_DIR. Then the store goes down: /readyz and
 * retrieves answer 503 (problem+json), and service resumes by itself when the store is back.
 */
import request from 'supertest';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Client } from 'minio';
import { newUid, parsePart10 } from '../../services/core/dicom/index.js';
import { makeJpeg, makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { postCapture, waitForQa } from '../helpers/capture.js';
import { jsonValue } from '../helpers/dicom-json.js';
import { startS3Server, type TestS3Server } from '../helpers/s3.js';
import { binary, multipartBody, splitMultipart, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const BUCKET = 'lucida-e2e';
const PATIENT = { nhsNumber: '943 476 5919', name: { family: 'Smith', given: ['Jane'] }, birthDate: '1980-02-29', sex: 'F' };
const dicomAccept = 'multipart/related; type="application/dicom"; transfer-syntax=*';

describe('the archive on S3', () => {
  let s3: TestS3Server;
  let srv: TestServer;
  let clinician: string;
  let capture: any; // the capture's settled status
  const stowed = { studyUID: newUid(), seriesUID: newUid(), sopUID: newUid() };
  let stowedBytes: Buffer;
  let jpeg: Buffer;

  beforeAll(async () => {
    s3 = await startS3Server();
    srv = await startTestServer({ ...s3.env(BUCKET), S3_CREATE_BUCKET: 'true', JOB_RETRY_DELAY_SECONDS: '0' }, ['api', 'worker']);
    clinician = await srv.token('clinician');
    const photographer = await srv.token('photographer', { subject: 'photographer-s3' });

    const sent = await postCapture(srv.url, photographer, {
      patient: PATIENT, consent: { level: 'record', recordedBy: 'A Nurse' }, photographer: 'GRAPHER^P',
      groups: [{ bodySite: { code: '70559009', scheme: 'SCT', display: 'Forearm' }, laterality: 'R', files: ['forearm.jpg'] }],
    }, [{ fileName: 'forearm.jpg', bytes: await makeCameraJpeg({ width: 320, height: 240 }) }]).expect(202);
    capture = await waitForQa(srv.url, photographer, sent.body.id);

    jpeg = await makeJpeg(96, 64);
    stowedBytes = await makeVlPhoto({ jpeg, ...stowed, patientID: '9434765919', issuer: 'NHS', patientName: 'SMITH^JANE' });
    const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: stowedBytes }]);
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${photographer}`)
      .set('Content-Type', contentType).set('Accept', 'application/dicom+json').send(body).expect(200);
  });
  afterAll(async () => {
    await srv?.destroy();
    await s3?.destroy();
  });

  const get = (url: string, accept?: string) => {
    let r = request(srv.url).get(url).set('Authorization', `Bearer ${clinician}`);
    if (accept) r = r.set('Accept', accept);
    return r.buffer(true).parse(binary);
  };
  const stowedPath = `/dicomweb/studies/${stowed.studyUID}/series/${stowed.seriesUID}/instances/${stowed.sopUID}`;

  it('converts the capture with the worker and stores the STOW-RS instance', () => {
    expect(capture.status).toBe('stored');
    expect(capture.files.map((f: any) => f.status)).toEqual(['stored']);
  });

  it('finds both with QIDO-RS', async () => {
    const res = await request(srv.url).get('/dicomweb/studies?PatientID=9434765919').set('Authorization', `Bearer ${clinician}`).expect(200);
    expect(res.body.map((s: any) => jsonValue(s, '0020000D')).sort()).toEqual([capture.files[0].studyInstanceUID, stowed.studyUID].sort());
  });

  it('retrieves both with WADO-RS: instance, frames, rendered, thumbnail and metadata', async () => {
    const instance = await get(stowedPath, dicomAccept).expect(200);
    expect(splitMultipart(instance.body, instance.headers['content-type'])[0].body.equals(stowedBytes)).toBe(true);
    const frames = await get(`${stowedPath}/frames/1`, 'multipart/related; type=application/octet-stream; transfer-syntax=*').expect(200);
    expect(splitMultipart(frames.body, frames.headers['content-type'])[0].body.subarray(0, jpeg.length).equals(jpeg)).toBe(true);
    const rendered = await get(`${stowedPath}/rendered`, 'image/png').expect(200);
    expect(await sharp(rendered.body).metadata()).toMatchObject({ format: 'png', width: 96, height: 64 });
    const metadata = await request(srv.url).get(`${stowedPath}/metadata`).set('Authorization', `Bearer ${clinician}`).expect(200);
    expect(jsonValue(metadata.body[0], '00080018')).toBe(stowed.sopUID);

    const f = capture.files[0];
    const photo = await get(new URL(f.retrieveURL).pathname, dicomAccept).expect(200);
    const part10 = parsePart10(splitMultipart(photo.body, photo.headers['content-type'])[0].body);
    expect(part10.sopInstanceUID).toBe(f.sopInstanceUID);
    const thumb = await get(new URL(f.thumbnailURL).pathname, 'image/jpeg').expect(200);
    expect(await sharp(thumb.body).metadata()).toMatchObject({ format: 'jpeg', width: 256, height: 192 });
  });

  it('keeps every object in the bucket (instances, derivatives, originals) and none under DATA_DIR', async () => {
    const client = new Client({ endPoint: '127.0.0.1', port: s3.port, useSSL: false, accessKey: s3.accessKey, secretKey: s3.secretKey, pathStyle: true });
    const keys: string[] = [];
    for await (const o of client.listObjectsV2(BUCKET, '', true) as AsyncIterable<{ name: string }>) keys.push(o.name);
    const f = capture.files[0];
    expect(keys.filter((k) => k.startsWith(`instances/${stowed.studyUID}/${stowed.seriesUID}/${stowed.sopUID}.`))).toHaveLength(1);
    expect(keys.filter((k) => k.startsWith(`instances/${f.studyInstanceUID}/${f.seriesInstanceUID}/${f.sopInstanceUID}.`))).toHaveLength(1);
    expect(keys).toContain(`derived/${f.sopInstanceUID}/rendered-f1-q80-256x256.jpg`); // the derive job's thumbnail
    expect(keys.filter((k) => k.startsWith(`derived/${stowed.sopUID}/`)).length).toBeGreaterThan(0);
    expect(keys.filter((k) => k.startsWith(`uploads/${capture.id}/`))).toHaveLength(1);
    const local = await readdir(path.join(srv.config.dataDir, 'objects'), { recursive: true }).catch(() => []);
    expect(local.filter((p) => !p.startsWith('.tmp'))).toEqual([]);
  });

  it('answers 503 while the store is down, and serves again by itself once it is back', async () => {
    await s3.stop();
    const ready = await request(srv.url).get('/readyz').expect(503);
    expect(ready.headers['content-type']).toMatch(/application\/problem\+json/);
    const retrieve = await get(stowedPath, dicomAccept).expect(503);
    expect(retrieve.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(retrieve.body.toString()).code).toBe('UNAVAILABLE');

    await s3.restart();
    expect((await waitFor(() => request(srv.url).get('/readyz'), (r) => r.status === 200)).status).toBe(200);
    const instance = await get(stowedPath, dicomAccept).expect(200);
    expect(splitMultipart(instance.body, instance.headers['content-type'])[0].body.equals(stowedBytes)).toBe(true);
  });

  it('never logs patient identifiers or the store secret', () => {
    const all = srv.logs.join('');
    for (const secret of ['9434765919', 'Smith', 'SMITH', '19800229', s3.secretKey]) expect(all).not.toContain(secret);
  });
});
