/**
 * A stand-in for the hospital's OpenID provider in tests: real RSA and EC keys (jose), a JWKS
 * served over real HTTP on loopback (node:http), key rotation, a count of JWKS fetches, and
 * token minting with any of its keys.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type IdpAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface IdpKey { kid: string; alg: IdpAlgorithm; privateKey: CryptoKey; publicJwk: JWK }

export interface MintOptions {
  /** Signing key; default the first published key. */
  key?: IdpKey;
  /** Seconds from now (negative: already expired). Default 300. */
  expiresIn?: number;
  /** `nbf`, seconds from now. */
  notBefore?: number;
  /** `iat`, seconds from now (default 0). */
  issuedAt?: number;
  issuer?: string;
  audience?: string;
  /** Omit `sub`. */
  noSubject?: boolean;
  /** Extra or overriding header members (kid, typ, ...). */
  header?: Record<string, unknown>;
}

export interface TestIdp {
  /** The issuer (`iss`) its tokens carry: the server's base URL, as OpenID Connect providers do. */
  issuer: string;
  jwksUrl: string;
  /** Published keys, in JWKS order. */
  readonly keys: IdpKey[];
  /** JWKS fetches served so far. */
  readonly fetches: number;
  /** When each fetch was served (Date.now()). */
  readonly fetchTimes: number[];
  /** JWKS requests received, failed ones included. */
  readonly requests: number;
  /** Answer JWKS requests with this status instead (e.g. 503: the IdP is down); undefined to recover. */
  failWith?: number;
  /** Generates a key (not yet published unless `publish`). */
  generateKey(alg: IdpAlgorithm, opts?: { kid?: string; publish?: boolean }): Promise<IdpKey>;
  publish(key: IdpKey): void;
  withdraw(key: IdpKey): void;
  /**
   * Signs `claims` with one of its keys. Defaults: sub 'user-1', aud the given audience, a fresh
   * jti (so two tokens minted in one second differ even with a deterministic RS256 signature).
   */
  mint(claims: JWTPayload, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

let kidCounter = 0;

/** Starts an IdP on 127.0.0.1 with one RSA (RS256) and one EC (ES256) key published. */
export async function startTestIdp(opts: { audience: string }): Promise<TestIdp> {
  const published: IdpKey[] = [];
  const fetchTimes: number[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') {
      requests++;
      if (idp.failWith) {
        res.writeHead(idp.failWith).end();
        return;
      }
      fetchTimes.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const idp: TestIdp = {
    issuer: `${base}/realms/hospital`,
    jwksUrl: `${base}/jwks`,
    get keys() { return [...published]; },
    get fetches() { return fetchTimes.length; },
    get fetchTimes() { return [...fetchTimes]; },
    get requests() { return requests; },
    async generateKey(alg, o = {}) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const kid = o.kid ?? `test-${alg.toLowerCase()}-${++kidCounter}`;
      const key: IdpKey = { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
      if (o.publish) published.push(key);
      return key;
    },
    publish(key) { if (!published.includes(key)) published.push(key); },
    withdraw(key) {
      const i = published.indexOf(key);
      if (i >= 0) published.splice(i, 1);
    },
    async mint(claims, o = {}) {
      const key = o.key ?? published[0];
      const now = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = {
        iss: o.issuer ?? idp.issuer, aud: o.audience ?? opts.audience, sub: 'user-1',
        iat: now + (o.issuedAt ?? 0), exp: now + (o.expiresIn ?? 300), jti: randomUUID(), ...claims,
      };
      if (o.notBefore !== undefined) payload.nbf = now + o.notBefore;
      if (o.noSubject) delete payload.sub;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...o.header })
        .sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  await idp.generateKey('RS256', { publish: true });
  await idp.generateKey('ES256', { publish: true });
  return idp;
}
