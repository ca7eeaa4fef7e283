/**
 * Configuration: environment variables -> a typed, validated Config. Fails fast at boot with a
 * message naming the variable. Every variable and default is listed in schemas/config.schema.json
 * and the README's configuration table (a test keeps the three in step).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROLES } from './auth/principal.js';
import { MAX_DECODE_PIXELS } from './dicom/frames.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** External Postgres; when absent an embedded Postgres runs under dataDir/pg. */
  databaseUrl?: string;
  embeddedPostgresPort: number;
  dbPoolMax: number;
  publicBaseUrl: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  auth: {
    /** Expected `iss`; the embedded default issuer is 'lucida-local'. */
    issuer: string;
    audience: string;
    /** Remote JWKS of the hospital's OpenID provider; when absent a local signing key under dataDir/keys is used. */
    jwksUrl?: string;
    /** Signature algorithms accepted (never 'none', never HMAC). */
    algorithms: string[];
    clockToleranceSeconds: number;
    /** Dotted path of the claim that holds the caller's roles or groups (e.g. realm_access.roles, groups). */
    rolesClaim: string;
    /** IdP role/group name -> Lucida role. Empty: claim values that are Lucida role names are taken as they are. */
    roleMap: Record<string, string>;
    /** Claim holding the PatientID of a patient-context token. */
    patientClaim: string;
    /** IssuerOfPatientID of a bare PatientID in that claim; undefined ('*'): any issuer. */
    patientIssuer?: string;
  };
  session: {
    /** Viewer launch: lifetime of the one-time launch code, of each session token, and of the whole session. */
    launchTtlSeconds: number; tokenTtlSeconds: number; maxSeconds: number;
    /** Key that signs viewer session tokens; shared by all API processes. Default DATA_DIR/keys/signing-key.json. */
    keyFile?: string;
  };
  http: {
    /** Origins allowed to call the API from a browser (CORS); empty = same origin only. */
    corsOrigins: string[];
    /** Requests per minute per client and user (OAuth2 client id + token subject); 0 = no limit. */
    rateLimitPerMinute: number;
    /** Express 'trust proxy': whether (and which) X-Forwarded-For hops give the client address for audit and rate limits. */
    trustProxy: boolean | number | string;
    /** Seconds a client may take to send its request headers (slowloris). */
    headersTimeoutSeconds: number;
  };
  stow: {
    maxPartBytes: number; maxRequestBytes: number; maxParts: number;
    /** Instances of one request stored concurrently, and the most bytes they may hold in memory. */
    ingestConcurrency: number; ingestWindowBytes: number;
  };
  qido: { defaultLimit: number; maxLimit: number };
  photos: {
    /** Largest single photograph accepted by the capture API or STOW-RS (JSON + bulk data). */
    maxFileBytes: number;
    /** Most files in one capture. */
    maxFiles: number;
    /** Largest width × height accepted, checked from the header before decoding (decompression bombs). */
    maxPixels: number;
    /** Photos converted at once per worker process. */
    convertConcurrency: number;
    /** Retries of a failed conversion job before it is dead-lettered, and the first retry delay (doubling). */
    retryLimit: number; retryDelaySeconds: number;
    /** How long STOW-RS (JSON + bulk data) waits for its conversions before answering. */
    stowWaitSeconds: number;
  };
  /**
   * S3-compatible object store (MinIO in production); absent = the filesystem store under
   * DATA_DIR/objects.
   */
  s3?: {
    /** http(s)://host[:port]; the scheme decides TLS. */
    endpoint: string;
    bucket: string; accessKey: string; secretKey: string; region: string;
    /** Path-style addressing (http://host/bucket/key): MinIO and most on-premises S3 need it. */
    pathStyle: boolean;
    /** Create the bucket at start when it is missing (needs the s3:CreateBucket permission). */
    createBucket: boolean;
    /** Size of each multipart-upload part: also the most memory one upload holds. */
    partSizeBytes: number;
  };
  /** A worker that sends no heartbeat for this long is taken to be dead: its jobs go to another worker. */
  jobHeartbeatSeconds: number;
  /** Seconds after which a 'pending' instance row is considered abandoned by its request. */
  pendingTimeoutSeconds: number;
  /** Idle seconds before an incoming request body is abandoned (slow clients). */
  requestTimeoutSeconds: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min) throw new ConfigError(`${name} must be at least ${min}, got ${n}`);
  if (n > max) throw new ConfigError(`${name} must be at most ${max}, got ${n}`);
  return n;
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  try {
    new URL(raw);
  } catch {
    // A credential-bearing value (DATABASE_URL) is never echoed: start-up errors reach logs.
    throw new ConfigError(SECRET_VARIABLES.includes(name) ? `${name} must be a URL (value not shown: it may hold a password)` : `${name} must be a URL, got "${raw}"`);
  }
  return raw;
}

function bool(env: Env, name: string, dflt: boolean): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '') return dflt;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

/** The S3 store's settings when S3_ENDPOINT is set; the other S3 variables are then checked. */
function s3(env: Env): Config['s3'] {
  const endpoint = url(env, 'S3_ENDPOINT');
  if (!endpoint) return undefined;
  const { protocol, pathname, search } = new URL(endpoint);
  if (protocol !== 'http:' && protocol !== 'https:') throw new ConfigError(`S3_ENDPOINT must be an http or https URL, got "${endpoint}"`);
  if ((pathname !== '/' && pathname !== '') || search) throw new ConfigError('S3_ENDPOINT is the server only (scheme, host, port): name the bucket in S3_BUCKET');
  const accessKey = env.S3_ACCESS_KEY ?? '';
  const secretKey = env.S3_SECRET_KEY ?? '';
  if (!accessKey || !secretKey) throw new ConfigError('S3_ACCESS_KEY and S3_SECRET_KEY (or S3_ACCESS_KEY_FILE and S3_SECRET_KEY_FILE) are required with S3_ENDPOINT');
  const bucket = env.S3_BUCKET || 'lucida';
  // S3 bucket naming rules (3-63 lower-case letters, digits, dots and hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError(`S3_BUCKET must be a valid bucket name (3-63 of a-z 0-9 . -), got "${bucket}"`);
  return {
    endpoint, bucket, accessKey, secretKey,
    region: env.S3_REGION || 'us-east-1',
    pathStyle: bool(env, 'S3_PATH_STYLE', true),
    createBucket: bool(env, 'S3_CREATE_BUCKET', false),
    // S3's smallest part is 5 MiB; its largest object (10,000 parts) then still exceeds any instance.
    partSizeBytes: int(env, 'S3_PART_SIZE_MB', 16, 5, 512) * 1024 * 1024,
  };
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Asymmetric signature algorithms only: 'none' and HMAC (a shared secret any verifier could sign with) are refused. */
const SIGNATURE_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

function algorithms(env: Env, name: string): string[] {
  const given = list(env, name);
  if (given.length === 0) return ['RS256', 'PS256', 'ES256', 'EdDSA'];
  for (const a of given) {
    if (!SIGNATURE_ALGORITHMS.includes(a)) throw new ConfigError(`${name}: "${a}" is not allowed (use ${SIGNATURE_ALGORITHMS.join(', ')})`);
  }
  return given;
}

/** `IdPName=role,Other=role`: IdP group or role names to Lucida roles. */
function roleMap(env: Env, name: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of list(env, name)) {
    const i = entry.lastIndexOf('=');
    const role = entry.slice(i + 1).trim();
    if (i <= 0 || !ROLES.includes(role as (typeof ROLES)[number])) {
      throw new ConfigError(`${name} entries are IdPName=role with role one of ${ROLES.join(', ')}, got "${entry}"`);
    }
    map[entry.slice(0, i).trim()] = role;
  }
  return map;
}

const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

function trustProxy(env: Env, name: string): boolean | number | string {
  const raw = (env[name] ?? '').trim();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  for (const part of raw.split(',').map((s) => s.trim())) {
    if (NAMED_RANGES.includes(part)) continue;
    const [address, bits, ...rest] = part.split('/');
    const family = net.isIP(address);
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)) || net.isIP(bits) === family;
    if (!family || rest.length || !okBits) {
      throw new ConfigError(`${name} is true, false, a hop count, or addresses, CIDRs and ${NAMED_RANGES.join('/')} separated by commas; "${part}" is none of these`);
    }
  }
  return raw; // Express 'trust proxy' syntax
}

/**
 * Secrets may come from a file instead of the environment (Docker and Kubernetes secrets):
 * `NAME_FILE=/run/secrets/name` is read when NAME itself is not set.
 */
function withSecretFiles(env: Env, names: string[]): Env {
  const out = { ...env };
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (out[name] || !file) continue;
    try {
      out[name] = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  }
  return out;
}

/** Variables that may hold credentials, and so may be given as NAME_FILE. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(processEnv: Env = process.env): Config {
  const env = withSecretFiles(processEnv, SECRET_VARIABLES);
  const port = int(env, 'PORT', 8080);
  if (port > 65535) throw new ConfigError(`PORT must be at most 65535, got ${port}`);
  const logLevel = (env.LOG_LEVEL ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const MiB = 1024 * 1024;
  // With the hospital's IdP, group names are the IdP's: a group that happens to be called "admin"
  // must not make its members Lucida admins. The embedded issuer's tokens carry Lucida roles.
  if (url(env, 'AUTH_JWKS_URL') && list(env, 'AUTH_ROLE_MAP').length === 0) {
    throw new ConfigError('AUTH_ROLE_MAP is required with AUTH_JWKS_URL: map the IdP\'s role or group names to Lucida roles (e.g. medphoto-clinician=clinician), even where they are the same');
  }
  const publicBaseUrl = (url(env, 'PUBLIC_BASE_URL') ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    port,
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR || './data'),
    databaseUrl: url(env, 'DATABASE_URL'),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 54329, 1),
    dbPoolMax: int(env, 'DB_POOL_MAX', 20, 2),
    publicBaseUrl,
    logLevel,
    auth: {
      issuer: env.AUTH_ISSUER || 'lucida-local',
      audience: env.AUTH_AUDIENCE || 'lucida',
      jwksUrl: url(env, 'AUTH_JWKS_URL'),
      algorithms: algorithms(env, 'AUTH_ALGORITHMS'),
      clockToleranceSeconds: int(env, 'AUTH_CLOCK_TOLERANCE_SECONDS', 30, 0, 300),
      rolesClaim: env.AUTH_ROLES_CLAIM || 'roles',
      roleMap: roleMap(env, 'AUTH_ROLE_MAP'),
      patientClaim: env.AUTH_PATIENT_CLAIM || 'patient',
      patientIssuer: env.AUTH_PATIENT_ISSUER === '*' ? undefined : (env.AUTH_PATIENT_ISSUER ?? 'NHS'),
    },
    session: {
      launchTtlSeconds: int(env, 'LAUNCH_TTL_SECONDS', 120, 10, 3600),
      tokenTtlSeconds: int(env, 'SESSION_TOKEN_TTL_SECONDS', 600, 60, 3600),
      maxSeconds: int(env, 'SESSION_MAX_HOURS', 12, 1, 24) * 3600,
      keyFile: env.SESSION_KEY_FILE || undefined,
    },
    http: {
      corsOrigins: list(env, 'CORS_ORIGINS').map((o) => {
        try {
          return new URL(o).origin;
        } catch {
          throw new ConfigError(`CORS_ORIGINS must list origins such as https://epr.example.nhs.uk, got "${o}"`);
        }
      }),
      rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 12000, 0),
      trustProxy: trustProxy(env, 'TRUST_PROXY'),
      headersTimeoutSeconds: int(env, 'HEADERS_TIMEOUT_SECONDS', 20, 1, 300),
    },
    stow: {
      maxPartBytes: int(env, 'STOW_MAX_PART_MB', 256, 1) * MiB,
      maxRequestBytes: int(env, 'STOW_MAX_REQUEST_MB', 16384, 1) * MiB,
      maxParts: int(env, 'STOW_MAX_PARTS', 10000, 1),
      ingestConcurrency: int(env, 'STOW_INGEST_CONCURRENCY', 4, 1),
      ingestWindowBytes: int(env, 'STOW_INGEST_WINDOW_MB', 32, 1) * MiB,
    },
    qido: {
      defaultLimit: int(env, 'QIDO_DEFAULT_LIMIT', 100, 1),
      maxLimit: int(env, 'QIDO_MAX_LIMIT', 1000, 1),
    },
    photos: {
      maxFileBytes: int(env, 'CAPTURE_MAX_FILE_MB', 100, 1) * MiB,
      maxFiles: int(env, 'CAPTURE_MAX_FILES', 100, 1),
      // Never above what the codec renders: a larger photo would be stored but get no thumbnail.
      maxPixels: int(env, 'PHOTO_MAX_MEGAPIXELS', 100, 1, MAX_DECODE_PIXELS / 1_000_000) * 1_000_000,
      convertConcurrency: int(env, 'CONVERT_CONCURRENCY', 4, 1),
      retryLimit: int(env, 'JOB_RETRY_LIMIT', 4, 0),
      retryDelaySeconds: int(env, 'JOB_RETRY_DELAY_SECONDS', 2, 0),
      stowWaitSeconds: int(env, 'STOW_CONVERT_WAIT_SECONDS', 120, 1),
    },
    s3: s3(env),
    // pg-boss refuses heartbeats under 10 s.
    jobHeartbeatSeconds: int(env, 'JOB_HEARTBEAT_SECONDS', 30, 10, 3600),
    pendingTimeoutSeconds: int(env, 'PENDING_TIMEOUT_SECONDS', 900, 1),
    requestTimeoutSeconds: int(env, 'REQUEST_TIMEOUT_SECONDS', 60, 1),
  };
}
