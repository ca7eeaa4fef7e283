/**
 * The audit trail end to end on a real server (embedded Postgres, worker, real tokens): a scripted
 * day (a photographer captures for patients A and B, a clinician searches and views A, an EPR
 * token limited to A asks for B's study, a teaching token and a forged token are refused), then an
 * information-governance officer finds exactly those events through GET /api/audit, by patient,
 * user, study and time, as JSON, FHIR R4 and DICOM Audit Messages. Then the table refuses UPDATE
 * and DELETE, two writers on one database keep one chain, and tampering with one row is found by
 * verify() and by `lucida audit-verify`.
 *
 * Order-independent: the day and the officer's first search happen in beforeAll, the day's searches
 * end at its end (later tests add events of their own), every later test writes under subjects of
 * its own, and the tampering test puts the row back.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import request from 'supertest';
import { createLogger } from '../../services/core/logger.js';
import { PostgresAuditLog } from '../../services/core/index/postgres-audit.js';
import type { AuditEvent } from '../../services/core/audit/types.js';
import { postCapture, waitForCapture } from '../helpers/capture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { makeCameraJpeg } from '../fixtures/photos.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

const A = '9434765919';
const B = '9449305552';
const patient = (nhsNumber: string, family: string) => ({
  nhsNumber, name: { family, given: ['Test'] }, birthDate: '1980-02-29', sex: 'F',
});
const metadata = (p: object) => ({
  patient: p, consent: { level: 'record', recordedBy: 'A Nurse', recordedAt: '2026-11-24T09:00:00Z' },
  photographer: 'GRAPHER^P', site: { institution: 'Royal Example Hospital' },
  groups: [{ bodySite: { code: '70559009', scheme: 'SCT' }, laterality: 'R', seriesDescription: 'Right forearm', files: ['arm.jpg'] }],
});

/** One stored audit event as GET /api/audit returns it. */
type Row = Omit<AuditEvent, 'at'> & { id: string; at: string; prevHash: string; hash: string };

const SUBJECTS = {
  photographer: 'photographer-7', poller: 'status-poller', clinician: 'dr-clinician', epr: 'epr-system', teacher: 'teacher-3', officer: 'ig-officer',
  /** The concurrency test's own requests: not one of the day's actors. */
  busy: 'busy-clinician',
};
const DAY_ACTORS = new Set([SUBJECTS.photographer, SUBJECTS.clinician, SUBJECTS.epr, SUBJECTS.teacher]);
/** Milliseconds between phases of the day, so that timestamps (of millisecond resolution) tell them apart. */
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('audit trail: a scripted day', () => {
  let srv: TestServer;
  const tokens: Record<keyof typeof SUBJECTS, string> = {} as never;
  const studies: Record<string, string> = {};
  let fileA: any;
  let afterCaptures: Date;
  /** The end of the scripted day (its events all written by then): the officer's searches and every later test come after it. */
  let endOfDay: Date;
  /** The officer's first search, made in beforeAll (by patient A). */
  let firstSearch: request.Response;

  const auditSearch = async (query: string, format?: string) => {
    const res = await request(srv.url).get(`/api/audit?${query}${format ? `&format=${format}` : ''}`)
      .set('Authorization', `Bearer ${tokens.officer}`).buffer(true);
    return res;
  };
  const events = async (query = ''): Promise<Row[]> => {
    const res = await auditSearch(`limit=1000${query ? `&${query}` : ''}`);
    expect(res.status).toBe(200);
    expect(res.body.truncated).toBe(false);
    return res.body.events;
  };
  /** Events up to the end of the day (`to` is given unless the query has its own). */
  const dayEvents = (query = '') => events([query, /(^|&)to=/.test(query) ? '' : `to=${encodeURIComponent(endOfDay.toISOString())}`]
    .filter(Boolean).join('&'));
  /** Events of the day's actors (and the refused unauthenticated one): not the capture-status poller's, not the officer's. */
  const ofTheDay = (rows: Row[]) => rows.filter((e) => (e.subject === undefined ? e.action === 'authenticate' : DAY_ACTORS.has(e.subject)));
  /**
   * Waits until every event appended so far is written. The server appends an event when its response
   * closes, which (client and server share this process's event loop) comes before the client has
   * the response: after the last awaited request, flush() covers everything.
   */
  const quiet = () => srv.runtime.audit!.flush();
  const tally = (rows: Row[]) => {
    const t: Record<string, number> = {};
    for (const e of rows) t[`${e.subject ?? '(none)'} ${e.action} ${e.outcome}`] = (t[`${e.subject ?? '(none)'} ${e.action} ${e.outcome}`] ?? 0) + 1;
    return t;
  };

  beforeAll(async () => {
    srv = await startTestServer({ JOB_RETRY_DELAY_SECONDS: '0' }, ['api', 'worker']);
    tokens.photographer = await srv.token('photographer', { subject: SUBJECTS.photographer });
    tokens.poller = await srv.token('admin', { subject: SUBJECTS.poller });
    tokens.clinician = await srv.token('clinician', { subject: SUBJECTS.clinician });
    tokens.epr = await srv.token('epr', { subject: SUBJECTS.epr, patientId: A });
    tokens.teacher = await srv.token('teaching', { subject: SUBJECTS.teacher });
    tokens.officer = await srv.token('admin', { subject: SUBJECTS.officer });
    tokens.busy = await srv.token('clinician', { subject: SUBJECTS.busy });

    // Morning: the photographer captures for A and for B.
    const jpeg = await makeCameraJpeg({ width: 64, height: 48 });
    for (const [id, family] of [[A, 'Alpha'], [B, 'Bravo']]) {
      const res = await postCapture(srv.url, tokens.photographer, metadata(patient(id, family)), [{ fileName: 'arm.jpg', bytes: jpeg }]).expect(202);
      const status = await waitForCapture(srv.url, tokens.poller, res.body.id);
      expect(status.status).toBe('stored');
      studies[id] = status.studyInstanceUID;
      if (id === A) fileA = status.files[0];
    }
    await tick();
    afterCaptures = new Date();
    await tick();

    // The clinician finds A's photographs and looks at them.
    const auth = (t: string) => ({ Authorization: `Bearer ${t}` });
    const found = await request(srv.url).get(`/dicomweb/studies?PatientID=${A}`).set(auth(tokens.clinician)).expect(200);
    expect(found.body).toHaveLength(1);
    await request(srv.url).get(`/dicomweb/studies/${studies[A]}/metadata`).set(auth(tokens.clinician)).expect(200);
    await request(srv.url).get(new URL(fileA.renderedURL).pathname).set(auth(tokens.clinician)).set('Accept', 'image/jpeg').expect(200);
    await request(srv.url).get(new URL(fileA.thumbnailURL).pathname).set(auth(tokens.clinician)).set('Accept', 'image/jpeg').expect(200);
    // The EPR, opened on A, asks for B's study: it does not exist as far as this token is concerned.
    await request(srv.url).get(`/dicomweb/studies/${studies[B]}/metadata`).set(auth(tokens.epr)).expect(404);
    // Teaching may not see identifiable photographs; a forged token is nobody.
    await request(srv.url).get('/dicomweb/studies').set(auth(tokens.teacher)).expect(403);
    const forged = `${tokens.clinician.slice(0, -4)}${tokens.clinician.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    await request(srv.url).get(`/dicomweb/studies?PatientID=${B}`).set(auth(forged)).set('User-Agent', 'curl/8.0').expect(401);
    await quiet(); // every event of the day is written (each is appended when its response has gone)
    await tick();
    endOfDay = new Date();
    await tick();

    // Evening: the officer's first search, by patient A (itself audited, found by the test of the officer's own searches).
    firstSearch = await auditSearch(`patient=${A}`);
  }, 120_000);
  afterAll(async () => { await srv?.destroy(); });

  it('finds exactly the day\'s events, counted per user, action and outcome', async () => {
    expect(firstSearch.status).toBe(200);
    const all = await dayEvents();
    expect(tally(ofTheDay(all))).toEqual({
      'photographer-7 capture success': 2,
      'dr-clinician read success': 4,
      'epr-system read denied': 1,
      'teacher-3 read denied': 1,
      '(none) authenticate denied': 1,
    });
    // Every status poll is there too (how many depends on conversion time).
    expect(all.filter((e) => e.subject === SUBJECTS.poller).every((e) => e.action === 'capture' && e.outcome === 'success')).toBe(true);
    expect(all.filter((e) => e.subject === SUBJECTS.poller).length).toBeGreaterThanOrEqual(2);
    // Newest first, each with who, from where, and its place in the chain.
    expect(all.map((e) => e.at)).toEqual([...all.map((e) => e.at)].sort().reverse());
    for (const e of all) {
      expect(e).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1$/), requestId: expect.any(String), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    }
  });

  it('records what each request touched', async () => {
    const day = ofTheDay(await dayEvents());
    const by = (subject: string, route: string) => day.filter((e) => e.subject === subject && e.route === route);
    const captures = by(SUBJECTS.photographer, '/api/captures');
    expect(captures.map((e) => [e.method, e.status, e.roles, e.patientIds, e.studyUIDs]).sort()).toEqual([
      ['POST', 202, ['photographer'], [A], [studies[A]]], ['POST', 202, ['photographer'], [B], [studies[B]]],
    ].sort());
    const [search] = by(SUBJECTS.clinician, '/dicomweb/studies');
    expect(search).toMatchObject({ query: { PatientID: A }, patientIds: [A], studyUIDs: [studies[A]] });
    expect(by(SUBJECTS.clinician, '/dicomweb/studies/:study/metadata')).toEqual([
      expect.objectContaining({ patientIds: [A], studyUIDs: [studies[A]], status: 200 }),
    ]);
    for (const route of ['/dicomweb/studies/:study/series/:series/instances/:instance/rendered',
      '/dicomweb/studies/:study/series/:series/instances/:instance/thumbnail']) {
      expect(by(SUBJECTS.clinician, route)).toEqual([expect.objectContaining({
        patientIds: [A], studyUIDs: [studies[A]], seriesUIDs: [fileA.seriesInstanceUID], sopInstanceUIDs: [fileA.sopInstanceUID],
      })]);
    }
    expect(day.find((e) => e.subject === SUBJECTS.epr)).toMatchObject({
      status: 404, outcome: 'denied', route: '/dicomweb/studies/:study/metadata', studyUIDs: [studies[B]], roles: ['epr'],
      detail: expect.stringContaining('out of patient context'),
    });
    expect(day.find((e) => e.subject === SUBJECTS.teacher)).toMatchObject({ status: 403, roles: ['teaching'], route: '/dicomweb/studies' });
    const refused = day.find((e) => e.action === 'authenticate')!;
    expect(refused).toMatchObject({ status: 401, roles: [], userAgent: 'curl/8.0', route: '/dicomweb/*' });
    expect(refused.subject).toBeUndefined();
    // The forged token itself is nowhere in the trail.
    expect(JSON.stringify(day)).not.toContain(tokens.clinician.slice(-20));
  });

  it('finds by patient only that patient\'s events, and by study the refused attempt on it', async () => {
    const ofA = await dayEvents(`patient=${A}`);
    expect(ofA.every((e) => e.patientIds.includes(A) && !e.patientIds.includes(B))).toBe(true);
    expect(tally(ofTheDay(ofA))).toEqual({ 'photographer-7 capture success': 1, 'dr-clinician read success': 4 });
    // An NHS number typed with spaces finds the same.
    expect(ofTheDay(await dayEvents('patient=943%20476%205919')).map((e) => e.id)).toEqual(ofTheDay(ofA).map((e) => e.id));
    const ofB = ofTheDay(await dayEvents(`study=${studies[B]}`));
    expect(tally(ofB)).toEqual({ 'photographer-7 capture success': 1, 'epr-system read denied': 1 });
  });

  it('filters by user, action, outcome and time', async () => {
    expect(tally(await dayEvents(`user=${SUBJECTS.clinician}`))).toEqual({ 'dr-clinician read success': 4 });
    expect(tally(ofTheDay(await dayEvents('outcome=denied')))).toEqual({
      'epr-system read denied': 1, 'teacher-3 read denied': 1, '(none) authenticate denied': 1,
    });
    expect(tally(await dayEvents('action=authenticate'))).toEqual({ '(none) authenticate denied': 1 });
    // Every action events are recorded under can be searched for (the day ended no viewer session).
    expect(await dayEvents('action=session-end')).toEqual([]);
    const since = encodeURIComponent(afterCaptures.toISOString());
    expect(tally(ofTheDay(await dayEvents(`from=${since}`)))).toEqual({
      'dr-clinician read success': 4, 'epr-system read denied': 1, 'teacher-3 read denied': 1, '(none) authenticate denied': 1,
    });
    expect(tally(ofTheDay(await dayEvents(`to=${since}`)))).toEqual({ 'photographer-7 capture success': 2 });
    const page = await auditSearch(`user=${SUBJECTS.clinician}&limit=3&to=${encodeURIComponent(endOfDay.toISOString())}`);
    expect([page.body.events.length, page.body.truncated]).toEqual([3, true]);
  });

  it('audits the officer\'s own searches with their query, and refuses the trail to anyone else', async () => {
    const own = await events(`action=audit&user=${SUBJECTS.officer}`);
    expect(own.find((e) => e.query?.patient === A)).toMatchObject({ route: '/api/audit', patientIds: [A], outcome: 'success', roles: ['admin'] });
    const since = new Date();
    const clinician = await request(srv.url).get('/api/audit').set('Authorization', `Bearer ${tokens.clinician}`).expect(403);
    expect(clinician.body.code).toBe('FORBIDDEN');
    const bad = await auditSearch('from=yesterday');
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_QUERY']);
    // Appended when the refusal's response has gone: searched for until it is there.
    const refused = await waitFor(() => events(`action=audit&user=${SUBJECTS.clinician}&from=${encodeURIComponent(since.toISOString())}`),
      (rows) => rows.length > 0);
    expect(refused).toEqual([expect.objectContaining({ outcome: 'denied', status: 403 })]);
  });

  it('exports FHIR R4 AuditEvents with the right codes', async () => {
    const res = await auditSearch(`limit=1000&to=${encodeURIComponent(endOfDay.toISOString())}`, 'fhir');
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const bundle = JSON.parse(res.text);
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const resources: any[] = bundle.entry.map((e: any) => e.resource);
    const whose = (subject: string) => resources.filter((r) => r.agent[0].who?.identifier?.value === subject);
    const codes = (rs: any[]) => rs.map((r) => `${r.type.code} ${r.action} ${r.outcome}`).sort();
    expect(codes(whose(SUBJECTS.clinician))).toEqual(['110103 R 0', '110103 R 0', '110103 R 0', '110112 E 0']);
    expect(codes(whose(SUBJECTS.photographer))).toEqual(['110104 C 0', '110104 C 0']);
    expect(codes(whose(SUBJECTS.epr))).toEqual(['110113 E 4']);
    expect(codes(whose(SUBJECTS.teacher))).toEqual(['110113 E 4']);
    const login = resources.filter((r) => r.type.code === '110114');
    expect(login.map((r) => [r.subtype[0].code, r.outcome, r.agent[0].who])).toEqual([['110122', '4', undefined]]);

    const query = whose(SUBJECTS.clinician).find((r) => r.type.code === '110112');
    expect(query.entity).toEqual(expect.arrayContaining([
      expect.objectContaining({ what: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: A } }, role: expect.objectContaining({ code: '1' }) }),
      expect.objectContaining({ what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${studies[A]}` } }, role: expect.objectContaining({ code: '3' }) }),
    ]));
    const q = query.entity.find((e: any) => e.role.code === '24');
    expect(Buffer.from(q.query, 'base64').toString()).toBe(`PatientID=${A}`);
    for (const r of resources) {
      expect(r).toMatchObject({ resourceType: 'AuditEvent', recorded: expect.any(String), source: { observer: { display: 'Lucida' } } });
    }
  });

  it('exports DICOM Audit Messages (PS3.15 A.5) that parse as XML and carry the right codes', async () => {
    const res = await auditSearch(`limit=1000&to=${encodeURIComponent(endOfDay.toISOString())}`, 'dicom');
    expect(res.headers['content-type']).toMatch(/^application\/xml/);
    const root = parseXml(res.text);
    expect(root.name).toBe('AuditMessages');
    const messages = root.children.filter((c) => c.name === 'AuditMessage');
    const requestor = (m: XmlElement) => m.children.find((c) => c.name === 'ActiveParticipant' && c.attrs.UserIsRequestor === 'true')!.attrs.UserID;
    const summary = (m: XmlElement) => {
      const ident = m.children.find((c) => c.name === 'EventIdentification')!;
      return `${ident.children.find((c) => c.name === 'EventID')!.attrs['csd-code']} ${ident.attrs.EventActionCode} ${ident.attrs.EventOutcomeIndicator}`;
    };
    const of = (user: string) => messages.filter((m) => requestor(m) === user).map(summary).sort();
    expect(of(SUBJECTS.clinician)).toEqual(['110103 R 0', '110103 R 0', '110103 R 0', '110112 E 0']);
    expect(of(SUBJECTS.photographer)).toEqual(['110104 C 0', '110104 C 0']);
    expect(of(SUBJECTS.epr)).toEqual(['110113 E 4']);
    expect(of('unauthenticated')).toEqual(['110114 E 4']);

    const search = messages.find((m) => requestor(m) === SUBJECTS.clinician && summary(m).startsWith('110112'))!;
    const objects = search.children.filter((c) => c.name === 'ParticipantObjectIdentification');
    expect(objects.map((o) => [o.attrs.ParticipantObjectTypeCode, o.attrs.ParticipantObjectTypeCodeRole,
      o.children.find((c) => c.name === 'ParticipantObjectIDTypeCode')!.attrs['csd-code'], o.attrs.ParticipantObjectID])).toEqual([
      ['1', '1', '2', `${A}^^^&2.16.840.1.113883.2.1.4.1&ISO`],
      ['2', '3', '110180', studies[A]],
      ['2', '3', '110181', '1.2.840.10008.5.1.4.1.2.2.1'],
    ]);
    const queryText = objects[2].children.find((c) => c.name === 'ParticipantObjectQuery')!.text;
    expect(Buffer.from(queryText, 'base64').toString()).toBe(`PatientID=${A}`);
  });

  it('refuses UPDATE and DELETE of the trail, even to the database owner', async () => {
    const pool = srv.runtime.pool;
    await expect(pool.query(`UPDATE audit_events SET detail = 'tampered'`)).rejects.toThrow('append-only');
    await expect(pool.query('DELETE FROM audit_events WHERE id = 1')).rejects.toThrow('append-only');
    await expect(pool.query('TRUNCATE audit_events')).rejects.toThrow('append-only');
  });

  it('keeps one chain when two writers append to one database at once, beside the server\'s own', async () => {
    const pool = srv.runtime.pool;
    const log = createLogger('silent');
    const writers = [new PostgresAuditLog(pool, log, { batchSize: 20 }), new PostgresAuditLog(pool, log, { batchSize: 20 })];
    const event = (w: number, i: number): AuditEvent => ({
      at: new Date(), action: 'read', outcome: 'success', status: 200, method: 'GET', subject: `writer-${w}`, requestId: `w${w}-${i}`,
      patientIds: [], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
    });
    // Its own subjects only (the writers', and a clinician of its own on the server), so that its rows are counted apart.
    const served = Array.from({ length: 20 }, () => request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${tokens.busy}`));
    for (let i = 0; i < 300; i++) for (const [w, writer] of writers.entries()) writer.append(event(w, i));
    await Promise.all([...served.map((r) => r.expect(200)), ...writers.map((w) => w.flush())]);
    await Promise.all(writers.map((w) => w.close()));
    const ownRows = async () => (await pool.query(
      `SELECT count(*) FILTER (WHERE subject = $1) AS busy, count(*) FILTER (WHERE subject LIKE 'writer-%') AS writers FROM audit_events`,
      [SUBJECTS.busy])).rows[0];
    // The server's queue written too.
    expect(await waitFor(ownRows, (r) => Number(r.busy) >= 20)).toEqual({ busy: '20', writers: '600' });
    await quiet();
    const report = await writers[0].verify();
    const total = Number((await pool.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
    expect(report).toMatchObject({ ok: true, checked: total });
    const { rows } = await pool.query(`SELECT subject, request_id FROM audit_events WHERE subject LIKE 'writer-%' ORDER BY id`);
    for (const w of [0, 1]) {
      expect(rows.filter((r) => r.subject === `writer-${w}`).map((r) => r.request_id)).toEqual(Array.from({ length: 300 }, (_, i) => `w${w}-${i}`));
    }
  });

  it('finds a tampered row: verify() and `lucida audit-verify` name it', async () => {
    const pool = srv.runtime.pool;
    const cli = () => run(process.execPath, ['--import', 'tsx', 'services/cli.ts', 'audit-verify'], {
      env: { ...process.env, DATABASE_URL: `postgres://lucida:lucida-embedded@127.0.0.1:${srv.config.embeddedPostgresPort}/lucida`, LOG_LEVEL: 'silent' },
    });
    await quiet(); // everything so far is written
    const verifier = new PostgresAuditLog(pool, createLogger('silent'));
    const clean = await verifier.verify();
    expect(clean.ok).toBe(true);
    const ok = await cli();
    expect(ok.stdout).toMatch(new RegExp(`^audit chain OK: ${clean.checked} events`));

    // Someone with the database superuser's power rewrites who looked at A's photographs (and, for
    // the other tests, this test puts it back afterwards: the chain then holds again).
    const [target] = await dayEvents(`user=${SUBJECTS.clinician}&action=read&patient=${A}`);
    const asSuperuser = async (sql: string, values: unknown[]) => {
      const client = await pool.connect();
      try {
        await client.query('SET session_replication_role = replica'); // past the append-only triggers
        await client.query(sql, values);
      } finally {
        await client.query('RESET session_replication_role');
        client.release();
      }
    };
    await asSuperuser(`UPDATE audit_events SET subject = 'someone-else' WHERE id = $1`, [target.id]);
    try {
      expect(await verifier.verify()).toMatchObject({ ok: false, firstBadId: target.id, problem: expect.stringContaining('hash does not match') });
      const failed = await cli().then(() => { throw new Error('audit-verify exited 0 on a tampered chain'); }, (err) => err);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`audit chain BROKEN at row ${target.id}`);
    } finally {
      await asSuperuser('UPDATE audit_events SET subject = $2 WHERE id = $1', [target.id, target.subject]);
    }
    expect((await verifier.verify()).ok).toBe(true);
  }, 60_000);
});

/** A strict, small XML reader (test side, independent of the writer): elements, attributes, text, the five entities and character references. */
interface XmlElement { name: string; attrs: Record<string, string>; children: XmlElement[]; text: string }

function parseXml(doc: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => { throw new Error(`XML: ${what} at ${i}: ${JSON.stringify(doc.slice(i, i + 40))}`); };
  const ENTITY = /&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;
  const decode = (s: string) => {
    if (s.includes('<') || /&(?!(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.test(s)) fail('unescaped markup');
    return s.replace(ENTITY, (_, e: string) => (({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }) as Record<string, string>)[e]
      ?? String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1))));
  };
  const skipSpace = () => { while (/\s/.test(doc[i] ?? '')) i++; };
  const name = () => {
    const m = /^[A-Za-z_][\w.-]*/.exec(doc.slice(i));
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const element = (): XmlElement => {
    if (doc[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      skipSpace();
      if (doc.startsWith('/>', i)) { i += 2; return el; }
      if (doc[i] === '>') { i++; break; }
      const attr = name();
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      if (doc[i] !== '=' || doc[i + 1] !== '"') fail('expected ="');
      const end = doc.indexOf('"', i + 2);
      if (end < 0) fail('unterminated attribute');
      el.attrs[attr] = decode(doc.slice(i + 2, end));
      i = end + 1;
    }
    for (;;) {
      const next = doc.indexOf('<', i);
      if (next < 0) fail(`unclosed <${el.name}>`);
      el.text += decode(doc.slice(i, next));
      i = next;
      if (doc.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail(`mismatched </…> for <${el.name}>`);
        if (doc[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      el.children.push(element());
    }
  };
  const prolog = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/.exec(doc);
  if (!prolog) fail('missing XML declaration');
  i = prolog![0].length;
  const root = element();
  skipSpace();
  if (i !== doc.length) fail('content after the root element');
  return root;
}
