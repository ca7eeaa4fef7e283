/**
 * Bearer tokens: verification of the hospital's OpenID Connect tokens and Lucida's own viewer
 * session tokens, and the local keys that sign the latter (and the embedded default's tokens).
 *
 * Two kinds of token reach the API, told apart by `iss` and each verified ONLY with its own keys:
 * - IdP tokens: `iss` = AUTH_ISSUER, keys from AUTH_JWKS_URL (cached, refetched for an unknown
 *   `kid` at most once per cooldown). Without AUTH_JWKS_URL (the embedded default) the local ES256
 *   key under DATA_DIR/keys, with which `npm run token` signs.
 * - Viewer session tokens: `iss` = lucida-session, signed by Lucida itself (SESSION_KEY_FILE, else
 *   the local key), patient-scoped, issued by the launch exchange.
 * Claims become a Principal in claims.ts. Every refusal is INVALID_TOKEN (401) with a detail that
 * says what was wrong and never echoes the token.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createLocalJWKSet, decodeJwt, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT,
  type JWK, type JWTPayload, type JWTVerifyGetKey, type JWSHeaderParameters, type FlattenedJWSInput,
} from 'jose';
import { ConfigError } from '../config.js';
import { LucidaError } from '../errors.js';
import { clientIdOf, DEFAULT_CLAIM_MAPPING, mapPatient, principalFromIdpClaims, subjectOf } from './claims.js';
import { isRole, type PatientRef, type Principal } from './principal.js';

/** `iss` of viewer session tokens. AUTH_ISSUER may not be this. */
export const SESSION_ISSUER = 'lucida-session';
/** JOSE `typ` of session tokens (RFC 8725 §3.11: explicit typing, so no other JWT can pass as one). */
const SESSION_TYP = 'lucida-session+jwt';
/** The default allow-list, as config.ts: asymmetric only. */
const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const VERIFIED_CACHE_SECONDS = 60;
const VERIFIED_CACHE_ENTRIES = 10_000;
/** Remote JWKS: how long a fetched set is used before it is fetched again. */
const JWKS_CACHE_SECONDS = 600;
/**
 * Least time between two JWKS fetches caused by an unknown `kid` (or by a failed fetch): a flood
 * of tokens with made-up kids costs the IdP at most one request per cooldown. (Keycloak's adapters
 * use the same 10 s as their min-time-between-jwks-requests.)
 */
const JWKS_COOLDOWN_SECONDS = 10;
const JWKS_TIMEOUT_MS = 5_000;

export interface TokenVerifier { verify(token: string): Promise<Principal> }

export interface TokenVerifierOptions {
  /** Expected `iss` of IdP tokens (config.auth.issuer). */
  issuer: string;
  /** Expected `aud`, of IdP and session tokens alike. */
  audience: string;
  /** The IdP's JWKS; without it, IdP tokens are verified with localPublicJwk (embedded default). */
  jwksUrl?: string;
  localPublicJwk?: JWK;
  /** Public half of the session key (loadSessionKey); without it no session token is accepted. */
  sessionPublicJwk?: JWK;
  /** Accepted `alg`s of IdP tokens (config validates: asymmetric only). */
  algorithms?: string[];
  clockToleranceSeconds?: number;
  rolesClaim?: string;
  roleMap?: Record<string, string>;
  patientClaim?: string;
  patientIssuer?: string;
  jwksCacheSeconds?: number;
  jwksCooldownSeconds?: number;
  /** The clock (tests move it); defaults to the system clock. */
  now?: () => number;
}

/** An ES256 key pair as JWKs (local issuer, viewer sessions). */
export interface SigningKey { privateJwk: JWK; publicJwk: JWK }
type LocalKeyFile = SigningKey;

/** Loads the local signing key, creating it (mode 0600) on first use. */
export async function loadOrCreateLocalKey(dataDir: string): Promise<LocalKeyFile> {
  const file = path.join(dataDir, 'keys', 'signing-key.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LocalKeyFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `lucida-${Date.now().toString(36)}`;
  const keys: LocalKeyFile = {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(keys), { mode: 0o600, flag: 'wx' }).catch(async (err) => {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  });
  await chmod(file, 0o600);
  return JSON.parse(await readFile(file, 'utf8')) as LocalKeyFile;
}

/**
 * The key that signs viewer session tokens: SESSION_KEY_FILE (`{privateJwk, publicJwk}`, as
 * loadOrCreateLocalKey writes; every API process of one deployment must share it), else the local
 * key under DATA_DIR/keys. Checked at start (a pair that does not match fails here, not at the
 * first launch).
 */
export async function loadSessionKey(config: { dataDir: string; session: { keyFile?: string } }): Promise<SigningKey> {
  let key: SigningKey;
  if (config.session.keyFile) {
    try {
      key = JSON.parse(await readFile(config.session.keyFile, 'utf8')) as SigningKey;
    } catch (err) {
      throw new ConfigError(`SESSION_KEY_FILE: cannot read ${config.session.keyFile} as JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  } else {
    key = await loadOrCreateLocalKey(config.dataDir);
  }
  if (!key?.privateJwk?.kty || !key.publicJwk?.kty || key.publicJwk.d !== undefined) {
    throw new ConfigError('SESSION_KEY_FILE must hold {"privateJwk": {...}, "publicJwk": {...}} (a private and a public JWK)');
  }
  const probe = await new SignJWT({}).setProtectedHeader({ alg: keyAlg(key.privateJwk) }).sign(await importJWK(key.privateJwk, keyAlg(key.privateJwk)));
  await jwtVerify(probe, await importJWK(key.publicJwk, keyAlg(key.publicJwk))).catch(() => {
    throw new ConfigError('SESSION_KEY_FILE: the public key does not match the private key');
  });
  return key;
}

const keyAlg = (jwk: JWK): string => jwk.alg ?? 'ES256';

/**
 * The IdP's JWKS over HTTP. Unlike jose's createRemoteJWKSet, a failed fetch also starts the
 * cooldown (an IdP that is down is not asked again by every request) and keys already fetched stay
 * in use while the IdP cannot be reached; and it runs on the verifier's clock.
 */
function remoteKeySet(url: URL, o: { cacheMs: number; cooldownMs: number; now: () => number }): JWTVerifyGetKey {
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = -Infinity;
  let attemptedAt = -Infinity;
  let pending: Promise<void> | undefined;

  const fetchKeys = async () => {
    attemptedAt = o.now();
    const res = await fetch(url, {
      redirect: 'manual', signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    keys = createLocalJWKSet(await res.json() as { keys: JWK[] }); // validated by jose (JWKSInvalid)
    fetchedAt = o.now();
  };
  // One fetch at a time, whoever asks.
  const refresh = () => (pending ??= fetchKeys().finally(() => { pending = undefined; }));
  const unavailable = (err: unknown) => new LucidaError('UNAVAILABLE',
    `the identity provider's signing keys (AUTH_JWKS_URL) cannot be fetched: ${(err as Error).message ?? err}`);
  const mayFetch = () => o.now() - attemptedAt >= o.cooldownMs;

  return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    if ((!keys || o.now() - fetchedAt >= o.cacheMs) && (mayFetch() || pending)) {
      await refresh().catch((err) => { if (!keys) throw unavailable(err); });
    }
    if (!keys) throw unavailable(new Error('the last attempt failed, retrying after the cooldown'));
    try {
      return await keys(header, token);
    } catch (err) {
      // An unknown kid: the IdP may have rotated its keys since the last fetch.
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !mayFetch()) throw err;
      await refresh().catch(() => { throw err; });
      return keys(header, token);
    }
  };
}

/** jose's errors as what the client should be told (no token, no claim values). */
function refusal(err: unknown): LucidaError {
  if (err instanceof LucidaError) return err;
  const e = err as { code?: string; claim?: string; reason?: string };
  const detail = ((): string => {
    switch (e.code) {
      case 'ERR_JWT_EXPIRED': return e.claim === 'iat' ? 'the token was issued too long ago (iat)' : 'the token has expired (exp)';
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (e.reason === 'missing') return `the token has no "${e.claim}" claim`;
        if (e.claim === 'nbf') return 'the token is not valid yet (nbf)';
        if (e.claim === 'iat') return 'the token was issued in the future (iat)';
        if (e.claim === 'iss') return 'the token is from an issuer that is not accepted (iss)';
        if (e.claim === 'aud') return 'the token is meant for another audience (aud)';
        if (e.claim === 'typ') return 'the token has the wrong type (typ)';
        return `the token's "${e.claim}" claim is invalid`;
      case 'ERR_JOSE_ALG_NOT_ALLOWED': case 'ERR_JOSE_NOT_SUPPORTED':
        return 'the token\'s signature algorithm (alg) is not accepted';
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'the token\'s signature is invalid';
      case 'ERR_JWKS_NO_MATCHING_KEY': return 'the token is signed with a key (kid) the issuer does not publish';
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS': return 'the token names no key (kid) and several keys match';
      case 'ERR_JWS_INVALID': case 'ERR_JWT_INVALID': return 'the token is not a well-formed signed JWT';
      default: return 'the token could not be verified';
    }
  })();
  return new LucidaError('INVALID_TOKEN', detail);
}

/** A session token's claims as a Principal. Lucida wrote them, so the names are fixed, not configured. */
function principalFromSessionClaims(claims: JWTPayload): Principal {
  const patient = mapPatient(claims.patient);
  if (!patient) throw new LucidaError('INVALID_TOKEN', 'the session token names no patient');
  if (typeof claims.lid !== 'string' || !claims.lid) throw new LucidaError('INVALID_TOKEN', 'the session token names no launch (lid)');
  const principal: Principal = {
    subject: subjectOf(claims),
    roles: (Array.isArray(claims.roles) ? claims.roles : []).filter(isRole),
    patient,
    kind: 'session',
    launchId: claims.lid,
  };
  const clientId = clientIdOf(claims);
  if (clientId) principal.clientId = clientId;
  return principal;
}

/**
 * Verifies IdP tokens and session tokens. `{ ...config.auth, localPublicJwk, sessionPublicJwk }`
 * in the runtime.
 */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  if (opts.issuer === SESSION_ISSUER) throw new ConfigError(`AUTH_ISSUER may not be "${SESSION_ISSUER}" (Lucida's own session tokens)`);
  const clock = opts.now ?? Date.now;
  const algorithms = (opts.algorithms?.length ? opts.algorithms : DEFAULT_ALGORITHMS).filter((a) => a !== 'none' && !a.startsWith('HS'));
  const clockTolerance = opts.clockToleranceSeconds ?? 30;
  const mapping = {
    rolesClaim: opts.rolesClaim || DEFAULT_CLAIM_MAPPING.rolesClaim,
    roleMap: opts.roleMap ?? DEFAULT_CLAIM_MAPPING.roleMap,
    patientClaim: opts.patientClaim || DEFAULT_CLAIM_MAPPING.patientClaim,
    patientIssuer: opts.patientIssuer,
  };
  let idpKeys: JWTVerifyGetKey;
  if (opts.jwksUrl) {
    idpKeys = remoteKeySet(new URL(opts.jwksUrl), {
      cacheMs: (opts.jwksCacheSeconds ?? JWKS_CACHE_SECONDS) * 1000,
      cooldownMs: (opts.jwksCooldownSeconds ?? JWKS_COOLDOWN_SECONDS) * 1000,
      now: clock,
    });
  } else if (opts.localPublicJwk) {
    idpKeys = createLocalJWKSet({ keys: [opts.localPublicJwk] });
  } else {
    throw new ConfigError('createTokenVerifier needs jwksUrl or localPublicJwk');
  }
  const sessionKey = opts.sessionPublicJwk ? importJWK(opts.sessionPublicJwk, keyAlg(opts.sessionPublicJwk)) : undefined;
  // Swallow an import failure here; it surfaces (as a refusal) when a session token arrives.
  sessionKey?.catch(() => undefined);

  async function verifyNow(token: string, now: number): Promise<{ principal: Principal; exp: number }> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new LucidaError('INVALID_TOKEN', 'the token is not a well-formed signed JWT');
    }
    const common = { audience: opts.audience, clockTolerance, currentDate: new Date(now), requiredClaims: ['exp'] };
    if (iss === SESSION_ISSUER) {
      // Only the session key, never the IdP's: an IdP token cannot pass for a session, nor the reverse.
      if (!sessionKey) throw new LucidaError('INVALID_TOKEN', 'session tokens are not accepted here');
      const { payload } = await jwtVerify(token, await sessionKey, {
        ...common, issuer: SESSION_ISSUER, typ: SESSION_TYP, algorithms: [keyAlg(opts.sessionPublicJwk!)],
      });
      return { principal: principalFromSessionClaims(payload), exp: payload.exp! };
    }
    const { payload } = await jwtVerify(token, idpKeys, { ...common, issuer: opts.issuer, algorithms });
    return { principal: principalFromIdpClaims(payload, mapping), exp: payload.exp! };
  }

  // An EPR sends many requests with one token: the signature is checked once and the result kept
  // for at most VERIFIED_CACHE_SECONDS and never past the token's own expiry. (A key withdrawn from
  // the JWKS therefore stops being honoured within that time.)
  const verified = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(token) {
      const now = clock();
      const hit = verified.get(token);
      if (hit && hit.until > now) return structuredClone(hit.principal);
      if (hit) verified.delete(token);
      try {
        const { principal, exp } = await verifyNow(token, now);
        const until = Math.min(now + VERIFIED_CACHE_SECONDS * 1000, exp * 1000);
        if (until > now) {
          if (verified.size >= VERIFIED_CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
          verified.set(token, { principal, until });
        }
        return structuredClone(principal);
      } catch (err) {
        if (err instanceof LucidaError && err.code === 'UNAVAILABLE') throw err;
        throw refusal(err);
      }
    },
  };
}

export interface TokenRequest { subject: string; roles: string[]; patientId?: string; ttlSeconds?: number }

/** Signs a token with the local key (embedded default and tests). */
export async function signLocalToken(key: LocalKeyFile, opts: { issuer: string; audience: string }, req: TokenRequest): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, 'ES256');
  const claims: Record<string, unknown> = { roles: req.roles };
  if (req.patientId) claims.patient = req.patientId;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid, typ: 'JWT' })
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setSubject(req.subject)
    .setIssuedAt()
    .setExpirationTime(`${req.ttlSeconds ?? 8 * 3600}s`)
    .sign(privateKey);
}

export interface SessionTokenRequest {
  /** The clinician the session is for (the launch's user). */
  subject: string;
  patient: PatientRef;
  /** The EPR client that launched it. */
  clientId?: string;
  launchId: string;
  ttlSeconds: number;
}

/**
 * Signs a viewer session token (the launch exchange and its refresh): patient-scoped, role
 * clinician, `iss` lucida-session, verified by createTokenVerifier with the session key only.
 */
export async function signSessionToken(key: SigningKey, audience: string, s: SessionTokenRequest): Promise<{ token: string; expiresAt: Date }> {
  const alg = keyAlg(key.privateJwk);
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + s.ttlSeconds;
  const claims: JWTPayload = {
    roles: ['clinician'],
    // An issuer of '' (a patient recorded without one) is kept: the session is for that patient only.
    patient: s.patient.issuer !== undefined ? { id: s.patient.id, issuer: s.patient.issuer } : { id: s.patient.id },
    lid: s.launchId,
  };
  if (s.clientId) claims.client_id = s.clientId;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid: key.privateJwk.kid, typ: SESSION_TYP })
    .setIssuer(SESSION_ISSUER)
    .setAudience(audience)
    .setSubject(s.subject)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(await importJWK(key.privateJwk, alg));
  return { token, expiresAt: new Date(exp * 1000) };
}
