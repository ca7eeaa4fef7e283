/**
 * The audit middleware on a small real Express app (real HTTP, the real guards, error handler and
 * request context): which requests become events, their outcome, the route pattern (also when an
 * error left the router), the refusals before any route (a lockout by the failed-authentication
 * limiter included), a client that went away, the UID cap, and that no credential is ever recorded. The AuditLog here only collects what is appended.
 */
import http from 'node:http';
import express from 'express';
import request from 'supertest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { LucidaError } from '../../core/errors.js';
import { AUDIT_MAX_UIDS, type AuditEvent, type AuditLog } from '../../core/audit/types.js';
import type { Principal } from '../../core/auth/principal.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { auditOutcome, auditTrail } from './audit.js';
import { allow, authenticate, publicRoute } from './auth.js';
import { errorHandler, notFound } from './errors.js';
import { requestContext } from './request-context.js';
import { AUTH_FAILURES_PER_MINUTE, authFailureLimit } from './security.js';

const TOKENS: Record<string, Principal> = {
  'clinician-token': { subject: 'clin-1', roles: ['clinician'], kind: 'idp' },
  'epr-token': { subject: 'epr-system', roles: ['epr'], clientId: 'epr-client', kind: 'idp', patient: { id: '9434765919' } },
};

describe('auditTrail', () => {
  const events: AuditEvent[] = [];
  const collector: AuditLog = {
    append: (e) => { events.push(e); },
    flush: async () => {}, close: async () => {}, verify: async () => ({ ok: true, checked: 0 }),
    search: async () => ({ events: [], truncated: false }),
  };
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    const app = express();
    app.set('query parser', 'simple');
    app.use(requestContext(createLogger('silent')));
    app.use(auditTrail(collector));
    const verifier = {
      verify: async (t: string) => {
        if (!TOKENS[t]) throw new LucidaError('INVALID_TOKEN');
        return TOKENS[t];
      },
    };
    // Its own failed-authentication limiter (as app.ts mounts it), apart from /dicomweb so that the lockout test locks out only this.
    const guarded = express.Router();
    guarded.use(authFailureLimit(loadConfig({})), authenticate(verifier));
    guarded.get('/studies', allow('read'), (_req, res) => { res.end(); });
    app.use('/guarded', guarded);
    const dicomweb = express.Router();
    dicomweb.use(authenticate(verifier));
    dicomweb.get('/studies/:study', allow('read'), (req, res) => {
      req.audit.studyUIDs.add(req.params.study as string);
      if (req.query.fail) throw new LucidaError('INVALID_QUERY', 'bad parameter');
      if (req.query.other) req.audit.deniedOutOfScope = true;
      if (req.query.other || req.query.missing) throw new LucidaError('NOT_FOUND');
      req.audit.patientIds.add('9434765919');
      res.json({ ok: true });
    });
    dicomweb.get('/studies/:study/hang', allow('read'), () => { /* never answers */ });
    // Every byte its Content-Length promises, but the server's end() comes later (as when a file is streamed).
    dicomweb.get('/studies/:study/late-end', allow('read'), (_req, res) => {
      res.setHeader('Content-Length', '5');
      res.write('image');
      setTimeout(() => res.end(), 500);
    });
    dicomweb.get('/many', allow('read'), (req, res) => {
      for (let i = 0; i < AUDIT_MAX_UIDS + 10; i++) req.audit.sopInstanceUIDs.add(`1.2.${i}`);
      res.end();
    });
    dicomweb.get('/audit', allow('audit'), (_req, res) => { res.end(); });
    app.use('/dicomweb', dicomweb);
    app.get('/public', publicRoute('health probe'), (_req, res) => { res.end(); });
    app.get('/unguarded', (_req, res) => { res.end(); });
    app.use(notFound);
    app.use(errorHandler);
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });
  beforeEach(() => { events.length = 0; });

  /** The events appended for the requests made (the 'close' event may come just after the response). */
  const settled = (n: number) => waitFor(() => [...events], (e) => e.length >= n, { timeoutMs: 2000, intervalMs: 10 });
  const get = (path: string, token?: string) => {
    const r = request(url).get(path).set('User-Agent', 'AuditTest/1.0').set('X-Request-Id', 'req-audit-1');
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };

  it('records a served read: who, from where, what, the route pattern and never the URL or the token', async () => {
    await get('/dicomweb/studies/1.2.3?PatientID=9434765919', 'clinician-token').expect(200);
    const [e] = await settled(1);
    expect(e).toEqual({
      at: expect.any(Date), action: 'read', outcome: 'success', status: 200, subject: 'clin-1', roles: ['clinician'],
      clientId: undefined, onBehalfOf: undefined, ip: '127.0.0.1', userAgent: 'AuditTest/1.0', requestId: 'req-audit-1', method: 'GET',
      route: '/dicomweb/studies/:study', patientIds: ['9434765919'], studyUIDs: ['1.2.3'], seriesUIDs: [], sopInstanceUIDs: [],
      query: undefined, detail: undefined,
    });
    expect(JSON.stringify(e)).not.toContain('clinician-token');
  });

  it('keeps the route pattern when an error left the router, and records the failure', async () => {
    await get('/dicomweb/studies/1.2.3?fail=1', 'clinician-token').expect(400);
    const [e] = await settled(1);
    expect(e).toMatchObject({ route: '/dicomweb/studies/:study', outcome: 'failure', status: 400, studyUIDs: ['1.2.3'] });
  });

  it('records a 404 that hid another patient\'s data as denied, and a plain 404 as not-found', async () => {
    await get('/dicomweb/studies/1.2.4?other=1', 'epr-token').expect(404);
    await get('/dicomweb/studies/1.2.5?missing=1', 'clinician-token').expect(404);
    const [hidden, missing] = await settled(2);
    expect(hidden).toMatchObject({ outcome: 'denied', status: 404, subject: 'epr-system', clientId: 'epr-client', studyUIDs: ['1.2.4'],
      detail: 'out of patient context; NOT_FOUND' });
    expect(missing).toMatchObject({ outcome: 'not-found', status: 404, studyUIDs: ['1.2.5'] });
  });

  it('records refusals before any route: no token, a bad token (401, action authenticate), a role not allowed (403)', async () => {
    await get('/dicomweb/studies/1.2.3').expect(401);
    await get('/dicomweb/studies/1.2.3', 'forged-token').expect(401);
    await get('/dicomweb/audit', 'clinician-token').expect(403);
    const [none, forged, forbidden] = await settled(3);
    expect(none).toMatchObject({ action: 'authenticate', outcome: 'denied', status: 401, subject: undefined, roles: [], route: '/dicomweb/*' });
    expect(forged).toMatchObject({ action: 'authenticate', outcome: 'denied', status: 401, route: '/dicomweb/*' });
    expect(JSON.stringify(forged)).not.toContain('forged-token');
    expect(forbidden).toMatchObject({ action: 'audit', outcome: 'denied', status: 403, subject: 'clin-1', route: '/dicomweb/audit' });
  });

  it('records a lockout by the failed-authentication limiter (429) as a denied authentication, with the problem code', async () => {
    for (let i = 0; i < AUTH_FAILURES_PER_MINUTE; i++) await get('/guarded/studies', 'guessed-token').expect(401);
    await get('/guarded/studies', 'clinician-token').expect(429); // locked out, even with a good token
    const seen = await settled(AUTH_FAILURES_PER_MINUTE + 1);
    expect(seen).toHaveLength(AUTH_FAILURES_PER_MINUTE + 1);
    expect(seen.slice(0, -1).every((e) => e.status === 401 && e.action === 'authenticate')).toBe(true);
    const lockout = seen[seen.length - 1];
    expect(lockout).toMatchObject({ action: 'authenticate', outcome: 'denied', status: 429, subject: undefined, route: '/guarded/*',
      ip: '127.0.0.1', detail: 'TOO_MANY_REQUESTS' });
    expect(JSON.stringify(seen)).not.toContain('guessed-token');
  });

  it('records nothing for a public route, an unguarded one or an unknown path', async () => {
    await get('/public').expect(200);
    await get('/unguarded').expect(200);
    await get('/nowhere').expect(404);
    await get('/dicomweb/studies/1.2.3', 'clinician-token').expect(200); // a marker: the earlier requests are settled by now
    const seen = await settled(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.map((e) => e.route)).toEqual(['/dicomweb/studies/:study']);
  });

  it('records a request whose client went away before an answer as a failure (499)', async () => {
    const req = http.get(`${url}/dicomweb/studies/1.2.3/hang`, { headers: { Authorization: 'Bearer clinician-token' } });
    req.on('error', () => {});
    await new Promise((r) => setTimeout(r, 100));
    req.destroy();
    const [e] = await settled(1);
    expect(e).toMatchObject({ action: 'read', outcome: 'failure', status: 499, route: '/dicomweb/studies/:study/hang',
      detail: 'client closed the connection before a response' });
  });

  it('records a response whose head went out by its status, noting that it was unfinished', async () => {
    // The client has the whole body and closes before the server's end(): what it was sent, it saw.
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.get(`${url}/dicomweb/studies/1.2.3/late-end`, { headers: { Authorization: 'Bearer clinician-token' } }, (res) => {
        let got = '';
        res.on('data', (c) => { got += c; if (got.length === 5) { req.destroy(); resolve(got); } });
      });
      req.on('error', reject);
    });
    expect(body).toBe('image');
    const [e] = await settled(1);
    expect(e).toMatchObject({ action: 'read', outcome: 'success', status: 200, route: '/dicomweb/studies/:study/late-end',
      detail: 'connection closed before the server finished the response' });
  });

  it(`lists at most ${AUDIT_MAX_UIDS} UIDs of a kind`, async () => {
    await get('/dicomweb/many', 'clinician-token').expect(200);
    const [e] = await settled(1);
    expect(e.sopInstanceUIDs).toHaveLength(AUDIT_MAX_UIDS);
    expect(e.sopInstanceUIDs[0]).toBe('1.2.0');
  });

  it('maps status to outcome', () => {
    expect([200, 204, 304, 401, 403, 429, 404, 400, 413, 500, 503].map((s) => auditOutcome(s, false)))
      .toEqual(['success', 'success', 'success', 'denied', 'denied', 'denied', 'not-found', 'failure', 'failure', 'failure', 'failure']);
    expect(auditOutcome(404, true)).toBe('denied');
  });
});
