/**
 * Prints a new viewer-session signing key, the JSON that SESSION_KEY_FILE names
 * ({"privateJwk": {...}, "publicJwk": {...}}, an ES256 pair, as services/core/auth/tokens.ts
 * loadSessionKey reads it). Every API process of one deployment must read the same file, so it is
 * made once and handed to all of them as a secret; Lucida never creates it.
 *
 *   node docker/session-key.mjs > docker/secrets/session_key.json
 *
 * Plain Node (20 or later), no dependencies: it runs on any host with Node, or in the image
 * (`docker run --rm -v "$PWD/docker:/d:ro" --entrypoint node lucida /d/session-key.mjs`).
 */
import { randomUUID, webcrypto } from 'node:crypto';
import process from 'node:process';

const { subtle } = webcrypto;
const { privateKey, publicKey } = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
const kid = `lucida-session-${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
// WebCrypto's key_ops and ext describe this process's CryptoKey, not the key: left out.
const jwk = async (key) => {
  const { key_ops: _ops, ext: _ext, ...rest } = await subtle.exportKey('jwk', key);
  return { ...rest, kid, alg: 'ES256', use: 'sig' };
};
process.stdout.write(`${JSON.stringify({ privateJwk: await jwk(privateKey), publicJwk: await jwk(publicKey) })}\n`);
