/**
 * HTTP hardening on a real server: security headers, the CORS allow-list, per-client and
 * failed-authentication rate limits, slow clients (slowloris) cut off by the header and idle
 * timeouts, oversized bodies refused before they are read, no internals in error responses (with
 * the database really stopped), and the log scan that keeps patient identifiers out of logs.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { importJWK, SignJWT } from 'jose';
import request from 'supertest';
import { loadSessionKey, signSessionToken, loadOrCreateLocalKey } from '../../services/core/auth/tokens.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../services/core/index/database.js';
import { AUTH_FAILURES_PER_MINUTE } from '../../services/api/middleware/security.js';
import { fixtureIdentifiers, passesNhsCheck, scanLogs } from '../log-scan.js';
import { TEST_LOG_DIR, multipartBody, startTestServer, type TestServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';
import { freePort } from '../helpers/net.js';

const EPR = 'https://epr.example.nhs.uk';
const PER_MINUTE = 20;
/** What an error response must never carry: a stack, source paths, SQL, socket or connection details. */
const INTERNALS = /\n\s+at |node_modules|services\/|\/tmp\/|\bSELECT\b|\bINSERT\b|\bFROM\b|ECONNREFUSED|ENOENT|\.s\.PGSQL|postgres:\/\//;


/** A raw TCP connection to the server, for what HTTP client libraries will not do (dribbling bytes). */
function connect(url: string) {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  const started = Date.now();
  let received = '';
  socket.on('data', (d) => { received += d; });
  socket.on('error', () => {}); // a reset when the server cuts a writer off is expected here
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
  return {
    socket,
    closed,
    /** Resolves with the milliseconds from connecting to the close, or undefined if still open after `ms` from now. */
    closedWithin: (ms: number) => Promise.race([closed, sleep(ms).then(() => undefined)]),
    status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]) || undefined,
    received: () => received,
  };
}

/** Writes `text` one byte every `everyMs` until it is all sent or the connection closes; resolves with the bytes sent. */
async function dribble(conn: ReturnType<typeof connect>, text: string, everyMs: number): Promise<number> {
  let sent = 0;
  let open = true;
  void conn.closed.then(() => { open = false; });
  while (open && sent < text.length) {
    conn.socket.write(text[sent++]);
    await sleep(everyMs);
  }
  return sent;
}

describe('HTTP hardening', () => {
  let srv: TestServer;
  let clinician: string;
  let photographer: string;
  /** A token for `subject`, optionally from an OAuth2 client (client_id), signed with the server's local key. */
  let tokenFor: (subject: string, clientId?: string) => Promise<string>;

  beforeAll(async () => {
    srv = await startTestServer({
      CORS_ORIGINS: EPR, RATE_LIMIT_PER_MINUTE: String(PER_MINUTE), TRUST_PROXY: 'loopback',
      HEADERS_TIMEOUT_SECONDS: '2', REQUEST_TIMEOUT_SECONDS: '2',
      STOW_MAX_REQUEST_MB: '1', CAPTURE_MAX_FILE_MB: '1', CAPTURE_MAX_FILES: '1',
    });
    clinician = await srv.token('clinician', { subject: 'clinician-1' });
    photographer = await srv.token('photographer', { subject: 'photographer-1' });
    const key = await loadOrCreateLocalKey(srv.config.dataDir);
    const privateKey = await importJWK(key.privateJwk, 'ES256');
    tokenFor = (subject, clientId) => new SignJWT({ roles: ['clinician'], ...(clientId ? { client_id: clientId } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid, typ: 'JWT' })
      .setIssuer(srv.config.auth.issuer).setAudience(srv.config.auth.audience).setSubject(subject)
      .setIssuedAt().setExpirationTime('10m').sign(privateKey);
  });
  afterAll(async () => { await srv?.destroy(); });

  describe('security headers', () => {
    it.each([
      ['a public endpoint', () => request(srv.url).get('/healthz'), 200],
      ['an authenticated search', () => request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${clinician}`), 200],
      ['a refusal', () => request(srv.url).get('/dicomweb/studies'), 401],
      ['an unknown route', () => request(srv.url).get('/nowhere'), 404],
    ])('are on every response: %s', async (_name, send, status) => {
      const res = await send().expect(status);
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("default-src 'none'");
      // The viewer is embedded in the EPR: its origins (CORS_ORIGINS) may frame, nobody else.
      expect(csp).toContain(`frame-ancestors 'self' ${EPR}`);
      expect(res.headers['x-frame-options']).toBeUndefined(); // it cannot name the EPR; frame-ancestors does
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('CORS allow-list', () => {
    it('lets an allowed origin read responses, errors included, and the headers DICOMweb clients need', async () => {
      const ok = await request(srv.url).get('/dicomweb/studies').set('Origin', EPR).set('Authorization', `Bearer ${clinician}`).expect(200);
      expect(ok.headers['access-control-allow-origin']).toBe(EPR);
      expect(ok.headers.vary).toMatch(/\bOrigin\b/);
      expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
      const exposed = ok.headers['access-control-expose-headers'].split(/\s*,\s*/);
      expect(exposed).toEqual(expect.arrayContaining(['Content-Location', 'Location', 'Warning', 'X-Request-Id', 'Retry-After']));
      const refused = await request(srv.url).get('/dicomweb/studies').set('Origin', EPR).expect(401);
      expect(refused.headers['access-control-allow-origin']).toBe(EPR);
    });

    it('gives another origin no CORS headers (the browser withholds the answer) but still answers the request', async () => {
      for (const origin of ['https://evil.example.com', 'https://epr.example.nhs.uk.evil.example.com', 'http://epr.example.nhs.uk', 'null']) {
        const res = await request(srv.url).get('/dicomweb/studies').set('Origin', origin).set('Authorization', `Bearer ${clinician}`).expect(200);
        expect(res.headers['access-control-allow-origin']).toBeUndefined();
        expect(res.headers['access-control-expose-headers']).toBeUndefined();
        expect(res.headers.vary).toMatch(/\bOrigin\b/);
      }
    });

    it('answers an allowed preflight for the methods and headers clients send', async () => {
      const res = await request(srv.url).options('/dicomweb/studies').set('Origin', EPR)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization, content-type, accept, idempotency-key, x-request-id, x-on-behalf-of')
        .expect(204);
      expect(res.headers['access-control-allow-origin']).toBe(EPR);
      expect(res.headers['access-control-allow-methods'].split(',')).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
      expect(res.headers['access-control-allow-headers'].toLowerCase().split(','))
        .toEqual(expect.arrayContaining(['authorization', 'content-type', 'accept', 'idempotency-key', 'x-request-id', 'x-on-behalf-of']));
      expect(Number(res.headers['access-control-max-age'])).toBeGreaterThan(0);
    });

    it('refuses a preflight from another origin with 403', async () => {
      const res = await request(srv.url).options('/dicomweb/studies').set('Origin', 'https://evil.example.com')
        .set('Access-Control-Request-Method', 'DELETE').expect(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('FORBIDDEN');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-methods']).toBeUndefined();
    });
  });

  describe('rate limits', () => {
    const search = (token: string, address?: string) => {
      const req = request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${token}`);
      return address ? req.set('X-Forwarded-For', address) : req;
    };

    it(`answers a client over ${PER_MINUTE} requests a minute 429 with Retry-After, and leaves other clients alone`, async () => {
      const busy = await tokenFor('busy-user');
      for (let i = 1; i <= PER_MINUTE; i++) {
        const res = await search(busy).expect(200);
        expect(res.headers.ratelimit).toMatch(new RegExp(`^"client"; r=${PER_MINUTE - i}; t=\\d+$`));
        expect(res.headers['ratelimit-policy']).toMatch(new RegExp(`^"client"; q=${PER_MINUTE}; w=60;`));
      }
      const over = await search(busy).expect(429);
      expect(over.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(over.body).toMatchObject({ status: 429, code: 'TOO_MANY_REQUESTS' });
      expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(over.headers.ratelimit).toMatch(/; r=0; /);
      // Another user, from the same address, is not slowed down.
      await search(await tokenFor('calm-user')).expect(200);
    });

    it('counts a system client as one, and the users of one client app each on their own', async () => {
      const system = await tokenFor('epr-service-account', 'epr-system');
      const again = await tokenFor('epr-service-account', 'epr-system'); // a new token of the same client
      for (let i = 0; i < PER_MINUTE / 2; i++) {
        await search(system).expect(200);
        await search(again).expect(200);
      }
      await search(again).expect(429);
      // Audited as a refusal of that client, under its own action.
      const admin = await srv.token('admin', { subject: 'rate-limit-auditor' });
      const audit = await request(srv.url).get('/api/audit?user=epr-service-account&action=rate-limit')
        .set('Authorization', `Bearer ${admin}`).expect(200);
      expect(audit.body.events[0]).toMatchObject({ outcome: 'denied', status: 429, clientId: 'epr-system' });
      // Another user signed in through the same app, and the same account from another client: unaffected.
      await search(await tokenFor('alice', 'epr-system')).expect(200);
      await search(await tokenFor('epr-service-account', 'capture-station-3')).expect(200);
    });

    it('counts viewer sessions per clinician, although they all carry the EPR\'s client id', async () => {
      const key = await loadSessionKey(srv.config);
      const session = async (subject: string) => (await signSessionToken(key, srv.config.auth.audience, {
        subject, patient: { id: '9434765919', issuer: 'NHS' }, clientId: 'epr-viewer-host', launchId: `launch-${subject}`, ttlSeconds: 600,
      })).token;
      const busy = await session('dr-busy');
      for (let i = 0; i < PER_MINUTE; i++) await search(busy).expect(200);
      await search(busy).expect(429);
      await search(await session('dr-calm')).expect(200);
    });

    it(`refuses an address after ${AUTH_FAILURES_PER_MINUTE} failed authentications in a minute, whatever it sends then`, async () => {
      const guesser = '203.0.113.7'; // with TRUST_PROXY=loopback, X-Forwarded-For from the (loopback) proxy counts
      for (let i = 1; i < AUTH_FAILURES_PER_MINUTE; i++) await search(`not.a.token${i}`, guesser).expect(401);
      // Successful requests do not count.
      for (const s of ['ok-1', 'ok-2', 'ok-3']) await search(await tokenFor(s), guesser).expect(200);
      await request(srv.url).get('/dicomweb/studies').set('X-Forwarded-For', guesser).expect(401); // no token at all: the 30th
      const blocked = await search('not.a.token.again', guesser).expect(429);
      expect(blocked.body.code).toBe('TOO_MANY_REQUESTS');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Even a valid token from that address waits; another address is unaffected.
      await search(await tokenFor('ok-4'), guesser).expect(429);
      await search(await tokenFor('ok-5'), '203.0.113.8').expect(200);
    });

    it('does not refuse valid requests that are in flight at once from one busy address', async () => {
      const tokens = await Promise.all(Array.from({ length: AUTH_FAILURES_PER_MINUTE + 10 }, (_, i) => tokenFor(`parallel-${i}`)));
      const statuses = await Promise.all(tokens.map((t) => search(t, '203.0.113.9').then((r) => r.status)));
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    });
  });

  describe('slow clients', () => {
    /** Meanwhile everyone else is served promptly. */
    async function othersAreServed(): Promise<void> {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        await request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${clinician}`).expect(200);
        await request(srv.url).get('/healthz').expect(200);
        expect(Date.now() - t0).toBeLessThan(1000);
        await sleep(300);
      }
    }

    it('answers 408 and disconnects a client that sends its headers a byte a second, past HEADERS_TIMEOUT_SECONDS', async () => {
      const dribblers = Array.from({ length: 5 }, () => connect(srv.url));
      const head = `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'a'.repeat(60)}\r\n\r\n`;
      const sent = dribblers.map((c) => dribble(c, head, 1000));
      await sleep(500);
      await othersAreServed();
      for (const c of dribblers) {
        const closedAt = await c.closedWithin(5000);
        expect(closedAt).toBeDefined();
        expect(closedAt).toBeLessThan(2000 + 1500); // headersTimeout, checked every second
        expect(c.status()).toBe(408);
      }
      expect(Math.max(...await Promise.all(sent))).toBeLessThan(head.length);
    });

    it('disconnects a client whose body stalls for REQUEST_TIMEOUT_SECONDS', async () => {
      // Authenticated (an unauthenticated one is refused at once, see below): after its headers it
      // sends a few bytes, then waits longer than the idle timeout (2 s) before each next one.
      const c = connect(srv.url);
      c.socket.write(`POST /dicomweb/studies HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${photographer}\r\n`
        + 'Content-Type: multipart/related; type="application/dicom"; boundary=b\r\nContent-Length: 1000\r\n\r\n--b\r\n');
      const sent = dribble(c, 'Content-Type: application/dicom\r\n\r\n', 3000);
      await sleep(500);
      await othersAreServed();
      const closedAt = await c.closedWithin(5000);
      expect(closedAt).toBeDefined();
      expect(closedAt).toBeGreaterThanOrEqual(2000);
      expect(closedAt).toBeLessThan(3000 + 2000); // idle 2 s after the byte sent at 0 s (the next would go at 3 s)
      expect(await sent).toBeLessThanOrEqual(2);
    });

    it('does not wait for the body of an unauthenticated request: 401 at once, and the connection closes', async () => {
      const c = connect(srv.url);
      c.socket.write('POST /dicomweb/studies HTTP/1.1\r\nHost: localhost\r\n'
        + 'Content-Type: multipart/related; type="application/dicom"; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n');
      expect(await c.closedWithin(1500)).toBeDefined();
      expect(c.status()).toBe(401);
      expect(c.received()).toMatch(/\r\nConnection: close\r\n/i);
    });

    it('refuses a body on a method that takes none, so a public GET cannot be held open by one', async () => {
      const c = connect(srv.url);
      c.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nx');
      expect(await c.closedWithin(1500)).toBeDefined();
      expect(c.status()).toBe(413);
    });
  });

  describe('request size limits', () => {
    /** Sends only the head of a request declaring `length` bytes of body; resolves with the answer and how long it took. */
    async function declare(method: string, pathname: string, headers: Record<string, string>, length: number) {
      const c = connect(srv.url);
      const lines = Object.entries({ Host: 'localhost', ...headers, 'Content-Length': String(length) }).map(([k, v]) => `${k}: ${v}\r\n`);
      c.socket.write(`${method} ${pathname} HTTP/1.1\r\n${lines.join('')}\r\n`);
      const closedAt = await c.closedWithin(3000);
      return { status: c.status(), closedAt, received: c.received() };
    }

    it.each([
      ['STOW-RS (STOW_MAX_REQUEST_MB=1)', '/dicomweb/studies', 'multipart/related; type="application/dicom"; boundary=b'],
      ['STOW-RS of JSON and bulk data', '/dicomweb/studies', 'multipart/related; type="application/dicom+json"; boundary=b'],
      ['the capture API ((CAPTURE_MAX_FILES + 1) x CAPTURE_MAX_FILE_MB = 2 MB)', '/api/captures', 'multipart/form-data; boundary=b'],
    ])('refuses a declared body over the limit with 413 before reading it: %s', async (_name, pathname, contentType) => {
      const res = await declare('POST', pathname, { Authorization: `Bearer ${photographer}`, 'Content-Type': contentType }, 3 * 1024 * 1024);
      expect(res.status).toBe(413);
      expect(res.closedAt).toBeDefined(); // the unread body is not taken for the next request
      expect(res.closedAt).toBeLessThan(2000);
      expect(res.received).toMatch(/"code":"PAYLOAD_TOO_LARGE"/);
    });
  });

  describe('errors do not show internals', () => {
    it.each([
      ['a multipart body without its boundary', 'multipart/related; type="application/dicom"', Buffer.from('--x\r\n\r\nabc')],
      ['a multipart body that never closes', 'multipart/related; type="application/dicom"; boundary=b', Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\nnot dicom')],
      ['garbage as a DICOM part', undefined, Buffer.from('DICM but not really')],
      ['malformed DICOM JSON metadata', 'json', Buffer.from('[{"00100010": {"vr": "PN", "Value": [ {"Alphabetic": "SMITH^JANE"')],
    ])('answers %s with a 4xx problem document and no stack, paths or SQL', async (_name, kind, payload) => {
      let contentType: string;
      let body: Buffer;
      if (kind === undefined) ({ contentType, body } = multipartBody([{ contentType: 'application/dicom', body: payload }]));
      else if (kind === 'json') {
        ({ body } = multipartBody([{ contentType: 'application/dicom+json', body: payload }]));
        contentType = 'multipart/related; type="application/dicom+json"; boundary=lucida-test-boundary-7f3a';
      } else ({ contentType, body } = { contentType: kind, body: payload });
      const res = await request(srv.url).post('/dicomweb/studies').set('Authorization', `Bearer ${photographer}`)
        .set('Content-Type', contentType).set('Accept', 'application/dicom+json').send(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(INTERNALS);
      expect(res.text).not.toMatch(/SMITH\^JANE/i);
    });

    it('answers a capture with malformed metadata JSON with a 4xx, no internals', async () => {
      const boundary = 'cap-b';
      const body = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="metadata"\r\nContent-Type: application/json\r\n\r\n`
        + `{"patient": {"nhsNumber": "943 476 5919", \r\n--${boundary}--\r\n`);
      const res = await request(srv.url).post('/api/captures').set('Authorization', `Bearer ${photographer}`)
        .set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(INTERNALS);
      expect(res.text).not.toContain('943 476 5919');
    });

    it('writes the server\'s whole log, debug lines included, to test-logs/ for the log scan', async () => {
      const files = (await readdir(TEST_LOG_DIR)).filter((f) => f.startsWith(`hardening-${process.pid}-`));
      const text = (await Promise.all(files.map((f) => readFile(path.join(TEST_LOG_DIR, f), 'utf8')))).join('');
      expect(text).toContain(`"port":${srv.config.embeddedPostgresPort}`); // this server's start-up line
      expect(text).toContain('"level":20'); // debug (the embedded Postgres's own lines)
      expect(srv.logs.join('')).not.toContain('"level":20'); // srv.logs keeps the configured level (info)
    });

    it('keeps a search\'s patient identifiers out of the log', async () => {
      await request(srv.url).get('/dicomweb/studies?PatientID=9434765919&PatientName=SMITH%5EJANE')
        .set('Authorization', `Bearer ${clinician}`).expect(200);
      const logs = srv.logs.join('');
      expect(logs).toContain('"path":"/dicomweb/studies"');
      expect(logs).not.toMatch(/9434765919|SMITH\^JANE|SMITH%5EJANE/i);
    });
  });

  describe('with the database stopped', () => {
    let pgDir: string;
    let pgPort: number;
    let db: EmbeddedDatabase | undefined;
    let other: TestServer;

    beforeAll(async () => {
      pgDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-hardening-pg-'));
      pgPort = await freePort();
      db = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
      other = await startTestServer({ DATABASE_URL: db.url }); // no CORS origins, no trusted proxy
    });
    afterAll(async () => {
      db ??= await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort }); // so that the server stops cleanly
      await other?.destroy();
      await db.stop();
      await rm(pgDir, { recursive: true, force: true });
    });

    it('frames nothing but its own origin when no CORS origins are configured', async () => {
      const res = await request(other.url).get('/healthz').expect(200);
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    });

    it('answers 503 UNAVAILABLE without SQL, addresses or stacks, and recovers when the database is back', async () => {
      const token = await other.token('clinician');
      const search = () => request(other.url).get('/dicomweb/studies?PatientID=9434765919').set('Authorization', `Bearer ${token}`);
      await search().expect(200);
      await db!.stop();
      db = undefined;
      for (const path of ['/dicomweb/studies?PatientID=9434765919', '/dicomweb/studies/1.2.3/series', '/dicomweb/studies/1.2.3/metadata']) {
        const res = await request(other.url).get(path).set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ code: 'UNAVAILABLE' });
        expect(res.text).not.toMatch(INTERNALS);
        expect(res.text).not.toContain(pgDir);
        expect(res.text).not.toContain(String(pgPort));
      }
      await request(other.url).get('/readyz').expect(503);
      db = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
      await search().expect(200);
    });

    it('counts failed authentications by the socket address when no proxy is trusted: X-Forwarded-For does not help', async () => {
      for (let i = 0; i < AUTH_FAILURES_PER_MINUTE; i++) {
        await request(other.url).get('/dicomweb/studies').set('Authorization', 'Bearer x.y.z').set('X-Forwarded-For', `198.51.100.${i}`).expect(401);
      }
      await request(other.url).get('/dicomweb/studies').set('Authorization', 'Bearer x.y.z').set('X-Forwarded-For', '198.51.100.200').expect(429);
    });
  });

  describe('the log scan (test/log-scan.ts)', () => {
    let dir: string;
    beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'lucida-log-scan-')); });
    afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

    it('knows the fixtures\' patients', () => {
      const ids = fixtureIdentifiers();
      const values = (kind: string) => ids.filter((i) => i.kind === kind).map((i) => i.value);
      expect(values('NHS number')).toEqual(expect.arrayContaining(['9434765919', '9449305552', '9434765910']));
      expect(values('person name').map((n) => n.toLowerCase()))
        .toEqual(expect.arrayContaining(['photo^patient^one', 'smith^jane', 'müller^jürgen', 'lucida^test']));
      expect(values('patient ID')).toEqual(expect.arrayContaining(['PID-001', 'RX1234']));
    });

    it('finds identifiers in any spelling, masks them, and leaves UIDs and other numbers alone', async () => {
      // A valid NHS number that no fixture uses, built here so that it appears in no source either.
      const stem = '40123456';
      const fresh = Array.from({ length: 100 }, (_, i) => `${stem}${String(i).padStart(2, '0')}`).find(passesNhsCheck)!;
      await writeFile(path.join(dir, 'a.log'), [
        '{"level":30,"msg":"request","path":"/dicomweb/studies/1.2.826.0.1.3680043.9434765919.7","ms":12.9434765919}',
        '{"level":30,"msg":"nothing here","bytes":1234567890123,"time":1795541438898}',
        '{"level":50,"msg":"capture failed","nhs":"943 476 5919"}',
        '{"level":20,"msg":"matched","name":"smith^jane"}',
        `{"level":30,"msg":"lookup","value":"${fresh}"}`,
      ].join('\n'));
      const { files, lines, findings } = scanLogs(dir, fixtureIdentifiers());
      expect({ files, lines }).toEqual({ files: 1, lines: 5 });
      expect(findings.map((f) => [f.line, f.kind])).toEqual([
        [3, 'NHS number'], [4, 'person name'], [5, 'number that passes the NHS number check'],
      ]);
      expect(findings.map((f) => f.masked)).toEqual(['943*********', 'smi*******', `${fresh.slice(0, 3)}*******`]);
      expect(findings.map((f) => f.file)).toEqual(Array(3).fill(path.join(path.basename(dir), 'a.log')));
    });
  });
});
