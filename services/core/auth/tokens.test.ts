import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTokenVerifier, loadOrCreateLocalKey, signLocalToken } from './tokens.js';

describe('token verification', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'lucida-keys-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
  const opts = { issuer: 'lucida-local', audience: 'lucida' };

  it('maps claims to a principal, keeping only known roles', async () => {
    const key = await loadOrCreateLocalKey(dir);
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk });
    const token = await signLocalToken(key, opts, { subject: 'dr-who', roles: ['clinician', 'wizard'], patientId: '9434765919' });
    expect(await verifier.verify(token)).toEqual({ subject: 'dr-who', roles: ['clinician'], patientId: '9434765919', clientId: undefined });
  });

  it('keeps using one key file across restarts, and a token from another key is refused', async () => {
    const key = await loadOrCreateLocalKey(dir);
    expect((await loadOrCreateLocalKey(dir)).publicJwk).toEqual(key.publicJwk);
    const other = await loadOrCreateLocalKey(await mkdtemp(path.join(os.tmpdir(), 'lucida-keys-')));
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk });
    await expect(verifier.verify(await signLocalToken(other, opts, { subject: 'x', roles: ['admin'] })))
      .rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });

  it('caches a verification, but never past the token expiry (plus tolerance)', async () => {
    const key = await loadOrCreateLocalKey(dir);
    let now = Date.now();
    const verifier = createTokenVerifier({ ...opts, localPublicJwk: key.publicJwk, now: () => now });
    const token = await signLocalToken(key, opts, { subject: 'x', roles: ['admin'], ttlSeconds: 10 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'x' });
    now += 5_000;
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'x' });
    now += 40_000; // 45 s: past exp (10 s) + tolerance (30 s), but inside the 60 s cache window
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
  });
});
