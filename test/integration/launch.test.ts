/**
 * Viewer launch end to end on a real server: an EPR (or a signed-in clinician through IHE IID)
 * gets a one-time launch URL; the viewer exchanges its code once for a patient-scoped session token
 * and a refresh cookie; refresh, reuse and end of the session; who may launch; bad requests.
 */
import request from 'supertest';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { newUid } from '../../services/core/dicom/index.js';
import { multipartBody, startTestServer, type TestServer } from '../helpers/server.js';
import { jsonValue } from '../helpers/dicom-json.js';

const PATIENT_A = { id: '9434765919', issuer: 'NHS', name: 'LAUNCH^ALICE' };
const PATIENT_B = { id: '9449305552', issuer: 'NHS', name: 'LAUNCH^BOB' };
const USER = { id: 'jsmith', name: 'Dr Jane Smith' };
const VIEWER = { 'X-Requested-With': 'lucida-viewer' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('viewer launch', () => {
  let srv: TestServer;
  let epr: string;
  const studyA = newUid();
  const studyB = newUid();

  beforeAll(async () => {
    srv = await startTestServer();
    epr = await srv.token('epr', { subject: 'epr-system' });
    const photos = [
      await makeVlPhoto({ studyUID: studyA, patientID: PATIENT_A.id, issuer: 'NHS', patientName: PATIENT_A.name, accession: 'ACC-A' }),
      await makeVlPhoto({ studyUID: studyB, patientID: PATIENT_B.id, issuer: 'NHS', patientName: PATIENT_B.name, accession: 'ACC-B' }),
    ];
    const { body, contentType } = multipartBody(photos.map((p) => ({ contentType: 'application/dicom', body: p })));
    await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${epr}`).set('Content-Type', contentType)
      .set('Accept', 'application/dicom+json').send(body).expect(200);
  });
  afterAll(async () => { await srv?.destroy(); });

  const launch = (body: unknown, token = epr) =>
    request(srv.url).post('/api/launch').set('Authorization', `Bearer ${token}`).send(body as object);
  const codeOf = (url: string) => new URL(url).hash.replace(/^#launch=/, '');
  const exchange = (code: string) => request(srv.url).post('/api/launch/exchange').send({ code });
  const launchCode = async (body: unknown) => codeOf((await launch(body).expect(201)).body.url);

  /** The refresh cookie a response set: name=value, and its attributes. */
  function cookieOf(res: request.Response): { pair: string; attributes: string } {
    const header = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(header).toHaveLength(1);
    const i = header[0].indexOf(';');
    return { pair: header[0].slice(0, i), attributes: header[0].slice(i + 1) };
  }
  const refresh = (launchId: string, cookie: string, headers: Record<string, string> = VIEWER) =>
    request(srv.url).post('/api/session/refresh').set('Cookie', cookie).set('X-Lucida-Launch', launchId).set(headers);
  const studiesSeenWith = async (token: string) => {
    const res = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${token}`).expect(200);
    return (res.body as Record<string, unknown>[]).map((s) => jsonValue(s as never, '0020000D')).sort();
  };

  describe('POST /api/launch and the exchange', () => {
    it('launches by patient: a one-time URL with the code in the fragment, then a session limited to that patient', async () => {
      const res = await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER, reason: 'clinic review' }).expect(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body.launchId).toMatch(UUID);
      expect(res.body.url).toMatch(new RegExp(`^${srv.config.publicBaseUrl}/viewer/#launch=[A-Za-z0-9_-]{43}$`));
      const ttl = (Date.parse(res.body.expiresAt) - Date.now()) / 1000;
      expect(ttl).toBeGreaterThan(srv.config.session.launchTtlSeconds - 10);
      expect(ttl).toBeLessThanOrEqual(srv.config.session.launchTtlSeconds + 1);

      // Only the code's hash is stored.
      const code = codeOf(res.body.url);
      const { rows } = await srv.runtime.pool.query('SELECT code_hash, user_id, user_name, client_id, launched_by, via, reason FROM viewer_launches WHERE id = $1',
        [res.body.launchId]);
      expect(rows[0]).toEqual({
        code_hash: expect.not.stringContaining(code), user_id: 'jsmith', user_name: 'Dr Jane Smith', client_id: 'epr-system',
        launched_by: 'epr-system', via: 'epr', reason: 'clinic review',
      });

      const session = await exchange(code).expect(200);
      expect(session.headers['cache-control']).toBe('no-store');
      expect(session.body).toEqual({
        accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: srv.config.session.tokenTtlSeconds, expiresAt: expect.any(String),
        sessionExpiresAt: expect.any(String), launchId: res.body.launchId, patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER,
      });
      const cookie = cookieOf(session);
      expect(cookie.pair).toMatch(new RegExp(`^lucida-session-${res.body.launchId}=[A-Za-z0-9_-]{43}$`));
      expect(cookie.attributes).toMatch(/HttpOnly/);
      expect(cookie.attributes).toMatch(/SameSite=Strict/);
      expect(cookie.attributes).toMatch(/Path=\/api\/session(;|$)/);
      expect(cookie.attributes).not.toMatch(/Secure/); // http here; see the https server below
      const maxAge = Number(cookie.attributes.match(/Max-Age=(\d+)/)![1]);
      expect(maxAge).toBeGreaterThan(srv.config.session.maxSeconds - 60);
      expect(maxAge).toBeLessThanOrEqual(srv.config.session.maxSeconds);

      // The session token reads, and only patient A's data.
      const token = session.body.accessToken as string;
      expect(await studiesSeenWith(token)).toEqual([studyA]);
      await request(srv.url).get(`/dicomweb/studies/${studyB}/metadata`).set('Authorization', `Bearer ${token}`).expect(404);
      await request(srv.url).get(`/dicomweb/studies/${studyA}/metadata`).set('Authorization', `Bearer ${token}`).expect(200);
    });

    it('launches by study: the patient comes from the index', async () => {
      const session = await exchange(await launchCode({ studyUID: studyB, user: { id: 'jsmith' } })).expect(200);
      expect(session.body).toMatchObject({ patient: { id: PATIENT_B.id, issuer: 'NHS' }, studyUID: studyB, studyUIDs: [studyB], user: { id: 'jsmith' } });
      expect(await studiesSeenWith(session.body.accessToken)).toEqual([studyB]);
    });

    it('launches by patient and study when the study is that patient\'s; otherwise 404', async () => {
      await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, studyUID: studyA, user: USER }).expect(201);
      const res = await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, studyUID: studyB, user: USER }).expect(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    });

    it('answers 404 for an unknown study', async () => {
      const res = await launch({ studyUID: newUid(), user: USER }).expect(404);
      expect(res.body.code).toBe('NOT_FOUND');
    });

    it('a code works once', async () => {
      const code = await launchCode({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER });
      await exchange(code).expect(200);
      const again = await exchange(code).expect(401);
      expect(again.body.code).toBe('INVALID_LAUNCH');
      expect(again.headers['set-cookie']).toBeUndefined();
    });

    it('of concurrent exchanges of one code exactly one succeeds', async () => {
      const code = await launchCode({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER });
      const results = await Promise.all(Array.from({ length: 6 }, () => exchange(code)));
      expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    });

    it('an expired, unknown or malformed code gets the same 401', async () => {
      const res = await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }).expect(201);
      // The code lives LAUNCH_TTL_SECONDS, by the database's clock...
      const { rows: [ttl] } = await srv.runtime.pool.query(
        'SELECT extract(epoch FROM expires_at - created_at)::int AS seconds FROM viewer_launches WHERE id = $1', [res.body.launchId]);
      expect(ttl.seconds).toBe(srv.config.session.launchTtlSeconds);
      // ...after which it is refused: move its end into the past rather than wait.
      await srv.runtime.pool.query(`UPDATE viewer_launches SET expires_at = now() - interval '1 second' WHERE id = $1`, [res.body.launchId]);
      const expired = await exchange(codeOf(res.body.url)).expect(401);
      const unknown = await exchange('A'.repeat(43)).expect(401);
      const malformed = await exchange('not-a-code').expect(401);
      for (const r of [expired, unknown, malformed]) {
        expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
        expect({ code: r.body.code, detail: r.body.detail }).toEqual({ code: expired.body.code, detail: expired.body.detail });
      }
      expect(expired.body.code).toBe('INVALID_LAUNCH');
    });
  });

  describe('the session', () => {
    async function startSession(patient = PATIENT_A) {
      const res = await exchange(await launchCode({ patient: { id: patient.id, issuer: 'NHS' }, user: USER })).expect(200);
      return { launchId: res.body.launchId as string, cookie: cookieOf(res).pair, token: res.body.accessToken as string };
    }

    it('refreshes with the cookie and the viewer header: a new token, a new cookie, the old one spent', async () => {
      const s = await startSession();
      const r = await refresh(s.launchId, s.cookie).expect(200);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.body).toMatchObject({ tokenType: 'Bearer', launchId: s.launchId, patient: { id: PATIENT_A.id, issuer: 'NHS' } });
      expect(r.body.accessToken).not.toBe(s.token);
      expect(await studiesSeenWith(r.body.accessToken)).toEqual([studyA]);
      const next = cookieOf(r).pair;
      expect(next).not.toBe(s.cookie);
      await refresh(s.launchId, next).expect(200);
    });

    it('presenting a replaced cookie again revokes the session (a copy was used)', async () => {
      const s = await startSession();
      const next = cookieOf(await refresh(s.launchId, s.cookie).expect(200)).pair;
      const reused = await refresh(s.launchId, s.cookie).expect(401);
      expect(reused.body.code).toBe('INVALID_TOKEN');
      expect(cookieOf(reused).attributes).toMatch(/Max-Age=0/);
      await refresh(s.launchId, next).expect(401);
      const { rows: [row] } = await srv.runtime.pool.query('SELECT revoked_at FROM viewer_launches WHERE id = $1', [s.launchId]);
      expect(row.revoked_at).toBeInstanceOf(Date);
    });

    it('refuses a refresh without the viewer header (403), without the launch or cookie (401)', async () => {
      const s = await startSession();
      const noHeader = await refresh(s.launchId, s.cookie, {}).expect(403);
      expect(noHeader.body.code).toBe('FORBIDDEN');
      await refresh(s.launchId, s.cookie, { 'X-Requested-With': 'XMLHttpRequest' }).expect(403);
      await request(srv.url).post('/api/session/refresh').set('Cookie', s.cookie).set(VIEWER).expect(401);
      await request(srv.url).post('/api/session/refresh').set('X-Lucida-Launch', s.launchId).set(VIEWER).expect(401);
      // None of these spent the cookie.
      await refresh(s.launchId, s.cookie).expect(200);
    });

    it('keeps two launches in one browser apart: each refresh gets its own patient', async () => {
      const a = await startSession(PATIENT_A);
      const b = await startSession(PATIENT_B);
      const jar = `${a.cookie}; ${b.cookie}`;
      const ra = await refresh(a.launchId, jar).expect(200);
      expect(ra.body.patient.id).toBe(PATIENT_A.id);
      const rb = await refresh(b.launchId, jar).expect(200);
      expect(rb.body.patient.id).toBe(PATIENT_B.id);
      // A cookie of launch B does not refresh launch A.
      await refresh(a.launchId, b.cookie.replace(b.launchId, a.launchId)).expect(401);
    });

    it('DELETE /api/session ends it: cookie cleared, no more refreshes', async () => {
      const s = await startSession();
      await request(srv.url).delete('/api/session').set('Cookie', s.cookie).set('X-Lucida-Launch', s.launchId).expect(403);
      const end = await request(srv.url).delete('/api/session').set('Cookie', s.cookie).set('X-Lucida-Launch', s.launchId).set(VIEWER).expect(204);
      expect(cookieOf(end).attributes).toMatch(/Max-Age=0/);
      await refresh(s.launchId, s.cookie).expect(401);
    });

    it('ends SESSION_MAX_HOURS after the launch', async () => {
      const s = await startSession();
      await srv.runtime.pool.query(`UPDATE viewer_launches SET session_expires_at = now() - interval '1 second' WHERE id = $1`, [s.launchId]);
      await refresh(s.launchId, s.cookie).expect(401);
    });

    it('a session token cannot launch, use IID or read the audit trail', async () => {
      const s = await startSession();
      await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }, s.token).expect(403);
      await request(srv.url).get(`/IHEInvokeImageDisplay?requestType=STUDY&studyUID=${studyA}`).set('Authorization', `Bearer ${s.token}`).expect(403);
      await request(srv.url).get('/api/audit').set('Authorization', `Bearer ${s.token}`).expect(403);
    });
  });

  describe('who may launch', () => {
    it.each(['clinician', 'photographer', 'admin', 'teaching'])('not a %s (403)', async (role) => {
      const res = await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }, await srv.token(role)).expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
    });

    it('not an EPR token limited to one patient (403)', async () => {
      const scoped = await srv.token('epr', { subject: 'epr-system', patientId: PATIENT_A.id });
      await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }, scoped).expect(403);
    });

    it('not without a token (401)', async () => {
      await request(srv.url).post('/api/launch').send({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }).expect(401);
    });

    it('for the user the EPR says it acts for, if it says', async () => {
      await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }).set('X-On-Behalf-Of', 'someone-else').expect(400);
      await launch({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }).set('X-On-Behalf-Of', 'jsmith').expect(201);
    });
  });

  describe('bad requests', () => {
    const post = (body: string | Buffer, type: string) => request(srv.url).post('/api/launch')
      .set('Authorization', `Bearer ${epr}`).set('Content-Type', type).send(body);

    it.each<[string, string | Buffer, string, number, string]>([
      ['a form body', 'patient=9434765919', 'application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['JSON in another charset', '{}', 'application/json; charset=latin1', 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['broken JSON', '{"patient":', 'application/json', 400, 'BAD_REQUEST'],
      ['an invalid NHS number', JSON.stringify({ patient: { id: '9434765918', issuer: 'NHS' }, user: USER }), 'application/json', 400, 'BAD_REQUEST'],
      ['no user', JSON.stringify({ patient: { id: PATIENT_A.id, issuer: 'NHS' } }), 'application/json', 400, 'BAD_REQUEST'],
      ['an invalid study UID', JSON.stringify({ studyUID: '1.2.abc', user: USER }), 'application/json', 400, 'INVALID_UID'],
      ['a body over 16 kB', JSON.stringify({ studyUID: studyA, user: USER, reason: 'x'.repeat(17_000) }), 'application/json', 413, 'PAYLOAD_TOO_LARGE'],
    ])('refuses %s', async (_what, body, type, status, code) => {
      const res = await post(body, type).expect(status);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe(code);
    });

    it('refuses an exchange that is not { code } JSON', async () => {
      await request(srv.url).post('/api/launch/exchange').set('Content-Type', 'text/plain').send('abc').expect(415);
      const res = await request(srv.url).post('/api/launch/exchange').send({ launch: 'abc' }).expect(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    });
  });

  describe('IHE Invoke Image Display', () => {
    let clinician: string;
    beforeAll(async () => { clinician = await srv.token('clinician', { subject: 'dr.who' }); });
    const iid = (query: string, token = clinician) => request(srv.url).get(`/IHEInvokeImageDisplay?${query}`).set('Authorization', `Bearer ${token}`).redirects(0);
    const redirectCode = (res: request.Response) => {
      expect(res.headers.location).toMatch(new RegExp(`^${srv.config.publicBaseUrl}/viewer/#launch=[A-Za-z0-9_-]{43}$`));
      expect(res.headers['cache-control']).toBe('no-store');
      return codeOf(res.headers.location);
    };

    it('PATIENT redirects to a launch for the signed-in user; the code exchanges', async () => {
      const res = await iid(`requestType=PATIENT&patientID=${encodeURIComponent(`${PATIENT_A.id}^^^&2.16.840.1.113883.2.1.4.1&ISO`)}&viewerType=IHE_BIR&diagnosticQuality=true`).expect(302);
      const session = await exchange(redirectCode(res)).expect(200);
      expect(session.body).toMatchObject({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: { id: 'dr.who' } });
      expect(await studiesSeenWith(session.body.accessToken)).toEqual([studyA]);
    });

    it('STUDY redirects, by study UID or accession number', async () => {
      const byUid = await exchange(redirectCode(await iid(`requestType=STUDY&studyUID=${studyB}&keyImagesOnly=false`).expect(302))).expect(200);
      expect(byUid.body).toMatchObject({ patient: { id: PATIENT_B.id, issuer: 'NHS' }, studyUIDs: [studyB] });
      const byAccession = await exchange(redirectCode(await iid('requestType=STUDY&accessionNumber=ACC-A').expect(302))).expect(200);
      expect(byAccession.body).toMatchObject({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, studyUIDs: [studyA] });
    });

    it('answers 404 for an unknown study or accession number, or a study of another patient than patientID', async () => {
      await iid(`requestType=STUDY&studyUID=${studyA},${newUid()}`).expect(404);
      await iid('requestType=STUDY&accessionNumber=NO-SUCH').expect(404);
      await iid(`requestType=STUDY&studyUID=${studyA}&patientID=${PATIENT_B.id}%5E%5E%5ENHS`).expect(404);
    });

    it('answers 400 for an unknown requestType, a missing parameter, or studies of two patients', async () => {
      for (const q of ['requestType=SERIES&studyUID=1.2.3', 'requestType=PATIENT', 'requestType=STUDY', 'patientID=1^^^NHS',
        `requestType=STUDY&studyUID=${studyA},${studyB}`, `requestType=STUDY&studyUID=${studyA}&diagnosticQuality=maybe`]) {
        const res = await iid(q);
        expect([q, res.status]).toEqual([q, 400]);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      }
    });

    it('is for clinicians and admins signed in with the IdP', async () => {
      await iid(`requestType=STUDY&studyUID=${studyA}`, await srv.token('admin')).expect(302);
      await iid(`requestType=STUDY&studyUID=${studyA}`, epr).expect(403);
      await iid(`requestType=STUDY&studyUID=${studyA}`, await srv.token('photographer')).expect(403);
      await request(srv.url).get(`/IHEInvokeImageDisplay?requestType=STUDY&studyUID=${studyA}`).redirects(0).expect(401);
    });
  });

  it('logs no patient identifiers, user names or secrets', async () => {
    const logs = srv.logs.join('');
    expect(logs).toContain('/IHEInvokeImageDisplay'); // it ran after the requests above
    for (const secret of [PATIENT_A.id, PATIENT_B.id, 'LAUNCH^', 'Jane Smith', 'launch=']) expect(logs).not.toContain(secret);
  });
});

describe('viewer launch behind https', () => {
  it('sets a Secure, __Secure- prefixed refresh cookie', async () => {
    const srv = await startTestServer({ PUBLIC_BASE_URL: 'https://photos.example.nhs.uk' });
    try {
      const epr = await srv.token('epr', { subject: 'epr-system' });
      const res = await request(srv.url).post('/api/launch').set('Authorization', `Bearer ${epr}`)
        .send({ patient: { id: PATIENT_A.id, issuer: 'NHS' }, user: USER }).expect(201);
      expect(res.body.url).toMatch(/^https:\/\/photos\.example\.nhs\.uk\/viewer\/#launch=/);
      const session = await request(srv.url).post('/api/launch/exchange').send({ code: new URL(res.body.url).hash.slice('#launch='.length) }).expect(200);
      const cookie = ([] as string[]).concat(session.headers['set-cookie'])[0];
      expect(cookie).toMatch(new RegExp(`^__Secure-lucida-session-${res.body.launchId}=`));
      expect(cookie).toMatch(/; Secure(;|$)/);
    } finally {
      await srv.destroy();
    }
  });
});
