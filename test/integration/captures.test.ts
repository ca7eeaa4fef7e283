/**
 * Photographs in, end to end on a real server (embedded Postgres, pg-boss worker, filesystem store):
 * capture API and STOW-RS JSON + bulk data → convert-photo → ingestInstance → QIDO / WADO, derive
 * (thumbnail, rendered, QA), consent record, originals for admins, bad input, idempotency.
 */
import request from 'supertest';
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { newUid, parsePart10 } from '../../services/core/dicom/index.js';
import { PostgresCaptureRepository } from '../../services/core/index/postgres-captures.js';
import { jpegEntropyCodedData } from '../../services/core/photo/index.js';
import { postCapture, waitForCapture, waitForQa } from '../helpers/capture.js';
import { binary, multipartBody, splitMultipart, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import {
  CANARIES, GREY_QUADRANTS, stowJsonPhotoDataset, QUADRANT_COLOURS, decodeVlPhoto, dciodvfy, heicFixture, jsonValue, makeCameraJpeg, makePng, pngHeader,
  quadrantDistance, quadrantsOf,
} from '../fixtures/photos.js';
import { itWithTools } from '../fixtures/tools.js';
import { makeVlPhoto } from '../fixtures/dicom.js';



const PATIENT = {
  nhsNumber: '943 476 5919', hospitalNumber: { value: 'RX1234', issuer: 'RXH' },
  name: { family: 'Smith', given: ['Jane'] }, birthDate: '1980-02-29', sex: 'F',
};
const metadata = (groups: object[], extra: object = {}) => ({
  patient: PATIENT,
  consent: { level: 'teaching', recordedBy: 'A Nurse', recordedAt: '2026-11-24T09:00:00Z' },
  photographer: 'GRAPHER^P', site: { institution: 'Royal Example Hospital', studio: 'Studio 2' },
  clinicalNote: 'Lesion, 6 mm.', ...extra, groups,
});
const FOREARM = { bodySite: { code: '70559009', scheme: 'SCT', display: 'Forearm' }, laterality: 'R', view: { code: '399033003' }, seriesDescription: 'Right forearm' };
const FACE = { bodySite: { code: '73897004' }, laterality: 'U', seriesDescription: 'Face' };

describe('photographs in', () => {
  let srv: TestServer;
  let photographer: string;
  let clinician: string;
  let admin: string;

  beforeAll(async () => {
    srv = await startTestServer({ CAPTURE_MAX_FILE_MB: '2', JOB_RETRY_DELAY_SECONDS: '0', PHOTO_MAX_MEGAPIXELS: '40' }, ['api', 'worker']);
    photographer = await srv.token('photographer', { subject: 'photographer-7' });
    clinician = await srv.token('clinician');
    admin = await srv.token('admin');
  });
  afterAll(async () => { await srv?.destroy(); });

  /** Files (not directories) under the originals' prefix. */
  const uploads = async () => (await readdir(path.join(srv.config.dataDir, 'objects', 'uploads'), { recursive: true, withFileTypes: true })
    .catch(() => [])).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();

  const get = (url: string, token = clinician, accept?: string) => {
    let r = request(url.replace(srv.config.publicBaseUrl, srv.url)).get('').set('Authorization', `Bearer ${token}`);
    if (accept) r = r.set('Accept', accept);
    return r.buffer(true).parse(binary);
  };
  const instanceBytes = async (retrieveURL: string) => {
    const res = await get(retrieveURL, clinician, 'multipart/related; type="application/dicom"; transfer-syntax=*').expect(200);
    return splitMultipart(res.body, res.headers['content-type'])[0].body;
  };

  describe('a capture of every kind of input', () => {
    let status: any;
    const inputs: Record<string, Buffer> = {};

    beforeAll(async () => {
      inputs['baseline.jpg'] = await makeCameraJpeg({ width: 320, height: 240, gps: true, identifying: true });
      inputs['rotated.jpg'] = await makeCameraJpeg({ width: 320, height: 240, orientation: 6, gps: true, offset: '+01:00' });
      inputs['grey.jpg'] = await makeCameraJpeg({ width: 320, height: 240, grayscale: true });
      inputs['progressive.jpg'] = await makeCameraJpeg({ width: 320, height: 240, progressive: true });
      inputs['scan.png'] = await makePng({ width: 160, height: 120 });
      inputs['phone.heic'] = heicFixture('exif-gps');
      const files = Object.entries(inputs).map(([fileName, bytes]) => ({
        fileName, bytes, contentType: fileName.endsWith('.png') ? 'image/png' : fileName.endsWith('.heic') ? 'image/heic' : 'image/jpeg',
      }));
      const res = await postCapture(srv.url, photographer, metadata([
        { ...FOREARM, files: ['baseline.jpg', 'rotated.jpg', 'grey.jpg', 'progressive.jpg'] },
        { ...FACE, files: ['scan.png', 'phone.heic'] },
      ]), files).expect(202);
      expect(res.headers.location).toBe(`${srv.config.publicBaseUrl}/api/captures/${res.body.id}`);
      expect(res.body.files.map((f: any) => f.status)).toEqual(Array(6).fill('queued'));
      status = await waitForQa(srv.url, photographer, res.body.id);
    });

    const file = (name: string) => status.files.find((f: any) => f.fileName === name);

    it('stores every file, one series per group, instance numbers in capture order', () => {
      expect(status.status).toBe('stored');
      expect(status.files.map((f: any) => [f.fileName, f.status, f.seriesNumber, f.instanceNumber])).toEqual([
        ['baseline.jpg', 'stored', 1, 1], ['rotated.jpg', 'stored', 1, 2], ['grey.jpg', 'stored', 1, 3],
        ['progressive.jpg', 'stored', 1, 4], ['scan.png', 'stored', 2, 1], ['phone.heic', 'stored', 2, 2],
      ]);
      expect(new Set(status.files.map((f: any) => f.studyInstanceUID)).size).toBe(1);
      expect(file('baseline.jpg').seriesInstanceUID).not.toBe(file('scan.png').seriesInstanceUID);
      expect(status.files.map((f: any) => f.encoding)).toEqual(['wrapped', 'reencoded', 'wrapped', 'reencoded', 'lossless', 'reencoded']);
    });

    it('reports QA figures for each photograph in the capture status', () => {
      for (const f of status.files) {
        expect(f.qa).toEqual(expect.objectContaining({ width: expect.any(Number), sharpness: expect.any(Number), verdict: expect.any(String) }));
      }
      // 320×240 is far below clinical resolution: the photographer is told.
      expect(file('baseline.jpg').qa.flags.map((x: any) => x.code)).toContain('LOW_RESOLUTION');
      // Measured on the upright image: the camera stored it turned (EXIF orientation 6).
      expect(file('rotated.jpg').qa).toEqual(expect.objectContaining({ width: 320, height: 240 }));
    });

    it('QIDO finds the study by NHS number with the demographics, and the instances with their codes', async () => {
      const studies = await request(srv.url).get('/dicomweb/studies?PatientID=9434765919&includefield=00100021')
        .set('Authorization', `Bearer ${clinician}`).expect(200);
      const study = studies.body.find((s: any) => jsonValue(s, '0020000D') === status.studyInstanceUID);
      expect(jsonValue(study, '00100010')).toEqual({ Alphabetic: 'Smith^Jane' });
      expect(jsonValue(study, '00100030')).toBe('19800229');
      expect(jsonValue(study, '00100021')).toBe('NHS');
      expect(jsonValue(study, '00080061')).toBe('XC');
      const instances = await request(srv.url).get(`/dicomweb/studies/${status.studyInstanceUID}/instances`)
        .set('Authorization', `Bearer ${clinician}`).expect(200);
      expect(instances.body).toHaveLength(6);
      expect(new Set(instances.body.map((i: any) => jsonValue(i, '00080016')))).toEqual(new Set(['1.2.840.10008.5.1.4.1.1.77.1.4']));
    });

    it('WADO metadata carries patient identifiers, body site, laterality, view and the EXIF acquisition time', async () => {
      const f = file('rotated.jpg');
      const res = await request(srv.url).get(`/dicomweb/studies/${f.studyInstanceUID}/series/${f.seriesInstanceUID}/instances/${f.sopInstanceUID}/metadata`)
        .set('Authorization', `Bearer ${clinician}`).expect(200);
      const m = res.body[0];
      expect(jsonValue(m, '00100020')).toBe('9434765919');
      expect(jsonValue(m, '00100021')).toBe('NHS');
      expect(jsonValue(jsonValue(m, '00100024') as any, '00400032')).toBe('2.16.840.1.113883.2.1.4.1');
      expect(jsonValue(jsonValue(m, '00101002') as any, '00100020')).toBe('RX1234');
      expect(jsonValue(m, '00080060')).toBe('XC');
      expect(jsonValue(m, '00080008')).toBe('ORIGINAL');
      const region = jsonValue(m, '00082218') as any;
      expect([jsonValue(region, '00080100'), jsonValue(region, '00080102')]).toEqual(['70559009', 'SCT']);
      expect(jsonValue(m, '00200062')).toBe('R');
      expect(jsonValue(jsonValue(m, '00540220') as any, '00080100')).toBe('399033003');
      expect(jsonValue(m, '0008002A')).toBe('20250304101112+0100');
      expect(jsonValue(m, '00280302')).toBe('NO');
      const face = file('scan.png');
      const faceMeta = (await request(srv.url).get(`/dicomweb/studies/${face.studyInstanceUID}/series/${face.seriesInstanceUID}/instances/${face.sopInstanceUID}/metadata`)
        .set('Authorization', `Bearer ${clinician}`).expect(200)).body[0];
      expect(jsonValue(faceMeta, '00280302')).toBe('YES'); // a face is recognisable
      expect(jsonValue(faceMeta, '00200062')).toBe('U');
    });

    it('keeps the camera JPEG entropy-coded data unchanged when no re-encoding is needed', async () => {
      for (const name of ['baseline.jpg', 'grey.jpg']) {
        const photo = await decodeVlPhoto(await instanceBytes(file(name).retrieveURL));
        expect(photo.transferSyntaxUID).toBe('1.2.840.10008.1.2.4.50');
        expect(jpegEntropyCodedData(photo.frame).equals(jpegEntropyCodedData(inputs[name]))).toBe(true);
      }
    });

    it('renders every photograph upright (EXIF orientation applied to the pixels)', async () => {
      for (const f of status.files) {
        const res = await get(f.renderedURL, clinician, 'image/png').expect(200);
        const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
        const expected = f.fileName === 'grey.jpg' ? GREY_QUADRANTS : QUADRANT_COLOURS;
        const distance = quadrantDistance(quadrantsOf(data, info.width, info.height, info.channels), expected);
        expect({ file: f.fileName, upright: distance < 40 }).toEqual({ file: f.fileName, upright: true });
        if (f.fileName === 'rotated.jpg') expect([info.width, info.height]).toEqual([320, 240]);
      }
    });

    it('carries no GPS, owner or serial numbers anywhere in the stored objects (attributes or bitstream)', async () => {
      for (const f of status.files) {
        const bytes = await instanceBytes(f.retrieveURL);
        for (const canary of Object.values(CANARIES)) expect(bytes.includes(Buffer.from(canary))).toBe(false);
        expect(bytes.includes(Buffer.from('Exif\0\0'))).toBe(false);
        const parsed = parsePart10(bytes);
        expect(Object.keys(parsed.metadata).filter((t) => t.startsWith('0016007') || t.startsWith('0016008'))).toEqual([]);
      }
    });

    itWithTools(['dciodvfy'], 'each produced object passes dciodvfy with zero errors', async () => {
      for (const f of status.files) {
        const report = dciodvfy(await instanceBytes(f.retrieveURL));
        expect({ file: f.fileName, iod: report.iod, errors: report.errors }).toEqual({ file: f.fileName, iod: 'VLPhotographicImage', errors: [] });
      }
    });

    it('serves thumbnails and default renderings without decoding: cached by the derive job, or the camera JPEG itself', async () => {
      const derived = (name: string) => readdir(path.join(srv.config.dataDir, 'objects', 'derived', file(name).sopInstanceUID));
      // A wrapped camera JPEG is its own default rendering: only the thumbnail is stored beside it.
      expect(await derived('baseline.jpg')).toContain('rendered-f1-q80-256x256.jpg');
      expect(await derived('baseline.jpg')).not.toContain('rendered-f1-q90-full.jpg');
      expect(await derived('scan.png')).toEqual(expect.arrayContaining(['rendered-f1-q80-256x256.jpg', 'rendered-f1-q90-full.jpg']));
      const rendered = await get(file('baseline.jpg').renderedURL, clinician, 'image/jpeg').expect(200);
      const stored = await decodeVlPhoto(await instanceBytes(file('baseline.jpg').retrieveURL));
      expect(rendered.headers['content-type']).toBe('image/jpeg');
      expect(rendered.body.equals(stored.frame)).toBe(true);
      const thumb = await get(file('baseline.jpg').thumbnailURL, clinician, 'image/jpeg').expect(200);
      const meta = await sharp(thumb.body).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 192]);
    });

    it('records the consent chosen at capture as the authoritative record', async () => {
      expect(status.consent).toEqual(expect.objectContaining({ level: 'teaching', consentedBy: 'A Nurse', recordedBy: 'photographer-7', consentedAt: '2026-11-24T09:00:00.000Z' }));
      const { rows } = await srv.runtime.pool.query('SELECT level, status, consented_by, recorded_by FROM consent_records WHERE study_uid = $1', [status.studyInstanceUID]);
      expect(rows).toEqual([{ level: 'teaching', status: 'given', consented_by: 'A Nurse', recorded_by: 'photographer-7' }]);
    });

    it('finds the consent entered with a capture by the capture (its latest record), without the study history', async () => {
      const repo = new PostgresCaptureRepository(srv.runtime.pool);
      expect(await repo.consentForCapture(status.id)).toEqual({
        studyInstanceUID: status.studyInstanceUID, level: 'teaching', status: 'given', consentedBy: 'A Nurse',
        consentedAt: new Date('2026-11-24T09:00:00Z'), recordedBy: 'photographer-7', recordedAt: expect.any(Date), captureId: status.id,
      });
      // A later record for the capture wins; records of the study without a capture are not its.
      const { rows: added } = await srv.runtime.pool.query(
        `INSERT INTO consent_records (study_uid, patient_id, issuer, level, status, consented_by, consented_at, recorded_by, capture_id)
         VALUES ($1, 'P', 'I', 'record', 'withdrawn', 'A Nurse', now(), 'admin-1', $2), ($1, 'P', 'I', 'publication', 'given', 'X', now(), 'admin-1', NULL)
         RETURNING id`, [status.studyInstanceUID, status.id]);
      try {
        expect(await repo.consentForCapture(status.id)).toEqual(expect.objectContaining({ level: 'record', status: 'withdrawn', captureId: status.id }));
      } finally {
        await srv.runtime.pool.query('DELETE FROM consent_records WHERE id = ANY($1)', [added.map((r) => r.id)]);
      }
      expect(await repo.consentForCapture('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      expect(await repo.consentForCapture('not-a-capture-id')).toBeUndefined();
    });

    it('keeps the original upload unchanged, for admins only', async () => {
      const f = file('rotated.jpg');
      await get(`${srv.url}/api/captures/${status.id}/files/${f.index}/original`, photographer).expect(403);
      const res = await get(`${srv.url}/api/captures/${status.id}/files/${f.index}/original`, admin).expect(200);
      expect(res.body.equals(inputs['rotated.jpg'])).toBe(true);
      expect(f.sha256).toBe(createHash('sha256').update(inputs['rotated.jpg']).digest('hex'));
    });

    it('shows a capture to the photographer who sent it and to admins only', async () => {
      const other = await srv.token('photographer', { subject: 'photographer-9' });
      await request(srv.url).get(`/api/captures/${status.id}`).set('Authorization', `Bearer ${other}`).expect(404);
      await request(srv.url).get(`/api/captures/${status.id}`).set('Authorization', `Bearer ${admin}`).expect(200);
    });

    it('serves originals as downloads that a browser will not sniff', async () => {
      const res = await get(`${srv.url}/api/captures/${status.id}/files/0/original`, admin).expect(200);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-disposition']).toBe('attachment');
    });

    it('never logs patient identifiers', () => {
      const all = srv.logs.join('');
      for (const secret of ['9434765919', 'Smith', 'RX1234', '19800229']) expect(all).not.toContain(secret);
    });
  });

  describe('attaching to an existing study', () => {
    it('adds a series with the next number and the stored demographics', async () => {
      const first = await postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const done = await waitForCapture(srv.url, photographer, first.body.id);
      const second = await postCapture(srv.url, photographer, {
        study: { studyInstanceUID: done.studyInstanceUID }, consent: { level: 'record', recordedBy: 'B Nurse' }, groups: [FACE],
      }, [{ fileName: 'b.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const attached = await waitForCapture(srv.url, photographer, second.body.id);
      expect(attached.status).toBe('stored');
      expect(attached.studyInstanceUID).toBe(done.studyInstanceUID);
      expect(attached.files[0].seriesNumber).toBe(2);
      const { rows } = await srv.runtime.pool.query('SELECT level FROM consent_records WHERE study_uid = $1 ORDER BY id', [done.studyInstanceUID]);
      expect(rows.map((r) => r.level)).toEqual(['teaching', 'record']); // history: the latest is in force
    });

    it('starts a study for a new accession number, attaches later captures to it, and refuses an ambiguous one', async () => {
      const accession = `A${Date.now() % 1e9}`;
      const first = await postCapture(srv.url, photographer, metadata([FOREARM], { study: { accessionNumber: accession } }),
        [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const done = await waitForCapture(srv.url, photographer, first.body.id);
      const attachedRes = await postCapture(srv.url, photographer, { study: { accessionNumber: accession }, consent: { level: 'record' }, groups: [FACE] },
        [{ fileName: 'b.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const attached = await waitForCapture(srv.url, photographer, attachedRes.body.id);
      expect(attached.studyInstanceUID).toBe(done.studyInstanceUID);
      // A second study under the same accession number (e.g. sent by a modality) makes it ambiguous.
      const other = await postCapture(srv.url, photographer, metadata([FOREARM], { study: { accessionNumber: `${accession}2` } }),
        [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const otherDone = await waitForCapture(srv.url, photographer, other.body.id);
      await srv.runtime.pool.query('UPDATE studies SET accession_number = $1 WHERE study_uid = $2', [accession, otherDone.studyInstanceUID]);
      const refused = await postCapture(srv.url, photographer, { study: { accessionNumber: accession }, consent: { level: 'record' }, groups: [FACE] },
        [{ fileName: 'b.jpg', bytes: await makeCameraJpeg() }]).expect(422);
      expect(refused.body.errors[0].path).toBe('/study/accessionNumber');
    });

    it('puts simultaneous captures for one new request into one study, with distinct series numbers', async () => {
      const accession = `B${Date.now() % 1e9}`;
      const send = async () => postCapture(srv.url, photographer, metadata([FOREARM], { study: { accessionNumber: accession } }),
        [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const sent = await Promise.all([send(), send(), send()]);
      const done = await Promise.all(sent.map((r) => waitForCapture(srv.url, photographer, r.body.id)));
      expect(new Set(done.map((d) => d.studyInstanceUID)).size).toBe(1);
      expect(done.map((d) => d.files[0].seriesNumber).sort()).toEqual([1, 2, 3]);
    });

    it('refuses an unknown study with 404 and a patient that does not match with 422', async () => {
      await postCapture(srv.url, photographer, { study: { studyInstanceUID: newUid() }, consent: { level: 'record' }, groups: [FACE] },
        [{ fileName: 'c.jpg', bytes: await makeCameraJpeg() }]).expect(404);
      const first = await postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(202);
      const done = await waitForCapture(srv.url, photographer, first.body.id);
      const res = await postCapture(srv.url, photographer, {
        ...metadata([FACE]), patient: { nhsNumber: '9449305552' }, study: { studyInstanceUID: done.studyInstanceUID },
      }, [{ fileName: 'c.jpg', bytes: await makeCameraJpeg() }]).expect(422);
      expect(res.body.code).toBe('INVALID_METADATA');
    });
  });

  describe('bad input gets a clear error and loses nothing', () => {
    const captureCount = async () => Number((await srv.runtime.pool.query('SELECT count(*) FROM captures')).rows[0].count);

    it.each([
      ['an invalid NHS number', { ...metadata([FOREARM]), patient: { ...PATIENT, nhsNumber: '9434765910' } }, '/patient/nhsNumber'],
      ['a body site outside the supported sets', metadata([{ ...FOREARM, bodySite: { code: '12345678' } }]), '/groups/0/bodySite'],
      ['missing consent', { ...metadata([FOREARM]), consent: undefined }, '/consent'],
    ])('refuses %s with 422 before storing anything', async (_what, meta, pointer) => {
      const before = [await uploads(), await captureCount()];
      const res = await postCapture(srv.url, photographer, meta, [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(422);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('INVALID_METADATA');
      expect(res.body.errors.map((e: any) => e.path).join(' ')).toContain(pointer);
      expect(JSON.stringify(res.body)).not.toContain('9434765910');
      expect([await uploads(), await captureCount()]).toEqual(before);
    });

    it('refuses a metadata part over 1 MiB with 413 before storing anything', async () => {
      const before = [await uploads(), await captureCount()];
      const res = await postCapture(srv.url, photographer, metadata([FOREARM], { clinicalNote: 'x'.repeat(1024 * 1024) }),
        [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.body.detail).toMatch(/"metadata" part/);
      expect([await uploads(), await captureCount()]).toEqual(before);
    });

    it('refuses a file that is not an image (415) and a decompression bomb (413) without decoding it', async () => {
      const notImage = await postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'notes.txt', contentType: 'text/plain', bytes: Buffer.from('not a photo') }]).expect(415);
      expect(notImage.body.code).toBe('UNSUPPORTED_IMAGE');
      const bomb = await postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'bomb.png', contentType: 'image/png', bytes: pngHeader(60000, 60000) }]).expect(413);
      expect(bomb.body.code).toBe('IMAGE_TOO_LARGE');
    });

    it('refuses an oversized file with 413', async () => {
      const big = Buffer.concat([await makeCameraJpeg(), Buffer.alloc(3 * 1024 * 1024)]);
      const res = await postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'big.jpg', bytes: big }]).expect(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('fails a truncated JPEG with a visible reason while the other files of the capture are stored', async () => {
      const good = await makeCameraJpeg({ width: 320, height: 240 });
      const whole = await makeCameraJpeg({ width: 320, height: 240 });
      const truncated = whole.subarray(0, Math.floor(whole.length * 0.7));
      const res = await postCapture(srv.url, photographer, metadata([FOREARM]), [
        { fileName: 'good.jpg', bytes: good }, { fileName: 'cut.jpg', bytes: truncated },
      ]).expect(202);
      const done = await waitForCapture(srv.url, photographer, res.body.id);
      expect(done.status).toBe('partial');
      const cut = done.files.find((f: any) => f.fileName === 'cut.jpg');
      expect(cut).toEqual(expect.objectContaining({ status: 'failed', reason: expect.stringMatching(/truncated|damaged|incomplete/i) }));
      const { rows } = await srv.runtime.pool.query('SELECT sop_uid FROM instances WHERE study_uid = $1', [done.studyInstanceUID]);
      expect(rows.map((r) => r.sop_uid)).toEqual([done.files.find((f: any) => f.fileName === 'good.jpg').sopInstanceUID]);
    });

    it('refuses non-form bodies (415), a missing metadata part and unknown captures (404)', async () => {
      await request(srv.url).post('/api/captures').set('Authorization', `Bearer ${photographer}`).set('Content-Type', 'application/json').send('{}').expect(415);
      const res = await postCapture(srv.url, photographer, undefined, [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(422);
      expect(res.body.code).toBe('INVALID_METADATA');
      await request(srv.url).get(`/api/captures/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`).set('Authorization', `Bearer ${photographer}`).expect(404);
      await request(srv.url).get('/api/captures/not-a-uuid').set('Authorization', `Bearer ${photographer}`).expect(404);
    });

    it('lets only photographers and admins submit captures', async () => {
      await postCapture(srv.url, clinician, metadata([FOREARM]), [{ fileName: 'a.jpg', bytes: await makeCameraJpeg() }]).expect(403);
      await request(srv.url).post('/api/captures').expect(401);
    });
  });

  describe('Idempotency-Key', () => {
    it('returns the same capture for a retried POST and stores nothing twice', async () => {
      const bytes = await makeCameraJpeg();
      const send = () => postCapture(srv.url, photographer, metadata([FOREARM]), [{ fileName: 'a.jpg', bytes }], { 'Idempotency-Key': 'station-2-000123' });
      const first = await send().expect(202);
      const second = await send().expect(202);
      expect(second.body.id).toBe(first.body.id);
      expect(second.headers['idempotent-replayed']).toBe('true');
      const done = await waitForCapture(srv.url, photographer, first.body.id);
      const { rows } = await srv.runtime.pool.query('SELECT count(*)::int AS n FROM instances WHERE study_uid = $1', [done.studyInstanceUID]);
      expect(rows[0].n).toBe(1);
      // The same key with another request is refused, not silently answered with the first capture.
      const reused = await postCapture(srv.url, photographer, metadata([FACE]), [{ fileName: 'b.jpg', bytes: await makeCameraJpeg({ width: 96 }) }],
        { 'Idempotency-Key': 'station-2-000123' }).expect(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      // Another user's identical key is another capture.
      const other = await postCapture(srv.url, await srv.token('photographer', { subject: 'photographer-8' }), metadata([FOREARM]),
        [{ fileName: 'a.jpg', bytes }], { 'Idempotency-Key': 'station-2-000123' }).expect(202);
      expect(other.body.id).not.toBe(first.body.id);
    });
  });

  describe('derive after every ingest', () => {
    it('makes the thumbnail, default rendering and QA of a photograph that arrived as DICOM', async () => {
      const sop = newUid();
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: await makeVlPhoto({ jpeg: await makeCameraJpeg({ width: 320, height: 240 }), sopUID: sop }) }]);
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${photographer}`).set('Content-Type', contentType).send(body).expect(200);
      const qa = await waitFor(async () => (await srv.runtime.pool.query('SELECT qa FROM instances WHERE sop_uid = $1', [sop])).rows[0]?.qa, Boolean, { timeoutMs: 20_000 });
      expect(qa).toEqual(expect.objectContaining({ width: 320, height: 240, verdict: expect.any(String) }));
      expect((await readdir(path.join(srv.config.dataDir, 'objects', 'derived', sop))).sort()).toEqual(['rendered-f1-q80-256x256.jpg', 'rendered-f1-q90-full.jpg']);
    });
  });

  describe('STOW-RS metadata and bulk data', () => {
    const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
    const dataset = (extra: object = {}) => stowJsonPhotoDataset(extra as Record<string, unknown>);
    const stowJson = (datasets: object[], images: { location: string; type: string; bytes: Buffer }[], token = photographer) => {
      const { body, contentType } = multipartBody([
        { contentType: 'application/dicom+json', body: Buffer.from(JSON.stringify(datasets)) },
        ...images.map((i) => ({ contentType: i.type, headers: { 'Content-Location': i.location }, body: i.bytes })),
      ]);
      return request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${token}`)
        .set('Content-Type', contentType.replace('type="application/dicom"', 'type="application/dicom+json"'))
        .set('Accept', 'application/dicom+json').send(body);
    };

    it('stores a JPEG sent as bulk data and answers 200 only once it is findable', async () => {
      const jpeg = await makeCameraJpeg({ width: 320, height: 240, gps: true });
      const res = await stowJson([dataset()], [{ location: 'http://station.example/photos/1.jpg', type: 'image/jpeg', bytes: jpeg }]).expect(200);
      const ref = jsonValue(res.body, '00081199') as any;
      expect(jsonValue(ref, '00081150')).toBe('1.2.840.10008.5.1.4.1.1.77.1.4');
      const sop = jsonValue(ref, '00081155');
      const found = await request(srv.url).get(`/dicomweb/instances?SOPInstanceUID=${sop}`).set('Authorization', `Bearer ${clinician}`).expect(200);
      expect(found.body).toHaveLength(1);
      const { rows } = await srv.runtime.pool.query("SELECT c.source, r.level FROM captures c JOIN consent_records r ON r.capture_id = c.id WHERE c.study_uid = $1", [jsonValue(found.body[0], '0020000D')]);
      expect(rows).toEqual([{ source: 'stow-rs', level: 'teaching' }]);
    });

    it('yields an instance equivalent to the capture API for the same photograph', async () => {
      const jpeg = await makeCameraJpeg({ width: 320, height: 240 });
      const stowed = await stowJson([dataset()], [{ location: 'http://station.example/photos/1.jpg', type: 'image/jpeg', bytes: jpeg }]).expect(200);
      const stowURL = jsonValue(jsonValue(stowed.body, '00081199') as any, '00081190') as string;
      const captured = await postCapture(srv.url, photographer, {
        ...metadata([{ ...FOREARM, view: { code: '399033003' } }]), consent: { level: 'teaching', recordedBy: 'GRAPHER^P' },
        clinicalNote: 'Lesion, 6 mm.', site: { institution: 'Royal Example Hospital', studio: 'Studio 2' },
      }, [{ fileName: 'a.jpg', bytes: jpeg }]).expect(202);
      const done = await waitForCapture(srv.url, photographer, captured.body.id);
      const a = parsePart10(await instanceBytes(stowURL));
      const b = parsePart10(await instanceBytes(done.files[0].retrieveURL));
      // Identity and creation differ by nature; everything else is the same.
      const differ = ['00020003', '00080018', '0020000D', '0020000E', '00080020', '00080030', '00200010', '00080012', '00080013', '00200011', '00200013'];
      const strip = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).filter(([t]) => !differ.includes(t)));
      expect(strip(a.metadata)).toEqual(strip(b.metadata));
      expect((await decodeVlPhoto(await instanceBytes(stowURL))).frame.equals((await decodeVlPhoto(await instanceBytes(done.files[0].retrieveURL))).frame)).toBe(true);
    });

    it('refuses another patient\'s data set to a patient-context token with 0x0124, storing nothing', async () => {
      const limitedToOther = await srv.token('photographer', { subject: 'photographer-7', patientId: '9449305552' });
      const sop = newUid();
      const jpeg = await makeCameraJpeg();
      const res = await stowJson([dataset({ '00080018': v('UI', sop) })],
        [{ location: 'http://station.example/photos/1.jpg', type: 'image/jpeg', bytes: jpeg }], limitedToOther).expect(409);
      const failed = jsonValue(res.body, '00081198') as any;
      expect(jsonValue(failed, '00081197')).toBe(0x0124);
      const found = await request(srv.url).get(`/dicomweb/instances?SOPInstanceUID=${sop}`).set('Authorization', `Bearer ${clinician}`).expect(200);
      expect(found.body).toEqual([]);
    });

    it('reports bad data sets with PS3.18 failure reasons while storing the good ones', async () => {
      const jpeg = await makeCameraJpeg();
      const res = await stowJson([
        dataset(),
        dataset({ '00100020': v('LO', '9434765910'), '7FE00010': { vr: 'OB', BulkDataURI: 'cid:second' } }),
        dataset({ '7FE00010': { vr: 'OB', BulkDataURI: 'http://station.example/missing.jpg' } }),
      ], [{ location: 'http://station.example/photos/1.jpg', type: 'image/jpeg', bytes: jpeg }]).expect(202);
      const failed = (res.body['00081198'].Value as any[]).map((f) => [jsonValue(f, '00081197'), jsonValue(f, '00000902')]);
      expect(failed).toEqual([
        [0xa900, expect.stringMatching(/NHS number/)],
        [0xc000, expect.stringMatching(/BulkDataURI/)],
      ]);
      expect(res.body['00081199'].Value).toHaveLength(1);
    });

    it('refuses a re-send of a SOP Instance with other data (0x0111), and accepts a corrected re-send of a failed one', async () => {
      const sop = newUid();
      const jpeg = await makeCameraJpeg();
      const withSop = (extra: object = {}) => dataset({ '00080018': v('UI', sop), ...extra });
      const image = (bytes: Buffer) => [{ location: 'http://station.example/photos/1.jpg', type: 'image/jpeg', bytes }];
      await stowJson([withSop()], image(jpeg)).expect(200);
      await stowJson([withSop()], image(jpeg)).expect(200); // the same again: idempotent
      const other = await stowJson([withSop({ '00100010': v('PN', { Alphabetic: 'Jones^Ann' }) })], image(jpeg)).expect(409);
      expect(jsonValue(other.body['00081198'].Value[0], '00081197')).toBe(0x0111);
      // A damaged image fails; the same SOP Instance UID with a good image is then stored.
      const failedSop = newUid();
      const cut = await stowJson([dataset({ '00080018': v('UI', failedSop) })], image(jpeg.subarray(0, Math.floor(jpeg.length * 0.7)))).expect(409);
      expect(jsonValue(cut.body['00081198'].Value[0], '00081197')).toBe(0xc000);
      await stowJson([dataset({ '00080018': v('UI', failedSop) })], image(jpeg)).expect(200);
    });

    it('refuses a second image part at the same location (0xC000), using the first and keeping nothing of the second', async () => {
      const location = 'http://station.example/photos/1.jpg';
      const first = await makeCameraJpeg({ width: 320, height: 240 });
      const second = await makeCameraJpeg({ width: 96 });
      const before = await uploads();
      const res = await stowJson([dataset()], [{ location, type: 'image/jpeg', bytes: first }, { location, type: 'image/jpeg', bytes: second }]).expect(202);
      const failed = (res.body['00081198'].Value as any[]).map((f) => [jsonValue(f, '00081197'), jsonValue(f, '00000902')]);
      expect(failed).toEqual([[0xc000, 'two bulk data parts share this location']]);
      const stored = jsonValue(res.body['00081199'].Value[0], '00081190') as string;
      const { frame } = await decodeVlPhoto(await instanceBytes(stored));
      expect(jpegEntropyCodedData(frame).equals(jpegEntropyCodedData(first))).toBe(true);
      // The one original kept is the first part's, under the stored instance's capture.
      const added = (await uploads()).filter((f) => !before.includes(f));
      expect(added).toHaveLength(1);
      expect((await readFile(added[0])).equals(first)).toBe(true);
    });

    it('refuses a part with a malformed Content-Type as that part\'s failure (0xC000), storing the others', async () => {
      const location = 'http://station.example/photos/1.jpg';
      const jpeg = await makeCameraJpeg();
      const res = await stowJson([dataset()], [
        { location, type: 'image/jpeg', bytes: jpeg }, { location: 'http://station.example/photos/2.jpg', type: 'image/jpeg; =', bytes: jpeg },
      ]).expect(202);
      const failed = (res.body['00081198'].Value as any[]).map((f) => [jsonValue(f, '00081197'), jsonValue(f, '00000902')]);
      expect(failed).toEqual([[0xc000, expect.stringMatching(/malformed Content-Type/)]]);
      expect(res.body['00081199'].Value).toHaveLength(1);
    });

    it('answers 409 when nothing could be stored (a PNG bomb as bulk data)', async () => {
      const res = await stowJson([dataset({ '7FE00010': { vr: 'OB', BulkDataURI: 'bomb' } })], [{ location: 'bomb', type: 'image/png', bytes: pngHeader(60000, 60000) }]).expect(409);
      expect(jsonValue(res.body['00081198'].Value[0], '00081197')).toBe(0xc000);
    });
  });
});
