/**
 * Bearer token verification (jose). Production: the hospital's OpenID provider's JWKS
 * (AUTH_JWKS_URL). Embedded default: a local ES256 key pair created under DATA_DIR/keys on first
 * start, with which `npm run token` signs tokens.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createLocalJWKSet, createRemoteJWKSet, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT,
  type JWK, type JWTPayload,
} from 'jose';
import { LucidaError } from '../errors.js';
import { isRole, type Principal } from './principal.js';

const ALGORITHMS = ['ES256', 'RS256', 'PS256', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 30;
const VERIFIED_CACHE_SECONDS = 60;
const VERIFIED_CACHE_ENTRIES = 10_000;

export interface TokenVerifier { verify(token: string): Promise<Principal> }

interface LocalKeyFile { privateJwk: JWK; publicJwk: JWK }

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

function principalFromClaims(claims: JWTPayload): Principal {
  const raw = claims.roles ?? claims.role;
  const roles = (Array.isArray(raw) ? raw : [raw]).filter(isRole);
  if (!claims.sub) throw new LucidaError('INVALID_TOKEN', 'token has no subject');
  return {
    subject: claims.sub,
    roles,
    patient: typeof claims.patient === 'string' ? { id: claims.patient } : undefined,
    kind: 'idp',
    clientId: typeof claims.client_id === 'string' ? claims.client_id : (typeof claims.azp === 'string' ? claims.azp : undefined),
  };
}

export function createTokenVerifier(opts: {
  issuer: string; audience: string; jwksUrl?: string; localPublicJwk?: JWK;
  /** The clock (tests move it); defaults to the system clock. */
  now?: () => number;
}): TokenVerifier {
  const clock = opts.now ?? Date.now;
  const keySet = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    : createLocalJWKSet({ keys: [opts.localPublicJwk!] });
  // An EPR sends many requests with one token: the signature is checked once and the result kept
  // for at most VERIFIED_CACHE_SECONDS and never past the token's own expiry. (A key withdrawn from
  // the JWKS therefore stops being honoured within that time.)
  const verified = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(token) {
      const now = clock();
      const hit = verified.get(token);
      if (hit && hit.until > now) return hit.principal;
      if (hit) verified.delete(token);
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer: opts.issuer,
          audience: opts.audience,
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(now),
        });
        const principal = principalFromClaims(payload);
        const until = Math.min(now + VERIFIED_CACHE_SECONDS * 1000, (payload.exp ?? 0) * 1000);
        if (until > now) {
          if (verified.size >= VERIFIED_CACHE_ENTRIES) verified.delete(verified.keys().next().value!);
          verified.set(token, { principal, until });
        }
        return principal;
      } catch (err) {
        if (err instanceof LucidaError) throw err;
        // jose's message says what was wrong (expired, signature, claim) without echoing the token.
        throw new LucidaError('INVALID_TOKEN', (err as Error).message);
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
