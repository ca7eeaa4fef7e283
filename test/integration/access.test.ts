/**
 * Access control on every route, against a real server: the role × endpoint matrix and patient
 * scoping. The routes come from the running Express app itself, so a route added without a guard, or
 * without a row in ROUTES below, fails this test.
 *
 * Data: patient A and patient B each have a study stored by the EPR; a photographer has stored one
 * more of A's photographs today. Patient-context tokens (EPR launch) are limited to A.
 */
import type { Express } from 'express';
import request from 'supertest';
import { POLICY, type Action } from '../../services/core/auth/policy.js';
import { ROLES, type Role } from '../../services/core/auth/principal.js';
import { newUid } from '../../services/core/dicom/index.js';
import { makeVlPhoto } from '../fixtures/dicom.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { captureForm, waitForCapture } from '../helpers/capture.js';
import { multipartBody, startTestServer, type TestServer } from '../helpers/server.js';

const A = { patientID: '9434765919', issuer: 'NHS', patientName: 'ACCESS^ALICE' };
const B = { patientID: '9449305552', issuer: 'NHS', patientName: 'ACCESS^BOB' };
type Who = 'A' | 'B';

interface Study { study: string; series: string; sop: string }

/** Everything a sample request may need. */
interface Ctx {
  srv: TestServer;
  data: Record<Who, Study>;
  /** A capture of A's by the photographer (for the status and original routes). */
  captureId: string;
}

interface RouteSample {
  /** Statuses that mean "served" for a caller allowed to do it, on A's data. */
  ok: number[];
  /** How a patient-context token limited to A must be answered for B's data. */
  otherPatient: 'not-found' | 'empty' | 'refused-per-instance' | 'forbidden' | 'n/a';
  /** The status a photographer (who captured A today) is answered for A, when not the rule of the role test. */
  photographer?: number;
  send(ctx: Ctx, token: string | undefined, who: Who): request.Test;
}

/**
 * Each route is also tried without a token, and 401s are limited per client address per minute
 * (AUTH_FAILURES_PER_MINUTE): with TRUST_PROXY=loopback, each unauthenticated request names its own
 * address, so that the table can grow past that limit.
 */
let unauthenticated = 0;
const auth = (r: request.Test, token?: string) =>
  (token ? r.set('Authorization', `Bearer ${token}`) : r.set('X-Forwarded-For', `192.0.2.${(++unauthenticated % 254) + 1}`));
const get = (path: string) => (ctx: Ctx, token: string | undefined) => auth(request(ctx.srv.url).get(path), token);
const on = (f: (s: Study) => string) => (ctx: Ctx, token: string | undefined, who: Who) =>
  auth(request(ctx.srv.url).get(f(ctx.data[who])), token);
const instancePath = (s: Study) => `/dicomweb/studies/${s.study}/series/${s.series}/instances/${s.sop}`;

async function stowOne(ctx: Ctx, token: string | undefined, who: Who, study?: string) {
  const body = await makeVlPhoto({ ...(who === 'A' ? A : B), studyUID: study ?? newUid(), seriesUID: newUid(), sopUID: newUid() });
  const { body: payload, contentType } = multipartBody([{ contentType: 'application/dicom', body }]);
  return auth(request(ctx.srv.url).post(study ? `/dicomweb/studies/${study}` : '/dicomweb/studies'), token)
    .set('Content-Type', contentType).set('Accept', 'application/dicom+json').send(payload);
}

const captureMetadata = (who: Who) => ({
  patient: { nhsNumber: who === 'A' ? A.patientID : B.patientID, name: { family: 'Access', given: [who] }, birthDate: '1970-01-01', sex: 'O' },
  consent: { level: 'record', recordedBy: 'A Nurse', recordedAt: '2026-11-24T09:00:00Z' },
  photographer: 'GRAPHER^P',
  groups: [{ bodySite: { code: '70559009' }, laterality: 'R', files: ['a.jpg'] }],
});
let cameraJpeg: Buffer;
function postCapture(ctx: Ctx, token: string | undefined, who: Who): request.Test {
  const { body, contentType } = captureForm(captureMetadata(who), [{ fileName: 'a.jpg', bytes: cameraJpeg }]);
  return auth(request(ctx.srv.url).post('/api/captures'), token).set('Content-Type', contentType).send(body);
}

const annotationsPath = (s: Study) => `/api/instances/${s.sop}/annotations`;
const LENGTH = { kind: 'length', points: [[0, 0], [30, 40]] };
/** Removes an annotation that an admin has just made on the patient's photograph. */
async function deleteAnnotation(ctx: Ctx, token: string | undefined, who: Who) {
  const admin = await ctx.srv.token('admin', { subject: 'annotation-maker' });
  const made = await request(ctx.srv.url).post(annotationsPath(ctx.data[who])).set('Authorization', `Bearer ${admin}`).send(LENGTH).expect(201);
  return auth(request(ctx.srv.url).delete(`${annotationsPath(ctx.data[who])}/${made.body.id}`), token);
}
let captureSettled: Promise<unknown> | undefined;
/** The patient's timeline, once the photographer's capture of A is stored (their timeline of A then lists it, and only it). */
async function timelineOf(ctx: Ctx, token: string | undefined, who: Who) {
  captureSettled ??= ctx.srv.token('admin', { subject: 'capture-poller' }).then((admin) => waitForCapture(ctx.srv.url, admin, ctx.captureId));
  await captureSettled;
  return auth(request(ctx.srv.url).get(`/api/timeline?patient=${(who === 'A' ? A : B).patientID}&issuer=NHS`), token);
}

/**
 * Every guarded route of the app, by method and path pattern. A new route needs a row here (and a
 * guard): the first test compares this table with the app's routes.
 */
const ROUTES: Record<string, RouteSample> = {
  'GET /dicomweb/studies': { ok: [200], otherPatient: 'empty', send: (c, t, w) => get(`/dicomweb/studies?PatientID=${w === 'A' ? A.patientID : B.patientID}`)(c, t) },
  'GET /dicomweb/series': { ok: [200], otherPatient: 'empty', send: (c, t, w) => get(`/dicomweb/series?StudyInstanceUID=${c.data[w].study}`)(c, t) },
  'GET /dicomweb/instances': { ok: [200], otherPatient: 'empty', send: (c, t, w) => get(`/dicomweb/instances?StudyInstanceUID=${c.data[w].study}`)(c, t) },
  'GET /dicomweb/studies/:study/series': { ok: [200], otherPatient: 'empty', send: on((s) => `/dicomweb/studies/${s.study}/series`) },
  'GET /dicomweb/studies/:study/instances': { ok: [200], otherPatient: 'empty', send: on((s) => `/dicomweb/studies/${s.study}/instances`) },
  'GET /dicomweb/studies/:study/series/:series/instances': { ok: [200], otherPatient: 'empty', send: on((s) => `/dicomweb/studies/${s.study}/series/${s.series}/instances`) },
  'GET /dicomweb/studies/:study': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}`) },
  'GET /dicomweb/studies/:study/series/:series': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}/series/${s.series}`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance': { ok: [200], otherPatient: 'not-found', send: on(instancePath) },
  'GET /dicomweb/studies/:study/metadata': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}/metadata`) },
  'GET /dicomweb/studies/:study/series/:series/metadata': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}/series/${s.series}/metadata`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/metadata': { ok: [200], otherPatient: 'not-found', send: on((s) => `${instancePath(s)}/metadata`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/bulkdata/*path': {
    ok: [200], otherPatient: 'not-found',
    send: (c, t, w) => on((s) => `${instancePath(s)}/bulkdata/7FE00010`)(c, t, w).set('Accept', 'multipart/related; type="application/octet-stream"; transfer-syntax=*'),
  },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/frames/:frames': { ok: [200], otherPatient: 'not-found', send: on((s) => `${instancePath(s)}/frames/1`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/rendered': { ok: [200], otherPatient: 'not-found', send: on((s) => `${instancePath(s)}/rendered`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/frames/:frame/rendered': { ok: [200], otherPatient: 'not-found', send: on((s) => `${instancePath(s)}/frames/1/rendered`) },
  'GET /dicomweb/studies/:study/thumbnail': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}/thumbnail`) },
  'GET /dicomweb/studies/:study/series/:series/thumbnail': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/studies/${s.study}/series/${s.series}/thumbnail`) },
  'GET /dicomweb/studies/:study/series/:series/instances/:instance/thumbnail': { ok: [200], otherPatient: 'not-found', send: on((s) => `${instancePath(s)}/thumbnail`) },
  'GET /dicomweb/wado': { ok: [200], otherPatient: 'not-found', send: on((s) => `/dicomweb/wado?requestType=WADO&studyUID=${s.study}&seriesUID=${s.series}&objectUID=${s.sop}`) },
  'GET /wado': { ok: [200], otherPatient: 'not-found', send: on((s) => `/wado?requestType=WADO&studyUID=${s.study}&seriesUID=${s.series}&objectUID=${s.sop}&contentType=application%2Fdicom`) },
  'POST /dicomweb/studies': { ok: [200], otherPatient: 'refused-per-instance', send: (c, t, w) => stowOne(c, t, w) as unknown as request.Test },
  'POST /dicomweb/studies/:study': { ok: [200], otherPatient: 'refused-per-instance', send: (c, t, w) => stowOne(c, t, w, newUid()) as unknown as request.Test },
  'POST /api/captures': { ok: [202], otherPatient: 'forbidden', send: postCapture },
  'GET /api/captures/:id': { ok: [200], otherPatient: 'n/a', send: (c, t) => get(`/api/captures/${c.captureId}`)(c, t) },
  'GET /api/captures/:id/files/:index/original': { ok: [200], otherPatient: 'forbidden', send: (c, t) => get(`/api/captures/${c.captureId}/files/0/original`)(c, t) },
  'POST /api/launch': {
    ok: [201], otherPatient: 'forbidden',
    send: (c, t, w) => auth(request(c.srv.url).post('/api/launch'), t).send({ patient: { id: (w === 'A' ? A : B).patientID, issuer: 'NHS' }, user: { id: 'dr-access' } }),
  },
  'GET /IHEInvokeImageDisplay': { ok: [302], otherPatient: 'forbidden', send: on((s) => `/IHEInvokeImageDisplay?requestType=STUDY&studyUID=${s.study}`) },
  'GET /api/audit': { ok: [200], otherPatient: 'forbidden', send: get('/api/audit?limit=1') },
  'GET /api/timeline': { ok: [200], otherPatient: 'not-found', photographer: 200, send: (c, t, w) => timelineOf(c, t, w) as unknown as request.Test },
  'GET /api/instances/:sop/annotations': { ok: [200], otherPatient: 'not-found', send: on(annotationsPath) },
  'POST /api/instances/:sop/annotations': {
    ok: [201], otherPatient: 'not-found', send: (c, t, w) => auth(request(c.srv.url).post(annotationsPath(c.data[w])), t).send(LENGTH),
  },
  'DELETE /api/instances/:sop/annotations/:id': { ok: [204], otherPatient: 'not-found', send: (c, t, w) => deleteAnnotation(c, t, w) as unknown as request.Test },
};

/** Routes that take no bearer token, with why. */
const PUBLIC_ROUTES = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'POST /api/launch/exchange', 'POST /api/session/refresh', 'DELETE /api/session',
  'GET /viewer', 'GET /viewer/*path']);

/** Mount points of routers with a path (Express keeps no path string on a mounted layer: probed with match()). */
const MOUNTS = ['/dicomweb'];

interface FoundRoute { key: string; guards: { action?: Action; public?: string }[] }

/** The app's routes: method + full path pattern, with the guards among their handlers. */
function appRoutes(app: Express): FoundRoute[] {
  const found: FoundRoute[] = [];
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
          found.push({
            key: `${method.toUpperCase()} ${prefix}${layer.route.path}`,
            guards: layer.route.stack.map((l: any) => l.handle.guard).filter(Boolean),
          });
        }
      } else if (layer.handle?.stack) {
        let mount = '';
        if (!layer.match('/__no_such_mount__/x')) {
          mount = MOUNTS.find((m) => layer.match(`${m}/x`)) ?? '';
          if (!mount) throw new Error('a router is mounted at a path this test does not know: add it to MOUNTS');
        }
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as any).router.stack, '');
  return found;
}

describe('access control on every route', () => {
  let srv: TestServer;
  const ctx = {} as Ctx;
  const tokens = {} as Record<Role, string>;
  let scopedEpr: string;
  let scopedClinician: string;
  let scopedPhotographer: string;
  let scopedAdmin: string;
  let routes: FoundRoute[];

  beforeAll(async () => {
    srv = await startTestServer({ RATE_LIMIT_PER_MINUTE: '0', TRUST_PROXY: 'loopback' }, ['api', 'worker']);
    ctx.srv = srv;
    cameraJpeg = await makeCameraJpeg({ width: 64, height: 48 });
    for (const role of ROLES) tokens[role] = await srv.token(role, { subject: `${role}-user` });
    scopedEpr = await srv.token('epr', { subject: 'epr-launch', patientId: A.patientID });
    scopedClinician = await srv.token('clinician', { subject: 'dr-launched', patientId: A.patientID });
    scopedPhotographer = await srv.token('photographer', { subject: 'photographer-user', patientId: A.patientID });
    scopedAdmin = await srv.token('admin', { subject: 'admin-launched', patientId: A.patientID });
    ctx.data = {} as Record<Who, Study>;
    for (const who of ['A', 'B'] as const) {
      const s = { study: newUid(), series: newUid(), sop: newUid() };
      const body = await makeVlPhoto({ ...(who === 'A' ? A : B), studyUID: s.study, seriesUID: s.series, sopUID: s.sop });
      const { body: payload, contentType } = multipartBody([{ contentType: 'application/dicom', body }]);
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${tokens.epr}`)
        .set('Content-Type', contentType).send(payload).expect(200);
      ctx.data[who] = s;
    }
    const capture = await postCapture(ctx, tokens.photographer, 'A').expect(202);
    ctx.captureId = capture.body.id;
    routes = appRoutes(srv.runtime.server!.listeners('request')[0] as Express);
  });
  afterAll(async () => { await srv?.destroy(); });

  it('knows every route of the app, and every route has exactly one guard', () => {
    const keys = routes.map((r) => r.key);
    for (const r of routes) {
      expect({ route: r.key, guards: r.guards.length }).toEqual({ route: r.key, guards: 1 });
      if (r.guards[0].public !== undefined) expect(PUBLIC_ROUTES).toContain(r.key);
      else expect(Object.keys(ROUTES)).toContain(r.key);
    }
    expect(keys.filter((k) => !PUBLIC_ROUTES.has(k)).sort()).toEqual(Object.keys(ROUTES).sort());
    expect(keys.filter((k) => PUBLIC_ROUTES.has(k)).sort()).toEqual([...PUBLIC_ROUTES].sort());
  });

  const actionOf = (key: string): Action => routes.find((r) => r.key === key)!.guards[0].action!;

  describe.each(Object.keys(ROUTES))('%s', (key) => {
    const sample = ROUTES[key];

    it('refuses a request without a token (401)', async () => {
      const res = await sample.send(ctx, undefined, 'A');
      expect(res.status).toBe(401);
    });

    it.each(ROLES)('answers role %s as the policy says', async (role) => {
      const action = actionOf(key);
      const res = await sample.send(ctx, tokens[role], 'A');
      if (!POLICY[action].includes(role)) {
        expect({ role, status: res.status }).toEqual({ role, status: 403 });
        expect(res.body.code).toBe('FORBIDDEN');
      } else if (role === 'photographer' && action === 'read') {
        // A photographer reads only what they stored today: the EPR's studies are not theirs (their
        // own captures of A, converted meanwhile by the worker, may be listed).
        expect({ role, status: res.status }).toEqual({ role, status: sample.photographer ?? (sample.otherPatient === 'empty' ? 200 : 404) });
        for (const s of [ctx.data.A, ctx.data.B]) expect(JSON.stringify(res.body)).not.toContain(s.study);
      } else {
        expect({ role, status: res.status, served: sample.ok.includes(res.status) }).toMatchObject({ role, served: true });
      }
    });

    it('limits a patient-context token to its patient', async () => {
      const action = actionOf(key);
      // A role the action allows, so that a refusal can only be the patient context's.
      const token = POLICY[action].includes('epr') ? scopedEpr : POLICY[action].includes('clinician') ? scopedClinician
        : POLICY[action].includes('photographer') ? scopedPhotographer : scopedAdmin;
      if (sample.otherPatient === 'forbidden' && !['capture', 'store', 'read'].includes(action)) {
        // Launching, auditing and originals are not for patient-context tokens at all.
        const res = await sample.send(ctx, token, 'A');
        expect(res.status).toBe(403);
        expect(res.body.detail).toMatch(/limited to one patient/);
        return;
      }
      if (sample.otherPatient === 'n/a') {
        // The capture status names its capture, not a patient: a token limited to the capture's
        // patient sees it; one limited to another patient is told it does not exist.
        expect((await sample.send(ctx, token, 'A')).status).toBe(200);
        const scopedToB = await srv.token('photographer', { subject: 'photographer-user', patientId: B.patientID });
        expect((await sample.send(ctx, scopedToB, 'A')).status).toBe(404);
        return;
      }
      const own = await sample.send(ctx, token, 'A');
      expect({ own: own.status, served: sample.ok.includes(own.status) }).toMatchObject({ served: true });
      const other = await sample.send(ctx, token, 'B');
      switch (sample.otherPatient) {
        case 'empty':
          expect(other.status).toBe(200);
          expect(other.body).toEqual([]);
          break;
        case 'not-found':
          expect(other.status).toBe(404);
          expect(other.body.code).toBe('NOT_FOUND');
          break;
        case 'refused-per-instance':
          expect(other.status).toBe(409);
          expect(JSON.stringify(other.body)).toContain('"Value":[292]'); // 0x0124 Refused: Not authorized
          break;
        case 'forbidden':
          expect(other.status).toBe(403);
          expect(other.body.code).toBe('OUT_OF_PATIENT_CONTEXT');
          break;
      }
    });
  });

  it('a patient-context search returns that patient only, and hides the other patient\'s study entirely', async () => {
    const all = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${scopedEpr}`).expect(200);
    const ids = all.body.map((s: any) => s['00100020']?.Value?.[0]);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids)).toEqual(new Set([A.patientID]));
    const unscoped = await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${tokens.epr}`).expect(200);
    expect(new Set(unscoped.body.map((s: any) => s['00100020']?.Value?.[0]))).toEqual(new Set([A.patientID, B.patientID]));
  });

  it('a capture status is visible to its sender and admins only, and to a patient-context token of its patient', async () => {
    const other = await srv.token('photographer', { subject: 'another-photographer' });
    await request(srv.url).get(`/api/captures/${ctx.captureId}`).set('Authorization', `Bearer ${other}`).expect(404);
    await request(srv.url).get(`/api/captures/${ctx.captureId}`).set('Authorization', `Bearer ${scopedPhotographer}`).expect(200);
    const scopedToB = await srv.token('photographer', { subject: 'photographer-user', patientId: B.patientID });
    await request(srv.url).get(`/api/captures/${ctx.captureId}`).set('Authorization', `Bearer ${scopedToB}`).expect(404);
  });

  describe('a photographer reads their own work of today only', () => {
    let own: Study;
    beforeAll(async () => {
      own = { study: newUid(), series: newUid(), sop: newUid() };
      const body = await makeVlPhoto({ ...A, studyUID: own.study, seriesUID: own.series, sopUID: own.sop });
      const { body: payload, contentType } = multipartBody([{ contentType: 'application/dicom', body }]);
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${tokens.photographer}`)
        .set('Content-Type', contentType).send(payload).expect(200);
    });
    const read = (path: string, token = tokens.photographer) => request(srv.url).get(path).set('Authorization', `Bearer ${token}`);

    it('finds and retrieves what they stored, and nothing else', async () => {
      const studies = await read('/dicomweb/studies').expect(200);
      const uids = studies.body.map((s: any) => s['0020000D'].Value[0]);
      expect(uids).toContain(own.study);
      expect(uids).not.toContain(ctx.data.A.study);
      expect(uids).not.toContain(ctx.data.B.study);
      await read(`${instancePath(own)}/metadata`).expect(200);
      await read(`${instancePath(ctx.data.A)}/metadata`).expect(404);
      // A clinician sees both.
      const all = await read('/dicomweb/studies', tokens.clinician).expect(200);
      expect(all.body.map((s: any) => s['0020000D'].Value[0])).toEqual(expect.arrayContaining([own.study, ctx.data.A.study]));
    });

    it('counts only their own instances in a study another sender added to', async () => {
      const extra = await makeVlPhoto({ ...A, studyUID: own.study, seriesUID: newUid(), sopUID: newUid() });
      const { body: payload, contentType } = multipartBody([{ contentType: 'application/dicom', body: extra }]);
      await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${tokens.epr}`)
        .set('Content-Type', contentType).send(payload).expect(200);
      const mine = await read(`/dicomweb/studies?StudyInstanceUID=${own.study}`).expect(200);
      expect(mine.body[0]['00201208'].Value[0]).toBe(1); // NumberOfStudyRelatedInstances
      const everyone = await read(`/dicomweb/studies?StudyInstanceUID=${own.study}`, tokens.clinician).expect(200);
      expect(everyone.body[0]['00201208'].Value[0]).toBe(2);
    });

    it('no longer sees them the next day', async () => {
      await srv.runtime.pool.query(`UPDATE instances SET received_at = received_at - interval '1 day' WHERE stored_by = 'photographer-user'`);
      await read(`${instancePath(own)}/metadata`).expect(404);
      const studies = await read('/dicomweb/studies').expect(200);
      expect(studies.body.map((s: any) => s['0020000D'].Value[0])).not.toContain(own.study);
    });
  });
});
