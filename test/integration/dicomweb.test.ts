/**
 * DICOMweb end to end on a real server: STOW-RS -> QIDO-RS -> WADO-RS (and WADO-URI), auth,
 * transfer-syntax negotiation, rendered/thumbnail, bad input, restart durability.
 */
import sharp from 'sharp';
import request from 'supertest';
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { makeCtImage, makeJpeg, makeSecondaryCaptureRgb, makeVlPhoto } from '../fixtures/dicom.js';
import { parsePart10, newUid, TS } from '../../services/core/dicom/index.js';
import { importJWK, SignJWT } from 'jose';
import { loadOrCreateLocalKey } from '../../services/core/auth/tokens.js';
import { binary, multipartBody, splitMultipart, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { jsonValue } from '../helpers/dicom-json.js';

const dicomAccept = (ts?: string) => `multipart/related; type="application/dicom"${ts ? `; transfer-syntax=${ts}` : ''}`;
const tag = jsonValue;

describe('DICOMweb archive', () => {
  let srv: TestServer;
  let store: string; // photographer token (store + read)
  let read: string;  // clinician token (read only)
  const patient = { patientID: '9434765919', patientName: 'PHOTO^PATIENT^ONE', issuer: 'NHS' };
  const studyUID = newUid();
  const seriesUID = newUid();
  let jpeg: Buffer;
  let photo: Buffer;
  let photoUID: string;

  beforeAll(async () => {
    srv = await startTestServer({ STOW_MAX_PART_MB: '8', STOW_MAX_REQUEST_MB: '64' });
    store = await srv.token('photographer');
    read = await srv.token('clinician');
    jpeg = await makeJpeg(96, 64);
    photoUID = newUid();
    photo = await makeVlPhoto({ jpeg, studyUID, seriesUID, sopUID: photoUID, ...patient, studyDate: '20260110', studyTime: '093000' });
  });
  afterAll(async () => { await srv?.destroy(); });

  const stow = (parts: { contentType?: string; body: Buffer }[], path = '/dicomweb/studies', token = store) => {
    const { body, contentType } = multipartBody(parts);
    return request(srv.url).post(path).set('Authorization', `Bearer ${token}`).set('Content-Type', contentType)
      .set('Accept', 'application/dicom+json').send(body);
  };

  describe('authentication and roles', () => {
    it('answers /healthz and /readyz without a token', async () => {
      await request(srv.url).get('/healthz').expect(200, { status: 'ok' });
      await request(srv.url).get('/readyz').expect(200, { status: 'ready' });
    });
    it('refuses a request without a token with 401, a WWW-Authenticate challenge and problem+json', async () => {
      const res = await request(srv.url).get('/dicomweb/studies').expect(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    });
    it('refuses a forged token with 401', async () => {
      const forged = store.slice(0, -4) + (store.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const res = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${forged}`).expect(401);
      expect(res.body.code).toBe('INVALID_TOKEN');
    });
    it('refuses expired, wrong-issuer, wrong-audience and alg:none tokens with 401', async () => {
      const key = await loadOrCreateLocalKey(srv.config.dataDir);
      const pk = await importJWK(key.privateJwk, 'ES256');
      const now = Math.floor(Date.now() / 1000);
      const sign = (claims: Record<string, unknown>, iss = 'lucida-local', aud = 'lucida') =>
        new SignJWT({ roles: ['clinician'], ...claims }).setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid })
          .setIssuer(iss).setAudience(aud).setSubject('someone').sign(pk);
      const bad = [
        await sign({ iat: now - 7200, exp: now - 3600 }),
        await sign({ exp: now + 600 }, 'https://evil.example'),
        await sign({ exp: now + 600 }, 'lucida-local', 'another-service'),
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x', roles: ['admin'], iss: 'lucida-local', aud: 'lucida', exp: now + 600 })).toString('base64url')}.`,
      ];
      for (const t of bad) {
        const res = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${t}`);
        expect(res.status).toBe(401);
      }
      // The same key, issuer and audience with a valid expiry is accepted: the refusals above are for the reasons named.
      await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${await sign({ exp: now + 600 })}`).expect(200);
    });
    it('refuses STOW from a clinician with 403 (store needs photographer, epr or admin)', async () => {
      const res = await stow([{ contentType: 'application/dicom', body: photo }], '/dicomweb/studies', read);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('FORBIDDEN');
    });
    it('refuses reads from the teaching role with 403', async () => {
      const teaching = await srv.token('teaching');
      await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${teaching}`).expect(403);
    });
  });

  describe('STOW-RS -> QIDO-RS -> WADO-RS', () => {
    it('stores an instance: 200 with ReferencedSOPSequence and RetrieveURLs (PS3.18 §10.5.3)', async () => {
      const res = await stow([{ contentType: 'application/dicom', body: photo }]);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/dicom\+json/);
      const ref = res.body['00081199'].Value[0];
      expect(tag(ref, '00081155')).toBe(photoUID);
      expect(tag(ref, '00081150')).toBe('1.2.840.10008.5.1.4.1.1.77.1.4');
      expect(tag(ref, '00081190')).toBe(`${srv.url}/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`);
      expect(tag(res.body, '00081190')).toBe(`${srv.url}/dicomweb/studies/${studyUID}`);
      expect(res.body['00081198']).toBeUndefined();
    });

    it('finds it at once with QIDO at every level, with counts', async () => {
      const studies = await request(srv.url).get(`/dicomweb/studies?PatientID=${patient.patientID}`)
        .set('Authorization', `Bearer ${read}`).expect(200);
      expect(studies.body).toHaveLength(1);
      expect(tag(studies.body[0], '0020000D')).toBe(studyUID);
      expect(tag(studies.body[0], '00201208')).toBe(1);
      expect(studies.body[0]['00080061'].Value).toEqual(['XC']);
      const series = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series`).set('Authorization', `Bearer ${read}`).expect(200);
      expect(tag(series.body[0], '0020000E')).toBe(seriesUID);
      const instances = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances`)
        .set('Authorization', `Bearer ${read}`).expect(200);
      expect(tag(instances.body[0], '00080018')).toBe(photoUID);
    });

    it('returns the instance byte for byte with transfer-syntax=*', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', dicomAccept('*')).buffer(true).parse(binary).expect(200);
      const parts = splitMultipart(res.body, res.headers['content-type']);
      expect(parts).toHaveLength(1);
      expect(parts[0].headers['content-type']).toBe(`application/dicom; transfer-syntax=${TS.JPEGBaseline8Bit}`);
      expect(parts[0].body.equals(photo)).toBe(true);
    });

    it('returns a single-part application/dicom for an instance when asked', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', 'application/dicom; transfer-syntax=*').buffer(true).parse(binary).expect(200);
      expect(res.body.equals(photo)).toBe(true);
    });

    it('decodes JPEG baseline to Explicit VR Little Endian when no transfer syntax is asked (PS3.18 default)', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', dicomAccept()).buffer(true).parse(binary).expect(200);
      const [part] = splitMultipart(res.body, res.headers['content-type']);
      expect(part.headers['content-type']).toBe(`application/dicom; transfer-syntax=${TS.ExplicitVRLittleEndian}`);
      const parsed = parsePart10(part.body);
      expect(parsed.transferSyntaxUID).toBe(TS.ExplicitVRLittleEndian);
      expect(parsed.sopInstanceUID).toBe(photoUID);
      expect(tag(parsed.metadata, '00280004')).toBe('RGB');
    });

    it('answers 406 for a transfer syntax it cannot produce', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', dicomAccept(TS.JPEG2000Lossless)).expect(406);
      expect(res.body.code).toBe('NOT_ACCEPTABLE');
    });

    it('serves frames as stored (the original JPEG bitstream) and as image/jpeg', async () => {
      const base = `/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}/frames/1`;
      const res = await request(srv.url).get(base).set('Authorization', `Bearer ${read}`)
        .set('Accept', 'multipart/related; type=application/octet-stream; transfer-syntax=*').buffer(true).parse(binary).expect(200);
      const [part] = splitMultipart(res.body, res.headers['content-type']);
      expect(part.headers['content-type']).toBe(`application/octet-stream; transfer-syntax=${TS.JPEGBaseline8Bit}`);
      expect(part.body.subarray(0, jpeg.length).equals(jpeg)).toBe(true);
      const single = await request(srv.url).get(base).set('Authorization', `Bearer ${read}`).set('Accept', 'image/jpeg')
        .buffer(true).parse(binary).expect(200);
      expect((await sharp(single.body).metadata()).width).toBe(96);
      const raw = await request(srv.url).get(base).set('Authorization', `Bearer ${read}`)
        .set('Accept', 'multipart/related; type=application/octet-stream').buffer(true).parse(binary).expect(200);
      const [rawPart] = splitMultipart(raw.body, raw.headers['content-type']);
      expect(rawPart.body.length).toBe(96 * 64 * 3);
    });

    it('takes multipart/* as multipart/related for frames, as for instances and bulk data', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}/frames/1`)
        .set('Authorization', `Bearer ${read}`).set('Accept', 'multipart/*').buffer(true).parse(binary).expect(200);
      expect(res.headers['content-type']).toMatch(/^multipart\/related;/);
      const [part] = splitMultipart(res.body, res.headers['content-type']);
      expect(part.headers['content-type']).toBe(`application/octet-stream; transfer-syntax=${TS.ExplicitVRLittleEndian}`);
      expect(part.body.length).toBe(96 * 64 * 3);
    });

    it('answers 404 for a frame that does not exist', async () => {
      await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}/frames/2`)
        .set('Authorization', `Bearer ${read}`).set('Accept', 'multipart/related; type=application/octet-stream; transfer-syntax=*').expect(404);
    });

    it('renders JPEG and PNG, honours viewport, and caches renderings in the store', async () => {
      const base = `/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`;
      const jpg = await request(srv.url).get(`${base}/rendered?quality=80`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect(jpg.headers['content-type']).toBe('image/jpeg');
      expect(await sharp(jpg.body).metadata()).toMatchObject({ format: 'jpeg', width: 96, height: 64 });
      const png = await request(srv.url).get(`${base}/rendered?viewport=48,48`).set('Authorization', `Bearer ${read}`)
        .set('Accept', 'image/png').buffer(true).parse(binary).expect(200);
      expect(await sharp(png.body).metadata()).toMatchObject({ format: 'png', width: 48, height: 32 });
      const thumb = await request(srv.url).get(`/dicomweb/studies/${studyUID}/thumbnail`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect((await sharp(thumb.body).metadata()).format).toBe('jpeg');
      const derived = await readdir(path.join(srv.config.dataDir, 'objects', 'derived', photoUID));
      expect(derived.length).toBeGreaterThanOrEqual(3);
      await request(srv.url).get(`${base}/rendered?quality=0`).set('Authorization', `Bearer ${read}`).expect(400);
    });

    it('serves metadata with BulkDataURIs that resolve', async () => {
      const ct = await makeCtImage({ studyUID, seriesUID: newUid(), patientID: patient.patientID, patientName: patient.patientName, issuer: 'NHS', transferSyntax: 'implicit', rows: 16, columns: 16 });
      const stored = await stow([{ contentType: 'application/dicom', body: ct }]);
      expect(stored.status).toBe(200);
      const ref = stored.body['00081199'].Value[0];
      const url = new URL(tag(ref, '00081190') as string);
      const meta = await request(srv.url).get(`${url.pathname}/metadata`).set('Authorization', `Bearer ${read}`).expect(200);
      expect(meta.headers['content-type']).toMatch(/application\/dicom\+json/);
      const bulk = meta.body[0]['7FE00010'].BulkDataURI as string;
      expect(bulk.startsWith(`${srv.url}/dicomweb/studies/`)).toBe(true);
      const pixels = await request(srv.url).get(new URL(bulk).pathname).set('Authorization', `Bearer ${read}`)
        .set('Accept', 'application/octet-stream').buffer(true).parse(binary).expect(200);
      expect(pixels.body.length).toBe(16 * 16 * 2);
      // The CT was stored implicit VR: default retrieval converts it to explicit VR LE.
      const res = await request(srv.url).get(url.pathname).set('Authorization', `Bearer ${read}`).set('Accept', dicomAccept())
        .buffer(true).parse(binary).expect(200);
      const [part] = splitMultipart(res.body, res.headers['content-type']);
      expect(parsePart10(part.body).transferSyntaxUID).toBe(TS.ExplicitVRLittleEndian);
      // Study-level metadata lists both instances.
      const studyMeta = await request(srv.url).get(`/dicomweb/studies/${studyUID}/metadata`).set('Authorization', `Bearer ${read}`).expect(200);
      expect(studyMeta.body).toHaveLength(2);
    });

    it('labels compressed pixel bulk data with its transfer syntax and refuses it to clients that did not accept it', async () => {
      const meta = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}/metadata`)
        .set('Authorization', `Bearer ${read}`).expect(200);
      const bulk = new URL(meta.body[0]['7FE00010'].BulkDataURI).pathname;
      const ok = await request(srv.url).get(bulk).set('Authorization', `Bearer ${read}`)
        .set('Accept', 'application/octet-stream; transfer-syntax=*').buffer(true).parse(binary).expect(200);
      expect(ok.headers['content-type']).toBe(`application/octet-stream; transfer-syntax=${TS.JPEGBaseline8Bit}`);
      expect(ok.body.subarray(0, jpeg.length).equals(jpeg)).toBe(true);
      await request(srv.url).get(bulk).set('Authorization', `Bearer ${read}`).set('Accept', 'application/octet-stream').expect(406);
    });

    it('does not let an error response carry the rendered image cache header', async () => {
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}/frames/9/rendered`)
        .set('Authorization', `Bearer ${read}`).expect(404);
      expect(res.headers['cache-control']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    });

    it('serves WADO-URI as application/dicom (byte identical) and image/jpeg', async () => {
      const q = `requestType=WADO&studyUID=${studyUID}&seriesUID=${seriesUID}&objectUID=${photoUID}`;
      const dcm = await request(srv.url).get(`/wado?${q}&contentType=application/dicom`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect(dcm.body.equals(photo)).toBe(true);
      const img = await request(srv.url).get(`/dicomweb/wado?${q}`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect(img.headers['content-type']).toBe('image/jpeg');
      expect((await sharp(img.body).metadata()).width).toBe(96);
      // Renderings are the WADO-RS ones: cached under the same names, served again from the cache.
      const small = await request(srv.url).get(`/wado?${q}&contentType=image/png&rows=32`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect(small.headers['content-type']).toBe('image/png');
      expect(await sharp(small.body).metadata()).toMatchObject({ format: 'png', width: 48, height: 32 });
      expect(await readdir(path.join(srv.config.dataDir, 'objects', 'derived', photoUID))).toContain('rendered-f1-q90-65535x32.png');
      const again = await request(srv.url).get(`/wado?${q}&contentType=image/png&rows=32`).set('Authorization', `Bearer ${read}`)
        .buffer(true).parse(binary).expect(200);
      expect(again.body.equals(small.body)).toBe(true);
      await request(srv.url).get(`/wado?requestType=WADO&studyUID=${studyUID}&seriesUID=${seriesUID}&objectUID=not-a-uid`)
        .set('Authorization', `Bearer ${read}`).expect(400);
      await request(srv.url).get(`/wado?requestType=WADO&studyUID=${studyUID}&seriesUID=${seriesUID}&objectUID=1.2.3.4`)
        .set('Authorization', `Bearer ${read}`).expect(404);
    });
  });

  describe('duplicates and conflicts', () => {
    it('accepts an identical re-send idempotently', async () => {
      const res = await stow([{ contentType: 'application/dicom', body: photo }]);
      expect(res.status).toBe(200);
      expect(tag(res.body['00081199'].Value[0], '00081155')).toBe(photoUID);
    });

    it('refuses a different object under an existing SOP Instance UID (0x0111) and keeps the original', async () => {
      const other = await makeVlPhoto({ jpeg: await makeJpeg(32, 32), studyUID, seriesUID, sopUID: photoUID, ...patient });
      const res = await stow([{ contentType: 'application/dicom', body: other }]);
      expect(res.status).toBe(409);
      expect(tag(res.body['00081198'].Value[0], '00081197')).toBe(0x0111);
      const back = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', 'application/dicom; transfer-syntax=*').buffer(true).parse(binary).expect(200);
      expect(back.body.equals(photo)).toBe(true);
    });

    it('refuses an instance of another study when STOW targets /studies/{uid} (0xA900)', async () => {
      const elsewhere = await makeVlPhoto({ ...patient });
      const res = await stow([{ contentType: 'application/dicom', body: elsewhere }], `/dicomweb/studies/${studyUID}`);
      expect(res.status).toBe(409);
      expect(tag(res.body['00081198'].Value[0], '00081197')).toBe(0xa900);
    });

    it('refuses an instance whose study belongs to another patient, storing nothing', async () => {
      const sop = newUid();
      const wrongPatient = await makeVlPhoto({ studyUID, sopUID: sop, patientID: '9449305552', patientName: 'OTHER^PERSON', issuer: 'NHS' });
      const res = await stow([{ contentType: 'application/dicom', body: wrongPatient }]);
      expect(res.status).toBe(409);
      expect(tag(res.body['00081198'].Value[0], '00081197')).toBe(0xa900);
      const found = await request(srv.url).get(`/dicomweb/instances?SOPInstanceUID=${sop}`).set('Authorization', `Bearer ${read}`).expect(200);
      expect(found.body).toEqual([]);
      const { rows } = await srv.runtime.pool.query('SELECT count(*)::int AS n FROM instances WHERE sop_uid = $1', [sop]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('bad input gets a clear error and loses nothing', () => {
    it('stores the good part and reports the bad one: 202 with FailedSOPSequence 0xC000', async () => {
      const good = await makeSecondaryCaptureRgb({ ...patient });
      const res = await stow([
        { contentType: 'application/dicom', body: good },
        { contentType: 'application/dicom', body: Buffer.from('this is not DICOM at all') },
      ]);
      expect(res.status).toBe(202);
      expect(res.body['00081199'].Value).toHaveLength(1);
      expect(tag(res.body['00081198'].Value[0], '00081197')).toBe(0xc000);
    });

    it('refuses a part with a malformed Content-Type as that part\'s failure (0xC000), storing the others', async () => {
      const sop = newUid();
      const good = await makeVlPhoto({ sopUID: sop, ...patient });
      const res = await stow([
        { contentType: 'application/dicom; =broken', body: Buffer.from('not read') },
        { contentType: 'application/dicom', body: good },
      ]);
      expect(res.status).toBe(202);
      expect(tag(res.body['00081199'].Value[0], '00081155')).toBe(sop);
      const [failed] = res.body['00081198'].Value;
      expect(tag(failed, '00081197')).toBe(0xc000);
      expect(tag(failed, '00000902')).toMatch(/malformed Content-Type/);
    });

    it('answers 409 with a reason when every part fails (missing SOP Instance UID)', async () => {
      const noUid = await makeVlPhoto({ extra: { SOPInstanceUID: undefined } });
      const res = await stow([{ contentType: 'application/dicom', body: noUid }]);
      expect(res.status).toBe(409);
      expect(tag(res.body['00081198'].Value[0], '00081197')).toBe(0xc000);
      expect(tag(res.body['00081198'].Value[0], '00000902')).toMatch(/SOPInstanceUID/);
    });

    it('answers 415 for a body that is not multipart/related', async () => {
      const res = await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', 'application/json').send('{}').expect(415);
      expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', 'multipart/related; type="application/xml"; boundary=x').send('--x--').expect(415);
    });

    it('answers 400 for a missing boundary and for a body without the boundary', async () => {
      const a = await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', 'multipart/related; type="application/dicom"').send(photo).expect(400);
      expect(a.body.code).toBe('MALFORMED_MULTIPART');
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=nowhere').send(photo).expect(400);
    });

    it('answers 400 for a truncated body and stores nothing from the cut part', async () => {
      const sop = newUid();
      const inst = await makeVlPhoto({ sopUID: sop, ...patient });
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: inst }]);
      const cut = body.subarray(0, body.length - 200);
      const res = await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', contentType).send(cut);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('MALFORMED_MULTIPART');
      const { rows } = await srv.runtime.pool.query('SELECT count(*)::int AS n FROM instances WHERE sop_uid = $1', [sop]);
      expect(rows[0].n).toBe(0);
    });

    it('answers 413 for a part over STOW_MAX_PART_MB, and keeps serving', async () => {
      const big = Buffer.alloc(9 * 1024 * 1024, 1);
      const res = await stow([{ contentType: 'application/dicom', body: big }]);
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
      await request(srv.url).get('/healthz').expect(200);
    });

    it('answers 413 at once for a declared body over STOW_MAX_REQUEST_MB', async () => {
      const res = await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${store}`)
        .set('Content-Type', 'multipart/related; type="application/dicom"; boundary=x')
        .set('Content-Length', String(65 * 1024 * 1024 * 1024)).send('--x--');
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('answers 400 for malformed UIDs and 404 for unknown ones', async () => {
      await request(srv.url).get('/dicomweb/studies/not-a-uid/series').set('Authorization', `Bearer ${read}`).expect(400);
      await request(srv.url).get('/dicomweb/studies/1.2.3.999').set('Authorization', `Bearer ${read}`).expect(404);
      await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/1.2.3.999/metadata`).set('Authorization', `Bearer ${read}`).expect(404);
      await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/1.2.3/rendered`).set('Authorization', `Bearer ${read}`).expect(404);
    });

    it('answers 400 problem+json for a malformed percent-escape in the path', async () => {
      const res = await request(srv.url).get('/dicomweb/studies/%E0%A4%A').set('Authorization', `Bearer ${read}`).expect(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      expect(JSON.stringify(res.body)).not.toContain('%E0');
    });

    it('answers 406 for an unsupported Accept', async () => {
      await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${read}`).set('Accept', 'application/dicom+xml').expect(406);
      await request(srv.url).get(`/dicomweb/studies/${studyUID}/metadata`).set('Authorization', `Bearer ${read}`).set('Accept', 'text/html').expect(406);
    });

    it('answers 400 for an invalid QIDO query', async () => {
      const res = await request(srv.url).get('/dicomweb/studies?StudyDate=2026-01-01').set('Authorization', `Bearer ${read}`).expect(400);
      expect(res.body.code).toBe('INVALID_QUERY');
      await request(srv.url).get('/dicomweb/studies?NoSuchKeyword=1').set('Authorization', `Bearer ${read}`).expect(400);
      await request(srv.url).get('/dicomweb/studies?limit=-1').set('Authorization', `Bearer ${read}`).expect(400);
    });

    it('survives a client that disconnects mid-body: stored parts stay whole, the cut part leaves nothing', async () => {
      const first = newUid();
      const cut = newUid();
      const a = await makeVlPhoto({ sopUID: first, ...patient });
      const b = await makeVlPhoto({ sopUID: cut, ...patient, jpeg: await makeJpeg(400, 300) });
      const { body, contentType } = multipartBody([{ contentType: 'application/dicom', body: a }, { contentType: 'application/dicom', body: b }]);
      const sent = body.subarray(0, body.length - Math.floor(b.length / 2));
      await new Promise<void>((resolve) => {
        const url = new URL(`${srv.url}/dicomweb/studies`);
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: {
          Authorization: `Bearer ${store}`, 'Content-Type': contentType, 'Content-Length': String(body.length),
        } });
        req.on('error', () => resolve());
        req.on('response', (res) => { res.resume(); res.on('end', resolve); });
        req.write(sent, () => setTimeout(() => { req.destroy(); resolve(); }, 300));
      });
      await request(srv.url).get('/healthz').expect(200);
      // The first part's store finishes on its own time (the machine may be busy): wait for it to settle.
      const settled = async () => (await srv.runtime.pool.query('SELECT sop_uid, status FROM instances WHERE sop_uid = ANY($1)', [[first, cut]])).rows;
      const rows = await waitFor(settled, (r) => r.length === 1 && r[0].status === 'stored');
      expect(rows).toEqual([{ sop_uid: first, status: 'stored' }]);
      // The client's disconnect is accounted for, and is not reported as a server error.
      const logged = srv.logs.join('');
      expect(logged).toContain('"aborted":true');
      const errors = logged.split('\n').filter((l) => l.includes('"level":50'));
      expect(errors).toEqual([]);
    });

    it('leaves no orphan objects and no pending rows after all of the above', async () => {
      const { rows } = await srv.runtime.pool.query("SELECT object_key FROM instances");
      const pending = await srv.runtime.pool.query("SELECT count(*)::int AS n FROM instances WHERE status = 'pending'");
      expect(pending.rows[0].n).toBe(0);
      const onDisk = await listFiles(path.join(srv.config.dataDir, 'objects', 'instances'));
      expect(onDisk.sort()).toEqual(rows.map((r) => path.join(srv.config.dataDir, 'objects', r.object_key)).sort());
    });
  });

  describe('durability', () => {
    it('keeps every instance across a restart', async () => {
      const before = await request(srv.url).get('/dicomweb/instances').set('Authorization', `Bearer ${read}`).expect(200);
      await srv.stop();
      await srv.restart();
      const after = await request(srv.url).get('/dicomweb/instances').set('Authorization', `Bearer ${read}`).expect(200);
      expect(after.body.map((i: any) => tag(i, '00080018')).sort()).toEqual(before.body.map((i: any) => tag(i, '00080018')).sort());
      const res = await request(srv.url).get(`/dicomweb/studies/${studyUID}/series/${seriesUID}/instances/${photoUID}`)
        .set('Authorization', `Bearer ${read}`).set('Accept', 'application/dicom; transfer-syntax=*').buffer(true).parse(binary).expect(200);
      expect(res.body.equals(photo)).toBe(true);
    });

    it('never logged a patient name or ID', () => {
      const all = srv.logs.join('');
      expect(all.length).toBeGreaterThan(0);
      for (const secret of ['9434765919', '9449305552', 'PHOTO^PATIENT', 'OTHER^PERSON']) expect(all).not.toContain(secret);
      // Access lines name the full route path, without the query string.
      expect(all).toContain('"path":"/dicomweb/studies"');
      expect(all).not.toMatch(/"path":"[^"]*\?/);
    });
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await listFiles(p));
    else out.push(p);
  }
  return out;
}
