/**
 * Calibrations and measurements on a real server (/api/instances/{sop}/annotations): given 640 × 480
 * photographs of patients A and B and a structured report of A's, a viewer session for A calibrates,
 * measures, recalibrates and removes, and every value it reads back is the server's own computation;
 * nothing is ever deleted from the table; another patient's instance is not found.
 */
import request from 'supertest';
import { newUid, TS, writePart10 } from '../../services/core/dicom/index.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { multipartBody, startTestServer, type TestServer } from '../helpers/server.js';

const A = { patientID: '9434765919', issuer: 'NHS', patientName: 'Measure^Alice' };
const B = { patientID: '9449305552', issuer: 'NHS', patientName: 'Measure^Bob' };
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Photo { study: string; series: string; sop: string }
const photo = (): Photo => ({ study: newUid(), series: newUid(), sop: newUid() });

describe('annotations (calibration and measurements)', () => {
  let srv: TestServer;
  const t = {} as Record<'viewerA' | 'clinician' | 'admin' | 'photographer' | 'epr' | 'teaching', string>;
  /** A's photographs: one per scenario, so that each starts uncalibrated. */
  const a = { measure: photo(), recal: photo(), remove: photo(), validate: photo(), race: photo() };
  const b = photo();
  const report = { ...photo() };

  const path = (sop: string) => `/api/instances/${sop}/annotations`;
  const get = (sop: string, token = t.viewerA) => request(srv.url).get(path(sop)).set('Authorization', `Bearer ${token}`);
  const post = (sop: string, body: unknown, token = t.viewerA) => request(srv.url).post(path(sop)).set('Authorization', `Bearer ${token}`).send(body as object);
  const remove = (sop: string, id: string, token = t.viewerA) => request(srv.url).delete(`${path(sop)}/${id}`).set('Authorization', `Bearer ${token}`);
  const values = (body: any) => body.measurements.map((m: any) => [m.kind, m.value, m.unit]);

  beforeAll(async () => {
    srv = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0' });
    t.viewerA = await srv.token('clinician', { subject: 'dr-measure', patientId: A.patientID });
    t.clinician = await srv.token('clinician', { subject: 'dr-other' });
    t.admin = await srv.token('admin', { subject: 'admin-m' });
    t.photographer = await srv.token('photographer', { subject: 'photographer-m' });
    t.epr = await srv.token('epr', { subject: 'epr-m' });
    t.teaching = await srv.token('teaching', { subject: 'teacher-m' });
    const parts: Buffer[] = [];
    for (const p of Object.values(a)) parts.push(await makeVlPhoto({ ...A, studyUID: p.study, seriesUID: p.series, sopUID: p.sop, width: 640, height: 480 }));
    parts.push(await makeVlPhoto({ ...B, studyUID: b.study, seriesUID: b.series, sopUID: b.sop, width: 640, height: 480 }));
    parts.push(writePart10({ TransferSyntaxUID: TS.ExplicitVRLittleEndian }, {
      SpecificCharacterSet: 'ISO_IR 192', SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.11', SOPInstanceUID: report.sop, StudyInstanceUID: report.study,
      SeriesInstanceUID: report.series, Modality: 'SR', PatientID: A.patientID, IssuerOfPatientID: 'NHS', PatientName: A.patientName,
      StudyDate: '20260101', SeriesNumber: '1', InstanceNumber: '1',
    }));
    const { body, contentType } = multipartBody(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${t.epr}`).set('Content-Type', contentType).send(body).expect(200);
  });
  afterAll(async () => { await srv?.destroy(); });

  describe('measuring on one photograph', () => {
    const sop = () => a.measure.sop;
    let calibrationId: string;

    it('starts with nothing: no calibration, no measurements, and the image size', async () => {
      const res = await get(sop()).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ sopInstanceUID: sop(), frame: 1, columns: 640, rows: 480, calibration: null, measurements: [] });
    });

    it('measures in pixels until calibrated', async () => {
      const res = await post(sop(), { kind: 'length', points: [[10, 100], [260, 100]], label: 'Lesion' }).expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(UUID), frame: 1, kind: 'length', points: [[10, 100], [260, 100]], label: 'Lesion',
        value: 250, unit: 'px', createdBy: 'dr-measure', createdAt: expect.stringMatching(ISO_INSTANT),
      });
      expect(res.headers.location).toBe(`${srv.config.publicBaseUrl}${path(sop())}/${res.body.id}`);
    });

    it('calibrates 100 px as 10 mm: the 250 px length then reads 25 mm', async () => {
      const res = await post(sop(), { kind: 'calibration', points: [[100, 400], [200, 400]], lengthMm: 10, label: 'ruler' }).expect(201);
      calibrationId = res.body.id;
      expect(res.body).toEqual({
        id: expect.stringMatching(UUID), frame: 1, points: [[100, 400], [200, 400]], lengthMm: 10, mmPerPixel: 0.1, label: 'ruler',
        createdBy: 'dr-measure', createdAt: expect.stringMatching(ISO_INSTANT),
      });
      const read = await get(sop()).expect(200);
      expect(read.body.calibration).toEqual(res.body);
      expect(values(read.body)).toEqual([['length', 25, 'mm']]);
    });

    it('computes ellipse and freehand areas in mm² and an angle in degrees', async () => {
      // Axes of 100 and 40 px (a = 50, b = 20): π·1000 px² = 31.42 mm² at 0.1 mm/px.
      const ellipse = await post(sop(), { kind: 'ellipse', points: [[300, 250], [300, 150], [280, 200], [320, 200]] }).expect(201);
      expect([ellipse.body.value, ellipse.body.unit]).toEqual([31.42, 'mm2']);
      const square = await post(sop(), { kind: 'freehand', points: [[400, 100], [500, 100], [500, 200], [400, 200]] }).expect(201);
      expect([square.body.value, square.body.unit]).toEqual([100, 'mm2']);
      const angle = await post(sop(), { kind: 'angle', points: [[100, 300], [50, 300], [50, 250]] }).expect(201);
      expect([angle.body.value, angle.body.unit]).toEqual([90, 'deg']);
      const read = await get(sop()).expect(200);
      expect(values(read.body)).toEqual([['length', 25, 'mm'], ['ellipse', 31.42, 'mm2'], ['freehand', 100, 'mm2'], ['angle', 90, 'deg']]);
      expect(read.body.calibration.id).toBe(calibrationId);
    });

    it('shows the same values to another clinician and to an admin (they are computed, not stored per viewer)', async () => {
      for (const token of [t.clinician, t.admin, t.epr]) {
        expect(values((await get(sop(), token).expect(200)).body)).toEqual([['length', 25, 'mm'], ['ellipse', 31.42, 'mm2'], ['freehand', 100, 'mm2'], ['angle', 90, 'deg']]);
      }
    });
  });

  it('recalibrates: the new ruler supersedes the old one, every value follows, and the old one is kept as removed', async () => {
    const sop = a.recal.sop;
    const first = await post(sop, { kind: 'calibration', points: [[100, 400], [200, 400]], lengthMm: 10 }).expect(201);
    await post(sop, { kind: 'length', points: [[0, 0], [0, 250]] }).expect(201);
    await post(sop, { kind: 'ellipse', points: [[300, 250], [300, 150], [280, 200], [320, 200]] }).expect(201);
    await post(sop, { kind: 'freehand', points: [[400, 100], [500, 100], [500, 200], [400, 200]] }).expect(201);
    await post(sop, { kind: 'angle', points: [[100, 300], [50, 300], [50, 250]] }).expect(201);
    expect(values((await get(sop).expect(200)).body)).toEqual([['length', 25, 'mm'], ['ellipse', 31.42, 'mm2'], ['freehand', 100, 'mm2'], ['angle', 90, 'deg']]);

    // The same 10 mm now spans 200 px: 0.05 mm per pixel.
    const second = await post(sop, { kind: 'calibration', points: [[100, 400], [300, 400]], lengthMm: 10 }, t.admin).expect(201);
    expect(second.body.mmPerPixel).toBe(0.05);
    const read = await get(sop).expect(200);
    expect(read.body.calibration).toMatchObject({ id: second.body.id, lengthMm: 10, mmPerPixel: 0.05, createdBy: 'admin-m' });
    expect(values(read.body)).toEqual([['length', 12.5, 'mm'], ['ellipse', 7.85, 'mm2'], ['freehand', 25, 'mm2'], ['angle', 90, 'deg']]);

    const { rows } = await srv.runtime.pool.query(
      `SELECT id, removed_at IS NOT NULL AS removed, removed_by FROM annotations WHERE sop_instance_uid = $1 AND kind = 'calibration' ORDER BY created_at`, [sop]);
    expect(rows).toEqual([{ id: first.body.id, removed: true, removed_by: 'admin-m' }, { id: second.body.id, removed: false, removed_by: null }]);
  });

  it('removes a measurement or the calibration without deleting anything, and only once', async () => {
    const sop = a.remove.sop;
    const calibration = await post(sop, { kind: 'calibration', points: [[0, 10], [100, 10]], lengthMm: 20 }).expect(201);
    const kept = await post(sop, { kind: 'length', points: [[0, 50], [50, 50]] }).expect(201);
    const gone = await post(sop, { kind: 'angle', points: [[10, 0], [0, 0], [0, 10]] }).expect(201);
    expect(kept.body).toMatchObject({ value: 10, unit: 'mm' });

    const res = await remove(sop, gone.body.id).expect(204);
    expect(res.text).toBe('');
    expect((await get(sop).expect(200)).body.measurements.map((m: any) => m.id)).toEqual([kept.body.id]);
    expect((await remove(sop, gone.body.id).expect(404)).body.code).toBe('NOT_FOUND');
    await remove(sop, '00000000-0000-4000-8000-000000000000').expect(404);
    await remove(sop, 'not-a-uuid').expect(404);
    // An annotation is removed through its own instance only.
    await remove(a.measure.sop, kept.body.id).expect(404);

    // Without its calibration the frame measures in pixels again.
    await remove(sop, calibration.body.id.toUpperCase()).expect(204);
    const read = await get(sop).expect(200);
    expect(read.body.calibration).toBeNull();
    expect(values(read.body)).toEqual([['length', 50, 'px']]);

    const { rows } = await srv.runtime.pool.query(
      'SELECT kind, removed_by FROM annotations WHERE sop_instance_uid = $1 ORDER BY created_at', [sop]);
    expect(rows).toEqual([{ kind: 'calibration', removed_by: 'dr-measure' }, { kind: 'length', removed_by: null }, { kind: 'angle', removed_by: 'dr-measure' }]);
  });

  it('keeps exactly one current calibration when several are saved at once', async () => {
    const sop = a.race.sop;
    const saved = await Promise.all([10, 20, 30, 40, 50].map((mm) => post(sop, { kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: mm })));
    expect(saved.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    const { rows } = await srv.runtime.pool.query(
      'SELECT count(*)::int AS n FROM annotations WHERE sop_instance_uid = $1 AND removed_at IS NULL', [sop]);
    expect(rows[0].n).toBe(1);
    expect(saved.map((r) => r.body.id)).toContain((await get(sop).expect(200)).body.calibration.id);
  });

  describe('refuses bad requests with a reason (400)', () => {
    const cases: [string, unknown, RegExp][] = [
      ['an unknown kind', { kind: 'arrow', points: [[0, 0], [1, 1]] }, /kind must be one of/],
      ['a length with three points', { kind: 'length', points: [[0, 0], [1, 1], [2, 2]] }, /exactly 2 \[x, y\] pairs for a length/],
      ['an ellipse with two points', { kind: 'ellipse', points: [[0, 0], [1, 1]] }, /exactly 4 .* for an ellipse/],
      ['an angle with four points', { kind: 'angle', points: [[0, 0], [1, 1], [2, 2], [3, 3]] }, /exactly 3 .* for an angle/],
      ['a freehand outline with two points', { kind: 'freehand', points: [[0, 0], [1, 1]] }, /3 to 1000/],
      ['a point that is not two numbers', { kind: 'length', points: [[0, 0], [1, '1']] }, /points\[1\] must be \[x, y\]/],
      ['a point off the image', { kind: 'length', points: [[0, 0], [641, 10]] }, /points\[1\] lies outside the image: x must be within 0..640 \(columns\) and y within 0..480/],
      ['a negative coordinate', { kind: 'length', points: [[0, -1], [10, 10]] }, /points\[0\] lies outside the image/],
      ['a calibration without lengthMm', { kind: 'calibration', points: [[0, 0], [100, 0]] }, /needs lengthMm/],
      ['a calibration of 0 mm', { kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 0 }, /more than 0 and at most 10000/],
      ['a calibration over 10 m', { kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 10_001 }, /at most 10000/],
      ['a calibration under a pixel long', { kind: 'calibration', points: [[10, 10], [10.5, 10.5]], lengthMm: 1 }, /at least 1 pixel apart/],
      ['lengthMm on a length', { kind: 'length', points: [[0, 0], [100, 0]], lengthMm: 5 }, /lengthMm is only for a calibration/],
      ['a label over 64 characters', { kind: 'length', points: [[0, 0], [1, 1]], label: 'x'.repeat(65) }, /label must be at most 64 characters/],
      ['a frame the photograph does not have', { kind: 'length', points: [[0, 0], [1, 1]], frame: 2 }, /frame 2 does not exist/],
      ['an unknown member', { kind: 'length', points: [[0, 0], [1, 1]], colour: 'red' }, /unknown member/],
      ['an array', [{ kind: 'length' }], /JSON object/],
    ];
    it.each(cases)('%s', async (_name, body, reason) => {
      const res = await post(a.validate.sop, body).expect(400);
      expect(res.body.code).toBe('BAD_REQUEST');
      expect(res.body.detail).toMatch(reason);
    });

    it('and stores none of them', async () => {
      expect((await get(a.validate.sop).expect(200)).body).toMatchObject({ calibration: null, measurements: [] });
    });

    it('takes JSON only (415), up to 64 KB (413), and well formed (400)', async () => {
      const raw = (contentType: string, body: string | Buffer) => request(srv.url).post(path(a.validate.sop))
        .set('Authorization', `Bearer ${t.viewerA}`).set('Content-Type', contentType).send(body);
      expect((await raw('text/plain', '{"kind":"length"}').expect(415)).body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      await raw('application/json; charset=latin1', '{}').expect(415);
      expect((await raw('application/json', '{"kind":').expect(400)).body.detail).toMatch(/not valid JSON/);
      const big = JSON.stringify({ kind: 'freehand', points: Array.from({ length: 1000 }, () => [123.456789012345, 234.567890123456]), label: 'x' });
      expect(Buffer.byteLength(big)).toBeLessThan(64 * 1024);
      await raw('application/json', big).expect(201);
      await raw('application/json', `${big}${' '.repeat(64 * 1024)}`).expect(413);
    });

    it('refuses a malformed UID (400) and a bad frame query (400)', async () => {
      expect((await get('1.2.x').expect(400)).body.code).toBe('INVALID_UID');
      expect((await request(srv.url).get(`${path(a.validate.sop)}?frame=0`).set('Authorization', `Bearer ${t.viewerA}`).expect(400)).body.code).toBe('INVALID_QUERY');
      await request(srv.url).get(`${path(a.validate.sop)}?frame=2`).set('Authorization', `Bearer ${t.viewerA}`).expect(400);
    });
  });

  it('answers 409 NO_PIXEL_DATA for an instance that is not an image', async () => {
    const res = await get(report.sop).expect(409);
    expect(res.body).toMatchObject({ code: 'NO_PIXEL_DATA', detail: expect.stringMatching(/no pixel data/) });
    expect((await post(report.sop, { kind: 'length', points: [[0, 0], [1, 1]] }).expect(409)).body.code).toBe('NO_PIXEL_DATA');
  });

  it('finds another patient\'s photograph nowhere: 404 like an unknown UID, audited as denied', async () => {
    const byClinician = await post(b.sop, { kind: 'length', points: [[0, 0], [10, 10]] }, t.clinician).expect(201);
    const other = await get(b.sop).expect(404);
    const unknown = await get(newUid()).expect(404);
    expect({ ...other.body, requestId: undefined }).toEqual({ ...unknown.body, requestId: undefined });
    await post(b.sop, { kind: 'length', points: [[0, 0], [10, 10]] }).expect(404);
    await remove(b.sop, byClinician.body.id).expect(404);
    await srv.runtime.audit!.flush();
    const { rows } = await srv.runtime.pool.query(
      `SELECT action, method, outcome, patient_ids, sop_instance_uids FROM audit_events WHERE subject = 'dr-measure' AND status = 404 AND $1 = ANY(sop_instance_uids) ORDER BY id`,
      [b.sop]);
    expect(rows.map((r) => [r.action, r.method, r.outcome, r.patient_ids])).toEqual([
      ['read', 'GET', 'denied', [B.patientID]], ['annotate', 'POST', 'denied', [B.patientID]], ['annotate', 'DELETE', 'denied', [B.patientID]],
    ]);
    // B's photograph kept its measurement.
    expect((await get(b.sop, t.clinician).expect(200)).body.measurements.map((m: any) => m.id)).toEqual([byClinician.body.id]);
  });

  it('lets only clinicians and admins annotate (photographer, EPR and teaching: 403); a photographer reads only their own of today', async () => {
    for (const token of [t.photographer, t.epr, t.teaching]) {
      const res = await post(a.measure.sop, { kind: 'length', points: [[0, 0], [10, 10]] }, token).expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
      await remove(a.measure.sop, '00000000-0000-4000-8000-000000000000', token).expect(403);
    }
    await get(a.measure.sop, t.photographer).expect(404);
    await get(a.measure.sop, t.teaching).expect(403);
    await request(srv.url).get(path(a.measure.sop)).expect(401);
  });

  it('audits what each annotation request touched', async () => {
    const created = await post(a.measure.sop, { kind: 'length', points: [[5, 5], [6, 6]] }).expect(201);
    await remove(a.measure.sop, created.body.id).expect(204);
    await srv.runtime.audit!.flush();
    const { rows } = await srv.runtime.pool.query(
      `SELECT action, method, outcome, route, patient_ids, study_uids, series_uids, sop_instance_uids, detail FROM audit_events
       WHERE subject = 'dr-measure' AND status IN (201, 204) ORDER BY id DESC LIMIT 2`);
    const touched = { outcome: 'success', patient_ids: [A.patientID], study_uids: [a.measure.study], series_uids: [a.measure.series], sop_instance_uids: [a.measure.sop] };
    expect(rows.reverse()).toEqual([
      { action: 'annotate', method: 'POST', route: '/api/instances/:sop/annotations', detail: `annotation ${created.body.id} (length)`, ...touched },
      { action: 'annotate', method: 'DELETE', route: '/api/instances/:sop/annotations/:id', detail: `annotation ${created.body.id} removed`, ...touched },
    ]);
  });
});
