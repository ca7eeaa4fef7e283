import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { claimAt, mapPatient, mapRoles, principalFromIdpClaims, DEFAULT_CLAIM_MAPPING } from './claims.js';
import {
  createTokenVerifier, loadOrCreateLocalKey, loadSessionKey, signLocalToken, signSessionToken, SESSION_ISSUER, type SigningKey,
} from './tokens.js';

describe('claim mapping', () => {
  const keycloak = { sub: 'u1', realm_access: { roles: ['offline_access', 'medphoto-clinician'] }, 'https://lucida.example/roles': ['admin'] };

  it('reads a claim at a dotted path, and a namespaced claim whose name has dots', () => {
    expect(claimAt(keycloak, 'realm_access.roles')).toEqual(['offline_access', 'medphoto-clinician']);
    expect(claimAt(keycloak, 'https://lucida.example/roles')).toEqual(['admin']);
    expect(claimAt(keycloak, 'realm_access.nothing')).toBeUndefined();
    expect(claimAt(keycloak, 'sub.length')).toBeUndefined();
    expect(claimAt({ a: { b: { c: 'x' } } }, 'a.b.c')).toBe('x');
    expect(claimAt({ a: ['x'] }, 'a.0')).toBeUndefined();
  });

  it('without a role map, takes values that are Lucida role names and ignores the rest', () => {
    const m = { rolesClaim: 'roles', roleMap: {} };
    expect(mapRoles(['clinician', 'wizard', 42, 'admin', 'clinician'], m)).toEqual(['clinician', 'admin']);
    expect(mapRoles('epr', m)).toEqual(['epr']);
    expect(mapRoles({ clinician: true }, m)).toEqual([]);
    expect(mapRoles(undefined, m)).toEqual([]);
  });

  it('with a role map, only mapped names count, even ones that look like Lucida roles', () => {
    const m = { rolesClaim: 'groups', roleMap: { '/medphoto/clinicians': 'clinician', 'EPR-System': 'epr' } };
    expect(mapRoles(['/medphoto/clinicians', 'admin', 'EPR-System', 'epr-system'], m)).toEqual(['clinician', 'epr']);
    expect(mapRoles(['toString', '__proto__', 'constructor'], m)).toEqual([]);
  });

  it('splits an OAuth scope claim on spaces', () => {
    expect(mapRoles('openid lucida.store lucida.read', { rolesClaim: 'scope', roleMap: { 'lucida.store': 'epr' } })).toEqual(['epr']);
    expect(mapRoles('clinician admin', { rolesClaim: 'roles', roleMap: {} })).toEqual([]);
  });

  it('gives a bare PatientID the configured issuer (AUTH_PATIENT_ISSUER), so it never matches another issuer\'s patient', () => {
    expect(mapPatient('9434765919', 'NHS')).toEqual({ id: '9434765919', issuer: 'NHS' });
    expect(mapPatient({ id: 'RX1234', issuer: 'RXH' }, 'NHS')).toEqual({ id: 'RX1234', issuer: 'RXH' });
    expect(principalFromIdpClaims({ sub: 'u', roles: ['epr'], patient: '9434765919' }, { ...DEFAULT_CLAIM_MAPPING, patientIssuer: 'NHS' }).patient)
      .toEqual({ id: '9434765919', issuer: 'NHS' });
  });

  it('reads the patient as a PatientID string or {id, issuer}, and refuses a patient claim it cannot read', () => {
    expect(mapPatient('9434765919')).toEqual({ id: '9434765919' });
    expect(mapPatient({ id: '9434765919', issuer: 'NHS' })).toEqual({ id: '9434765919', issuer: 'NHS' });
    expect(mapPatient({ id: 'MRN-1' })).toEqual({ id: 'MRN-1' });
    expect(mapPatient(undefined)).toBeUndefined();
    // Ignoring these would turn a one-patient token into an all-patients token.
    for (const bad of ['', 'a\\b', 'x'.repeat(65), 9434765919, ['9434765919'], { issuer: 'NHS' }, { id: 'p', issuer: 7 }, 'a\nb']) {
      expect(() => mapPatient(bad)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    }
  });

  it('maps client id (client_id, else azp, else the RFC 8693 actor act.sub), and patient from the configured claim', () => {
    const mapping = { rolesClaim: 'realm_access.roles', roleMap: { 'medphoto-clinician': 'clinician' }, patientClaim: 'ctx.patient' };
    expect(principalFromIdpClaims({ ...keycloak, azp: 'viewer', ctx: { patient: { id: 'P1', issuer: 'H' } } }, mapping)).toEqual({
      subject: 'u1', roles: ['clinician'], kind: 'idp', clientId: 'viewer', patient: { id: 'P1', issuer: 'H' },
    });
    expect(principalFromIdpClaims({ sub: 'epr-system', client_id: 'epr', azp: 'other', roles: ['epr'] },
      DEFAULT_CLAIM_MAPPING)).toEqual({ subject: 'epr-system', roles: ['epr'], kind: 'idp', clientId: 'epr' });
    // Token exchange: the token is the user's (sub), the EPR acts for them (act.sub).
    expect(principalFromIdpClaims({ sub: 'dr.jones', act: { sub: 'epr' }, roles: ['clinician'] },
      DEFAULT_CLAIM_MAPPING)).toEqual({ subject: 'dr.jones', roles: ['clinician'], kind: 'idp', clientId: 'epr' });
    expect(principalFromIdpClaims({ sub: 's', act: 'dr.jones', roles: 'clinician' }, DEFAULT_CLAIM_MAPPING))
      .toEqual({ subject: 's', roles: ['clinician'], kind: 'idp' });
  });

  it('refuses a token without a usable subject', () => {
    expect(() => principalFromIdpClaims({ roles: ['admin'] }, DEFAULT_CLAIM_MAPPING))
      .toThrow(expect.objectContaining({ code: 'INVALID_TOKEN', message: 'the token has no subject (sub)' }));
    expect(() => principalFromIdpClaims({ sub: '' }, DEFAULT_CLAIM_MAPPING)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
  });
});

describe('token verification with the local key', () => {
  let dir: string;
  let key: SigningKey;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lucida-keys-'));
    key = await loadOrCreateLocalKey(dir);
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
  const opts = { issuer: 'lucida-local', audience: 'lucida' };

  it('maps claims to a principal, keeping only known roles', async () => {
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk });
    const token = await signLocalToken(key, opts, { subject: 'dr-who', roles: ['clinician', 'wizard'], patientId: '9434765919' });
    expect(await verifier.verify(token)).toEqual({ subject: 'dr-who', roles: ['clinician'], patient: { id: '9434765919' }, kind: 'idp' });
  });

  it('keeps using one key file across restarts, and a token from another key is refused', async () => {
    expect((await loadOrCreateLocalKey(dir)).publicJwk).toEqual(key.publicJwk);
    const other = await loadOrCreateLocalKey(await mkdtemp(path.join(os.tmpdir(), 'lucida-keys-')));
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk });
    await expect(verifier.verify(await signLocalToken(other, opts, { subject: 'x', roles: ['admin'] })))
      // Refused on its kid, or on its signature when both keys were made in the same millisecond.
      .rejects.toMatchObject({ code: 'INVALID_TOKEN', message: expect.stringMatching(/key \(kid\)|signature/) });
  });

  it('caches a verification, but never past the token expiry (plus tolerance)', async () => {
    let now = Date.now();
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk, now: () => now });
    const token = await signLocalToken(key, opts, { subject: 'x', roles: ['admin'], ttlSeconds: 10 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'x' });
    now += 5_000;
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'x' });
    now += 40_000; // 45 s: past exp (10 s) + tolerance (30 s), but inside the 60 s cache window
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN', message: 'the token has expired (exp)' });
  });

  it('hands out copies: a caller changing its principal does not change the cached one', async () => {
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk });
    const token = await signLocalToken(key, opts, { subject: 'x', roles: ['epr'] });
    const first = await verifier.verify(token);
    first.roles.push('admin');
    first.onBehalfOf = 'someone';
    expect(await verifier.verify(token)).toEqual({ subject: 'x', roles: ['epr'], kind: 'idp' });
  });

  it('refuses with a detail that does not echo the token', async () => {
    const verifier = createTokenVerifier({ ...opts, audience: 'elsewhere', localPublicJwk: key.publicJwk });
    const token = await signLocalToken(key, opts, { subject: 'x', roles: ['admin'] });
    const err = await verifier.verify(token).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'INVALID_TOKEN', status: 401, message: 'the token is meant for another audience (aud)' });
    for (const part of token.split('.')) expect(String((err as Error).message)).not.toContain(part.slice(0, 12));
    await expect(verifier.verify('not-a-jwt')).rejects.toMatchObject({ message: 'the token is not a well-formed signed JWT' });
  });

  it('refuses a configuration whose issuer is the session issuer', () => {
    expect(() => createTokenVerifier({ issuer: SESSION_ISSUER, audience: 'lucida', localPublicJwk: key.publicJwk })).toThrow(/AUTH_ISSUER/);
  });
});

describe('viewer session tokens', () => {
  let dir: string;
  let idpKey: SigningKey;
  let sessionKey: SigningKey;
  let otherKey: SigningKey;
  const auth = { issuer: 'lucida-local', audience: 'lucida' };
  const session = { subject: 'dr.jones', patient: { id: '9434765919', issuer: 'NHS' }, clientId: 'epr', launchId: 'launch-1', ttlSeconds: 600 };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lucida-keys-'));
    idpKey = await loadOrCreateLocalKey(path.join(dir, 'idp'));
    sessionKey = await loadOrCreateLocalKey(path.join(dir, 'session'));
    otherKey = await loadOrCreateLocalKey(path.join(dir, 'other'));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
  const verifier = () => createTokenVerifier({ ...auth, localPublicJwk: idpKey.publicJwk, sessionPublicJwk: sessionKey.publicJwk });

  it('verifies as kind session with its launch, patient and client', async () => {
    const before = Date.now();
    const { token, expiresAt } = await signSessionToken(sessionKey, 'lucida', session);
    expect(expiresAt.getTime()).toBeGreaterThanOrEqual(before + 599_000);
    expect(expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(await verifier().verify(token)).toEqual({
      subject: 'dr.jones', roles: ['clinician'], patient: { id: '9434765919', issuer: 'NHS' }, kind: 'session',
      launchId: 'launch-1', clientId: 'epr',
    });
    const [, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      iss: SESSION_ISSUER, aud: 'lucida', lid: 'launch-1', jti: expect.any(String), iat: expect.any(Number), exp: expect.any(Number),
    });
  });

  it('refuses a session token signed by another key, even the IdP\'s', async () => {
    for (const k of [otherKey, idpKey]) {
      const { token } = await signSessionToken(k, 'lucida', session);
      await expect(verifier().verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN', message: 'the token\'s signature is invalid' });
    }
  });

  it('refuses an IdP-issuer token signed with the session key', async () => {
    const token = await signLocalToken(sessionKey, auth, { subject: 'x', roles: ['admin'] });
    await expect(verifier().verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('refuses session tokens for another audience, expired, untyped, without patient or launch, or when sessions are off', async () => {
    const v = verifier();
    await expect(v.verify((await signSessionToken(sessionKey, 'other', session)).token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    let now = Date.now();
    const clocked = createTokenVerifier({ ...auth, localPublicJwk: idpKey.publicJwk, sessionPublicJwk: sessionKey.publicJwk, now: () => now });
    const { token } = await signSessionToken(sessionKey, 'lucida', { ...session, ttlSeconds: 60 });
    now += 91_000;
    await expect(clocked.verify(token)).rejects.toMatchObject({ message: 'the token has expired (exp)' });

    const sign = async (claims: Record<string, unknown>, typ = 'lucida-session+jwt') => new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ }).setIssuer(SESSION_ISSUER).setAudience('lucida').setSubject('s')
      .setIssuedAt().setExpirationTime('5m').sign(await importJWK(sessionKey.privateJwk, 'ES256'));
    const good = { roles: ['clinician'], patient: { id: 'P1' }, lid: 'l1' };
    await expect(v.verify(await sign(good))).resolves.toMatchObject({ kind: 'session', patient: { id: 'P1' } });
    await expect(v.verify(await sign(good, 'JWT'))).rejects.toMatchObject({ message: 'the token has the wrong type (typ)' });
    await expect(v.verify(await sign({ ...good, patient: undefined }))).rejects.toMatchObject({ message: 'the session token names no patient' });
    await expect(v.verify(await sign({ ...good, lid: undefined }))).rejects.toMatchObject({ message: 'the session token names no launch (lid)' });
    const noSessions = createTokenVerifier({ ...auth, localPublicJwk: idpKey.publicJwk });
    await expect(noSessions.verify(await sign(good))).rejects.toMatchObject({ message: 'session tokens are not accepted here' });
  });

  it('loads the session key from SESSION_KEY_FILE, and refuses a file whose halves do not match', async () => {
    const file = path.join(dir, 'session-key.json');
    await writeFile(file, JSON.stringify(sessionKey));
    expect(await loadSessionKey({ dataDir: path.join(dir, 'idp'), session: { keyFile: file } })).toEqual(sessionKey);
    expect(await loadSessionKey({ dataDir: path.join(dir, 'idp'), session: {} })).toEqual(idpKey);
    await writeFile(file, JSON.stringify({ privateJwk: sessionKey.privateJwk, publicJwk: otherKey.publicJwk }));
    await expect(loadSessionKey({ dataDir: dir, session: { keyFile: file } })).rejects.toThrow(/does not match/);
    await expect(loadSessionKey({ dataDir: dir, session: { keyFile: path.join(dir, 'missing.json') } })).rejects.toThrow(/SESSION_KEY_FILE.*ENOENT/);
    await writeFile(file, JSON.stringify({ privateJwk: sessionKey.privateJwk, publicJwk: sessionKey.privateJwk }));
    await expect(loadSessionKey({ dataDir: dir, session: { keyFile: file } })).rejects.toThrow(/privateJwk/);
  });
});
