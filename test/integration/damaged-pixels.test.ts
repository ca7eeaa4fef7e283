/**
 * Damaged pixel data found by the derive job: retrievals that would have to decode it are refused
 * up front (406), never cut off half way through a multipart response; as stored, it is still served.
 */
import request from 'supertest';
import { newUid } from '../../services/core/dicom/index.js';
import { makeJpeg, makeVlPhoto } from '../fixtures/dicom.js';
import { binary, multipartBody, splitMultipart, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

describe('an instance whose pixel data cannot be decoded', () => {
  let srv: TestServer;
  let token: string;
  const study = newUid();
  const series = newUid();
  const good = newUid();
  const damaged = newUid();

  beforeAll(async () => {
    srv = await startTestServer({}, ['api', 'worker']);
    token = await srv.token('epr');
    const jpeg = await makeJpeg(640, 480);
    const patient = { patientID: 'DAMAGED-1', studyUID: study, seriesUID: series };
    const parts = [
      await makeVlPhoto({ ...patient, jpeg, sopUID: good, instanceNumber: 1 }),
      // Half a JPEG (a transfer cut short): the headers parse, the pixels cannot be decoded.
      await makeVlPhoto({ ...patient, jpeg: jpeg.subarray(0, Math.floor(jpeg.length * 0.7)), sopUID: damaged, instanceNumber: 2 }),
    ];
    const { body, contentType } = multipartBody(parts.map((p) => ({ contentType: 'application/dicom', body: p })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${token}`).set('Content-Type', contentType).send(body).expect(200);
    // The derive job renders every stored image; it records the damage.
    const qa = await waitFor(async () => (await srv.runtime.pool.query(`SELECT qa FROM instances WHERE sop_uid = $1`, [damaged])).rows[0]?.qa,
      (value) => Boolean(value?.undecodable), { timeoutMs: 30_000 });
    expect(qa).toEqual({ undecodable: expect.stringMatching(/JPEG|decod/i) });
  });
  afterAll(async () => { await srv?.destroy(); });

  const retrieve = (accept: string) => request(srv.url).get(`/dicomweb/studies/${study}`)
    .set('Authorization', `Bearer ${token}`).set('Accept', accept).buffer(true).parse(binary);

  it('refuses a study retrieve that would have to decode it (406), before sending anything', async () => {
    const res = await retrieve('multipart/related; type="application/dicom"');
    expect(res.status).toBe(406);
  });

  it('still sends the study as stored (transfer-syntax=*), both instances', async () => {
    const res = await retrieve('multipart/related; type="application/dicom"; transfer-syntax=*').expect(200);
    expect(splitMultipart(res.body, res.headers['content-type'])).toHaveLength(2);
  });

  it('still decodes the undamaged instance on its own', async () => {
    await request(srv.url).get(`/dicomweb/studies/${study}/series/${series}/instances/${good}`)
      .set('Authorization', `Bearer ${token}`).set('Accept', 'multipart/related; type="application/dicom"').expect(200);
  });
});
