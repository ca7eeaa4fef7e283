/**
 * GET /api/timeline on a real server: given patient A with a capture of three photographs (two of the
 * right forearm, one of the face, consent for teaching) and two older studies sent by the EPR (one
 * with a structured report, which is no photograph), and patient B with one study, the timeline lists
 * exactly the photographs the caller may see, newest first, with their clinical context, capture
 * details, QA flags and annotation counts.
 */
import request from 'supertest';
import { newUid, TS, writePart10 } from '../../services/core/dicom/index.js';
import { PostgresTimeline } from '../../services/core/index/postgres-timeline.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { postCapture, waitForQa } from '../helpers/capture.js';
import { multipartBody, startTestServer, type TestServer } from '../helpers/server.js';

const A = { patientID: '9434765919', issuer: 'NHS', patientName: 'Timeline^Alice^May', birthDate: '19700506', sex: 'F' };
const B = { patientID: '9449305552', issuer: 'NHS', patientName: 'Timeline^Bob', birthDate: '19800101', sex: 'M' };
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('patient timeline', () => {
  let srv: TestServer;
  const t = {} as Record<'photographer' | 'epr' | 'clinician' | 'viewerA' | 'teaching' | 'admin', string>;
  let capture: any;
  /** A's EPR studies: 2024 (a photograph) and 2025 (a photograph and a structured report). */
  const epr = { old: { study: newUid(), series: newUid(), sop: newUid() }, mid: { study: newUid(), series: newUid(), sop: newUid(), sr: newUid() } };
  const b = { study: newUid(), series: newUid(), sop: newUid() };

  const stow = async (parts: Buffer[], token = t.epr) => {
    const { body, contentType } = multipartBody(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${token}`).set('Content-Type', contentType).send(body).expect(200);
  };
  const timeline = (token: string, query = '') => request(srv.url).get(`/api/timeline${query}`).set('Authorization', `Bearer ${token}`);
  const auditRows = async () => {
    await srv.runtime.audit!.flush();
    return (await srv.runtime.pool.query(`SELECT subject, outcome, status, patient_ids, study_uids, detail FROM audit_events
      WHERE route = '/api/timeline' ORDER BY id`)).rows;
  };

  beforeAll(async () => {
    srv = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0', JOB_RETRY_DELAY_SECONDS: '0' }, ['api', 'worker']);
    t.photographer = await srv.token('photographer', { subject: 'photographer-t' });
    t.epr = await srv.token('epr', { subject: 'epr-t' });
    t.clinician = await srv.token('clinician', { subject: 'dr-t' });
    t.viewerA = await srv.token('clinician', { subject: 'dr-viewer', patientId: A.patientID });
    t.teaching = await srv.token('teaching', { subject: 'teacher-t' });
    t.admin = await srv.token('admin', { subject: 'admin-t' });

    await stow([await makeVlPhoto({ ...A, studyUID: epr.old.study, seriesUID: epr.old.series, sopUID: epr.old.sop, studyDate: '20240101', studyTime: '090000',
      seriesDescription: 'Left knee', extra: { ImageLaterality: 'L', Manufacturer: '', OperatorsName: 'Snapper^Sam' } })]);
    const sr = writePart10({ TransferSyntaxUID: TS.ExplicitVRLittleEndian }, {
      SpecificCharacterSet: 'ISO_IR 192', SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.11', SOPInstanceUID: epr.mid.sr, StudyInstanceUID: epr.mid.study,
      SeriesInstanceUID: newUid(), Modality: 'SR', PatientID: A.patientID, IssuerOfPatientID: 'NHS', PatientName: A.patientName,
      PatientBirthDate: A.birthDate, PatientSex: A.sex, StudyDate: '20250601', StudyTime: '120000', SeriesNumber: '9', InstanceNumber: '1',
      AccessionNumber: 'ACC-2025', StudyDescription: 'Dermatology follow-up',
    });
    await stow([await makeVlPhoto({ ...A, studyUID: epr.mid.study, seriesUID: epr.mid.series, sopUID: epr.mid.sop, studyDate: '20250601',
      studyTime: '120000', accession: 'ACC-2025', studyDescription: 'Dermatology follow-up' }), sr]);
    await stow([await makeVlPhoto({ ...B, studyUID: b.study, seriesUID: b.series, sopUID: b.sop })]);

    // The capture last: its camera dates (EXIF DateTimeOriginal, March 2025) are older than the 2025 EPR photograph.
    const jpeg = (time: string) => makeCameraJpeg({ dateTimeOriginal: `2025:03:04 ${time}` });
    const res = await postCapture(srv.url, t.photographer, {
      patient: { nhsNumber: '943 476 5919', name: { family: 'Timeline', given: ['Alice', 'May'] }, birthDate: '1970-05-06', sex: 'F' },
      consent: { level: 'teaching', recordedBy: 'A Nurse', recordedAt: '2025-03-04T09:00:00Z' },
      photographer: 'GRAPHER^P', site: { institution: 'Royal Example Hospital', studio: 'Studio 2' },
      groups: [
        { bodySite: { code: '70559009' }, laterality: 'R', view: { code: '399033003' }, seriesDescription: 'Right forearm', files: ['arm1.jpg', 'arm2.jpg'] },
        { bodySite: { code: '73897004' }, laterality: 'U', seriesDescription: 'Face', files: ['face.jpg'] },
      ],
    }, [
      { fileName: 'arm1.jpg', bytes: await jpeg('10:11:12') },
      { fileName: 'arm2.jpg', bytes: await jpeg('10:15:00') },
      { fileName: 'face.jpg', bytes: await jpeg('10:20:00') },
    ]).expect(202);
    capture = await waitForQa(srv.url, t.photographer, res.body.id);
    expect(capture.status).toBe('stored');
  });
  afterAll(async () => { await srv?.destroy(); });

  const file = (name: string) => capture.files.find((f: any) => f.fileName === name);

  it('gives a viewer session its patient\'s photographs, newest first, with their context, from the archive', async () => {
    const res = await timeline(t.viewerA).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.patient).toEqual({
      id: '9434765919', issuer: 'NHS', name: { family: 'Timeline', given: ['Alice', 'May'], text: 'Timeline, Alice May' }, birthDate: '1970-05-06', sex: 'F',
    });
    expect(res.body.studies.map((s: any) => s.studyInstanceUID)).toEqual([capture.studyInstanceUID, epr.mid.study, epr.old.study]);
    expect(res.body.studies[1]).toEqual({
      studyInstanceUID: epr.mid.study, date: '2025-06-01', time: '12:00:00', description: 'Dermatology follow-up', accessionNumber: 'ACC-2025', consent: null,
    });
    expect(res.body.studies[0].consent).toEqual({ level: 'teaching', status: 'given', recordedAt: expect.stringMatching(ISO_INSTANT) });

    // Acquisition time first: the 2025-06 EPR photograph, then the capture's (10:20, 10:15, 10:11), then 2024's. No SR.
    expect(res.body.photos.map((p: any) => p.sopInstanceUID)).toEqual([
      epr.mid.sop, file('face.jpg').sopInstanceUID, file('arm2.jpg').sopInstanceUID, file('arm1.jpg').sopInstanceUID, epr.old.sop,
    ]);
    expect(res.body.photos.map((p: any) => p.acquired)).toEqual([
      '2025-06-01T12:00:00', '2025-03-04T10:20:00', '2025-03-04T10:15:00', '2025-03-04T10:11:12', '2024-01-01T09:00:00',
    ]);
    expect(res.body.truncated).toBe(false);

    const arm = res.body.photos[2];
    expect(arm).toEqual({
      studyInstanceUID: capture.studyInstanceUID, seriesInstanceUID: file('arm2.jpg').seriesInstanceUID, sopInstanceUID: file('arm2.jpg').sopInstanceUID,
      sopClassUID: '1.2.840.10008.5.1.4.1.1.77.1.4', instanceNumber: 2, seriesNumber: 1, acquired: '2025-03-04T10:15:00',
      bodySite: { code: '70559009', scheme: 'SCT', meaning: 'Skin of anterior surface of forearm' }, laterality: 'R',
      view: { code: '399033003', scheme: 'SCT', meaning: 'frontal' }, seriesDescription: 'Right forearm',
      photographer: 'GRAPHER, P', institution: 'Royal Example Hospital', station: 'Studio 2', camera: { manufacturer: 'Canon', model: 'EOS R5' },
      rows: 48, columns: 64, qa: file('arm2.jpg').qa, annotations: { calibrated: false, measurements: 0 },
    });
    expect(arm.qa.flags.map((f: any) => f.code)).toContain('LOW_RESOLUTION');
    const face = res.body.photos[1];
    expect([face.bodySite.code, face.laterality, face.view, face.seriesNumber, face.instanceNumber]).toEqual(['73897004', 'U', null, 2, 1]);
    const old = res.body.photos[4];
    expect([old.laterality, old.photographer, old.camera, old.seriesDescription, old.bodySite, old.view, old.institution])
      .toEqual(['L', 'Snapper, Sam', null, 'Left knee', null, null, null]);
  });

  it('answers another patient\'s timeline for a viewer session 404, exactly like an unknown patient, and audits the first as denied', async () => {
    const other = await timeline(t.viewerA, `?patient=${B.patientID}&issuer=NHS`).expect(404);
    const unknown = await timeline(t.viewerA, '?patient=9999999999').expect(404);
    for (const res of [other, unknown]) expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect({ ...other.body, requestId: undefined }).toEqual({ ...unknown.body, requestId: undefined });
    expect(other.body.code).toBe('NOT_FOUND');
    expect(JSON.stringify(other.body)).not.toContain(b.study);
    const rows = (await auditRows()).filter((r) => r.subject === 'dr-viewer' && r.status === 404);
    expect(rows.map((r) => [r.outcome, r.patient_ids, r.detail])).toEqual([
      ['denied', [B.patientID], 'out of patient context; NOT_FOUND'],
      ['denied', ['9999999999'], 'out of patient context; NOT_FOUND'],
    ]);
  });

  it('records the patient and the studies a timeline returned', async () => {
    await timeline(t.viewerA).expect(200);
    const last = (await auditRows()).filter((r) => r.subject === 'dr-viewer' && r.status === 200).at(-1);
    expect(last.outcome).toBe('success');
    expect(last.patient_ids).toEqual([A.patientID]);
    expect([...last.study_uids].sort()).toEqual([capture.studyInstanceUID, epr.mid.study, epr.old.study].sort());
  });

  it('needs a patient from a clinician without a patient context, and shows that patient only', async () => {
    const missing = await timeline(t.clinician).expect(400);
    expect(missing.body.code).toBe('INVALID_QUERY');
    expect(missing.body.detail).toMatch(/patient \(PatientID\) is required/);
    const a = await timeline(t.clinician, `?patient=${A.patientID}`).expect(200);
    expect(a.body.photos).toHaveLength(5);
    const bTimeline = await timeline(t.clinician, '?patient=944+930+5552&issuer=nhs').expect(200);
    expect(bTimeline.body.patient).toMatchObject({ id: B.patientID, name: { text: 'Timeline, Bob' }, sex: 'M' });
    expect(bTimeline.body.photos.map((p: any) => p.sopInstanceUID)).toEqual([b.sop]);
    await timeline(t.clinician, `?patient=${A.patientID}&issuer=RXH`).expect(404);
    // Without a patient context, an unknown patient is an ordinary not-found, not a refusal.
    await timeline(t.clinician, '?patient=9999999999').expect(404);
    const last = (await auditRows()).filter((r) => r.subject === 'dr-t').at(-1);
    expect([last.outcome, last.patient_ids]).toEqual(['not-found', ['9999999999']]);
  });

  it('refuses a PatientID that several issuers use unless the issuer is given', async () => {
    const id = 'H-777';
    for (const issuer of ['RXH', 'OTHER']) {
      await stow([await makeVlPhoto({ patientID: id, issuer, patientName: 'Same^Number', studyUID: newUid(), seriesUID: newUid(), sopUID: newUid() })]);
    }
    const res = await timeline(t.clinician, `?patient=${id}`).expect(400);
    expect(res.body.detail).toMatch(/several patients .* add issuer/);
    const rxh = await timeline(t.clinician, `?patient=${id}&issuer=RXH`).expect(200);
    expect(rxh.body.patient).toMatchObject({ id, issuer: 'RXH' });
    expect(rxh.body.photos).toHaveLength(1);
  });

  it('shows a photographer only their own photographs of today, and nothing the next day', async () => {
    const res = await timeline(t.photographer, `?patient=${A.patientID}`).expect(200);
    expect(res.body.studies.map((s: any) => s.studyInstanceUID)).toEqual([capture.studyInstanceUID]);
    expect(res.body.photos.map((p: any) => p.sopInstanceUID).sort()).toEqual(capture.files.map((f: any) => f.sopInstanceUID).sort());
    await timeline(t.photographer, `?patient=${B.patientID}`).expect(404);
    const other = await srv.token('photographer', { subject: 'another-photographer' });
    await timeline(other, `?patient=${A.patientID}`).expect(404);
  });

  it('refuses teaching accounts (403) and unauthenticated requests (401)', async () => {
    expect((await timeline(t.teaching, `?patient=${A.patientID}`).expect(403)).body.code).toBe('FORBIDDEN');
    await request(srv.url).get('/api/timeline').expect(401);
  });

  it('counts each photograph\'s current calibration and measurements', async () => {
    const sop = file('arm1.jpg').sopInstanceUID;
    const post = (body: object) => request(srv.url).post(`/api/instances/${sop}/annotations`).set('Authorization', `Bearer ${t.viewerA}`).send(body).expect(201);
    await post({ kind: 'calibration', points: [[0, 40], [50, 40]], lengthMm: 10 });
    await post({ kind: 'length', points: [[1, 1], [20, 20]] });
    const removed = await post({ kind: 'angle', points: [[10, 0], [0, 0], [0, 10]] });
    await request(srv.url).delete(`/api/instances/${sop}/annotations/${removed.body.id}`).set('Authorization', `Bearer ${t.viewerA}`).expect(204);
    const res = await timeline(t.viewerA).expect(200);
    const counts = Object.fromEntries(res.body.photos.map((p: any) => [p.sopInstanceUID, p.annotations]));
    expect(counts[sop]).toEqual({ calibrated: true, measurements: 1 });
    expect(counts[file('arm2.jpg').sopInstanceUID]).toEqual({ calibrated: false, measurements: 0 });
  });

  it('lists at most its cap of photographs, the newest, and says it left some out', async () => {
    const capped = await new PostgresTimeline(srv.runtime.pool, 2).timeline({ patientId: A.patientID, issuer: 'NHS' }, {});
    expect(capped.found && [capped.timeline.photos.map((p) => p.sopInstanceUID), capped.timeline.truncated])
      .toEqual([[epr.mid.sop, file('face.jpg').sopInstanceUID], true]);
    const exact = await new PostgresTimeline(srv.runtime.pool, 5).timeline({ patientId: A.patientID }, {});
    expect(exact.found && [exact.timeline.photos.length, exact.timeline.truncated]).toEqual([5, false]);
  });

  // Last: it moves the photographer's work to yesterday.
  it('no longer shows the photographer yesterday\'s work', async () => {
    await srv.runtime.pool.query(`UPDATE instances SET received_at = received_at - interval '1 day' WHERE stored_by = 'photographer-t'`);
    await timeline(t.photographer, `?patient=${A.patientID}`).expect(404);
  });
});
