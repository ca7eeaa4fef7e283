/**
 * Identity from the hospital's OpenID Connect provider, end to end: a real JWKS served over HTTP
 * on loopback (test/helpers/jwks.ts), tokens signed with real RSA and EC keys, a whole Lucida
 * server configured as a Keycloak-style deployment (roles under realm_access.roles, mapped by
 * AUTH_ROLE_MAP). Then the verifier alone against the same kind of endpoint, on a clock the test
 * moves: JWKS caching, cooldown, IdP outage, and claim mapping.
 */
import { exportJWK, exportSPKI, importJWK, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import request from 'supertest';
import { createTokenVerifier, loadSessionKey, signSessionToken, SESSION_ISSUER } from '../../services/core/auth/tokens.js';
import { startTestIdp, type TestIdp } from '../helpers/jwks.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

const AUDIENCE = 'lucida-api';
const ROLE_MAP = 'medphoto-clinician=clinician,medphoto-admin=admin,/systems/epr=epr,teaching-staff=teaching';
/** The verifier's default JWKS cooldown (tokens.ts). */
const COOLDOWN_MS = 10_000;

/** Replaces one character in the middle of a base64url segment (the last one may carry only padding bits). */
function flipChar(segment: string): string {
  const i = Math.floor(segment.length / 2);
  return segment.slice(0, i) + (segment[i] === 'A' ? 'B' : 'A') + segment.slice(i + 1);
}

describe('OpenID Connect tokens on a running server', () => {
  let idp: TestIdp;
  let srv: TestServer;
  const clinician = { realm_access: { roles: ['offline_access', 'medphoto-clinician'] } };

  beforeAll(async () => {
    idp = await startTestIdp({ audience: AUDIENCE });
    srv = await startTestServer({
      AUTH_ISSUER: idp.issuer, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_URL: idp.jwksUrl,
      AUTH_ROLES_CLAIM: 'realm_access.roles', AUTH_ROLE_MAP: ROLE_MAP, AUTH_CLOCK_TOLERANCE_SECONDS: '30',
    });
  });
  afterAll(async () => {
    await srv?.destroy();
    await idp?.close();
  });

  const studies = (token: string) => request(srv.url).get('/dicomweb/studies').set('Authorization', `Bearer ${token}`);
  async function expectRefused(token: string, detail: RegExp): Promise<void> {
    const res = await studies(token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="lucida", error="invalid_token"');
    expect(res.body).toMatchObject({ code: 'INVALID_TOKEN', detail: expect.stringMatching(detail) });
    expect(res.text).not.toContain(token.split('.')[1]);
  }

  it('accepts a valid token signed with the IdP\'s RSA key, then one signed with its EC key', async () => {
    expect(idp.fetches).toBe(0);
    await studies(await idp.mint(clinician)).expect(200);
    await studies(await idp.mint(clinician, { key: idp.keys[1] })).expect(200);
    expect(idp.fetches).toBe(1); // fetched once, then cached
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience and subject-less tokens', async () => {
    await expectRefused(await idp.mint(clinician, { expiresIn: -60 }), /expired \(exp\)/);
    await expectRefused(await idp.mint(clinician, { notBefore: 60 }), /not valid yet \(nbf\)/);
    await expectRefused(await idp.mint(clinician, { issuer: 'https://evil.example/realms/hospital' }), /issuer.*\(iss\)/);
    await expectRefused(await idp.mint(clinician, { audience: 'another-app' }), /audience \(aud\)/);
    await expectRefused(await idp.mint(clinician, { noSubject: true }), /no subject \(sub\)/);
  });

  it('accepts clock skew within the tolerance', async () => {
    await studies(await idp.mint(clinician, { expiresIn: -20 })).expect(200);
    await studies(await idp.mint(clinician, { notBefore: 20, issuedAt: 20 })).expect(200);
  });

  it('refuses alg none, and HS256 signed with the IdP\'s public key as the secret', async () => {
    const claims = { ...clinician, iss: idp.issuer, aud: AUDIENCE, sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 300 };
    await expectRefused(new UnsecuredJWT(claims).encode(), /algorithm \(alg\)/);
    const rsa = idp.keys[0];
    const pem = await exportSPKI(await importJWK(rsa.publicJwk, 'RS256', { extractable: true }) as CryptoKey);
    for (const secret of [pem, JSON.stringify(rsa.publicJwk)]) {
      const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: rsa.kid }).sign(new TextEncoder().encode(secret));
      await expectRefused(confused, /algorithm \(alg\)/);
    }
  });

  it('refuses a tampered payload and a tampered signature', async () => {
    const [header, payload, signature] = (await idp.mint(clinician)).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.realm_access.roles = ['medphoto-admin'];
    await expectRefused(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`, /signature is invalid/);
    await expectRefused(`${header}.${payload}.${flipChar(signature)}`, /signature is invalid/);
  });

  it('refuses a token signed by a key the IdP does not publish (unknown kid)', async () => {
    const stranger = await idp.generateKey('RS256');
    await expectRefused(await idp.mint(clinician, { key: stranger }), /key \(kid\)/);
    // Same kid as a published key, different key material: the signature fails.
    const impostor = await idp.generateKey('ES256', { kid: idp.keys[1].kid });
    await expectRefused(await idp.mint(clinician, { key: impostor }), /signature is invalid/);
  });

  it('maps IdP roles through AUTH_ROLE_MAP: unmapped names grant nothing', async () => {
    await studies(await idp.mint({ realm_access: { roles: ['teaching-staff'] } })).expect(403);
    // "clinician" is a Lucida role name, but with a role map only mapped names count.
    await studies(await idp.mint({ realm_access: { roles: ['clinician', 'uma_authorization'] } })).expect(403);
    await studies(await idp.mint({ roles: ['medphoto-clinician'] })).expect(403);
    await studies(await idp.mint({ realm_access: { roles: ['medphoto-admin'] } })).expect(200);
  });

  it('accepts a client-credentials token of a system client (sub = the client) with role epr', async () => {
    const epr = await idp.mint({ sub: 'service-account-epr', client_id: 'epr', realm_access: { roles: ['/systems/epr'] } });
    await studies(epr).expect(200);
  });

  it('accepts Lucida\'s viewer session tokens (session key only) and refuses them signed by another key', async () => {
    const sessionKey = await loadSessionKey(srv.config);
    const s = { subject: 'dr.jones', patient: { id: 'P-OIDC-1' }, clientId: 'epr', launchId: 'launch-oidc', ttlSeconds: 300 };
    const { token } = await signSessionToken(sessionKey, AUDIENCE, s);
    await studies(token).expect(200);
    const verifier = createTokenVerifier({ ...srv.config.auth, sessionPublicJwk: sessionKey.publicJwk });
    await expect(verifier.verify(token)).resolves.toMatchObject({ kind: 'session', launchId: 'launch-oidc', patient: { id: 'P-OIDC-1' } });

    // Signed with the IdP's key, a session token is refused; and the session key cannot sign IdP tokens.
    const idpSigned = await idp.mint({ iss: SESSION_ISSUER, roles: ['clinician'], patient: { id: 'P-OIDC-1' }, lid: 'x' },
      { key: idp.keys.find((k) => k.alg === 'ES256'), header: { typ: 'lucida-session+jwt' } });
    await expectRefused(idpSigned, /signature is invalid/);
    await expectRefused(await srv.token('admin'), /key \(kid\)/); // the local (= session) key, with iss = the IdP
    const stranger = await idp.generateKey('ES256');
    await expectRefused((await signSessionToken({ privateJwk: await exportPrivate(stranger.privateKey), publicJwk: stranger.publicJwk },
      AUDIENCE, s)).token, /signature is invalid/);
  });

  it('after a key rotation, accepts the new key with one refetch and refuses the withdrawn one', async () => {
    const [oldRsa] = idp.keys;
    // The cooldown runs from the last fetch: wait it out, as time would pass between two rotations.
    await sleep(Math.max(0, idp.fetchTimes.at(-1)! + COOLDOWN_MS + 200 - Date.now()));
    const rotated = await idp.generateKey('RS256', { publish: true });
    idp.withdraw(oldRsa);
    const before = idp.fetches;
    await studies(await idp.mint(clinician, { key: rotated })).expect(200);
    expect(idp.fetches).toBe(before + 1);
    await studies(await idp.mint(clinician, { key: rotated })).expect(200);
    await expectRefused(await idp.mint(clinician, { key: oldRsa }), /key \(kid\)/);
    expect(idp.fetches).toBe(before + 1);
  }, 30_000);

  it('never logs a token', () => {
    const logs = srv.logs.join('');
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
  });
});

async function exportPrivate(key: CryptoKey) {
  return { ...(await exportJWK(key)), alg: 'ES256' };
}

describe('the verifier against a real JWKS endpoint', () => {
  let idp: TestIdp;
  let now: number;
  beforeAll(async () => { idp = await startTestIdp({ audience: AUDIENCE }); });
  afterAll(async () => { await idp?.close(); });
  beforeEach(() => { now = Date.now(); });

  const verifier = (extra: { rolesClaim?: string; roleMap?: Record<string, string> } = {}) => createTokenVerifier({
    issuer: idp.issuer, audience: AUDIENCE, jwksUrl: idp.jwksUrl, algorithms: ['RS256', 'ES256'], clockToleranceSeconds: 30,
    rolesClaim: 'groups', roleMap: { '/Medical Photography/Photographers': 'photographer', 'EPR Integration': 'epr' }, patientClaim: 'patient',
    now: () => now, ...extra,
  });

  it('maps roles from groups, takes client_id as the client, and a delegated token (RFC 8693) as its user acted for by act.sub', async () => {
    const v = verifier();
    const user = await idp.mint({ sub: 'u-17', azp: 'capture-app', groups: ['/Medical Photography/Photographers', '/Staff'] });
    await expect(v.verify(user)).resolves.toEqual({ subject: 'u-17', roles: ['photographer'], clientId: 'capture-app', kind: 'idp' });
    const system = await idp.mint({ sub: 'epr-svc', client_id: 'epr', azp: 'epr', groups: 'EPR Integration', patient: { id: '9434765919', issuer: 'NHS' } });
    await expect(v.verify(system)).resolves.toEqual({
      subject: 'epr-svc', roles: ['epr'], clientId: 'epr', patient: { id: '9434765919', issuer: 'NHS' }, kind: 'idp',
    });
    const delegated = await idp.mint({ sub: 'dr.jones@trust.nhs.uk', act: { sub: 'epr' }, groups: '/Medical Photography/Photographers' });
    await expect(v.verify(delegated)).resolves.toEqual({ subject: 'dr.jones@trust.nhs.uk', roles: ['photographer'], clientId: 'epr', kind: 'idp' });
  });

  it('does not let a flood of unknown kids reach the IdP: one fetch per cooldown', async () => {
    const v = verifier();
    await v.verify(await idp.mint({ groups: ['EPR Integration'] }));
    const start = idp.requests;
    const stranger = await idp.generateKey('ES256');
    const bad = await Promise.all(Array.from({ length: 50 }, (_, i) => idp.mint({ n: i }, { key: stranger })));
    const results = await Promise.allSettled(bad.map((t) => v.verify(t)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'INVALID_TOKEN')).toBe(true);
    expect(idp.requests).toBe(start);
    now += COOLDOWN_MS;
    await Promise.allSettled(bad.map((t) => v.verify(t)));
    expect(idp.requests).toBe(start + 1); // one refetch for 50 unknown kids, then cooling down again
  });

  it('answers 503 while the IdP cannot be reached, asking it at most once per cooldown, and uses keys it already has', async () => {
    const token = await idp.mint({ groups: ['EPR Integration'] }, { expiresIn: 3600 });
    idp.failWith = 503;
    const v = verifier();
    const start = idp.requests;
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'UNAVAILABLE', status: 503 });
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(idp.requests).toBe(start + 1);
    idp.failWith = undefined;
    now += COOLDOWN_MS;
    await expect(v.verify(token)).resolves.toMatchObject({ roles: ['epr'] });
    // Cache expired (10 min) and the IdP down again: the keys fetched before stay in use.
    idp.failWith = 503;
    now += 11 * 60_000;
    await expect(v.verify(await idp.mint({ groups: ['EPR Integration'] }, { expiresIn: 3600 }))).resolves.toMatchObject({ roles: ['epr'] });
    expect(idp.requests).toBe(start + 3);
    idp.failWith = undefined;
  });

  it('refetches when the cached set is older than its maximum age, and then refuses a withdrawn key', async () => {
    const v = verifier();
    const [rsa] = idp.keys;
    await v.verify(await idp.mint({ groups: [] }, { key: rsa, expiresIn: 3600 }));
    const start = idp.fetches;
    idp.withdraw(rsa);
    await expect(v.verify(await idp.mint({ groups: [] }, { key: rsa, expiresIn: 3600 }))).resolves.toMatchObject({ roles: [] });
    now += 10 * 60_000;
    await expect(v.verify(await idp.mint({ groups: [] }, { key: rsa, expiresIn: 3600 }))).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect(idp.fetches).toBe(start + 1);
    idp.publish(rsa);
  });
});
