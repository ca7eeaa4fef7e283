/**
 * Process liveness: proof, kept by Postgres itself, that a Lucida process is alive.
 *
 * Every process (any role) picks a random process id at start and holds a session-level advisory
 * lock derived from it (sql/liveness.ts) on one dedicated connection, not a pool client, for its
 * whole life. When the process dies, however it dies (SIGKILL, OOM, power), the operating system
 * closes its socket, the server ends that session and releases the lock. So a pending row whose
 * owner's lock is not held belongs to a dead process, and reconciliation may remove it at once.
 *
 * If the connection is lost while the process lives (Postgres restarted, network cut), it is opened
 * again with backoff and the same lock taken again. A connection can also die without a word: the
 * database host vanished (failover, partition) or its backend stopped answering. Neither end hears of
 * it while the session is idle, and `held` would stay true while the server may already have ended
 * the session and released the lock. So the connection is pinged (`SELECT 1`, every 10 s, 5 s to
 * answer); an unanswered ping counts as a lost connection. Until then other processes see this one as dead:
 * they may remove its in-flight pending rows, whose requests then fail (never a 200 for a removed
 * object: commitStored refuses a row that is no longer its own pending row).
 *
 * Needs a real session: behind PgBouncer in transaction-pooling mode, DATABASE_URL must point at
 * Postgres itself (or a session-mode pool), or the lock would be held by a server connection shared
 * with other clients.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { processAliveSql, tryProcessLockSql } from './sql/liveness.js';

export interface ProcessLiveness {
  /** This process's id: the owner recorded on its pending rows. */
  readonly processId: string;
  /** True while the lock is held (false while reconnecting after a lost connection). */
  readonly held: boolean;
  /** Releases the lock (ends the connection) and stops reconnecting. */
  stop(): Promise<void>;
}

export interface LivenessOptions {
  /** The database: a connection string, or the pool whose settings the dedicated connection copies. */
  database: string | pg.Pool;
  log: Logger;
  /** First and longest wait between reconnection attempts (ms); the wait doubles in between. */
  retryMs?: { first: number; max: number };
  /** How often the held connection is pinged, and how long a ping may take (ms). */
  ping?: { everyMs: number; timeoutMs: number };
}

/**
 * Settings of the lock's session. It sits idle for the life of the process, so a server-wide
 * idle_session_timeout must not end it; and when the process's host vanishes without closing its
 * socket, TCP keepalives let the server notice within about a minute (not the kernel default of two
 * hours) and release the lock. Ignored on Unix-domain sockets; a server too old for one skips it.
 */
const SESSION_SETTINGS = ['idle_session_timeout = 0', 'tcp_keepalives_idle = 30', 'tcp_keepalives_interval = 10', 'tcp_keepalives_count = 3'];

/** Whether the process `processId` holds its lock, i.e. is alive (another process's question). */
export async function isProcessAlive(pool: pg.Pool, processId: string): Promise<boolean> {
  const { rows } = await pool.query<{ alive: boolean }>(processAliveSql(processId));
  return rows[0].alive;
}

/** Connects, takes this process's lock; resolves once it is held. */
export async function startProcessLiveness(opts: LivenessOptions): Promise<ProcessLiveness> {
  const liveness = new Liveness(opts);
  await liveness.start();
  return liveness;
}

class Liveness implements ProcessLiveness {
  processId = randomUUID();
  held = false;
  private client?: pg.Client;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private pingTimer?: NodeJS.Timeout;
  private readonly clientConfig: pg.ClientConfig;
  private readonly retry: { first: number; max: number };
  private readonly ping: { everyMs: number; timeoutMs: number };

  constructor(private readonly opts: LivenessOptions) {
    const base: pg.ClientConfig = typeof opts.database === 'string' ? { connectionString: opts.database } : { ...opts.database.options };
    this.ping = opts.ping ?? { everyMs: 10_000, timeoutMs: 5000 };
    // Every statement on this connection is short (settings, the lock, the ping): the ping's timeout bounds them all.
    this.clientConfig = {
      ...base, keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 10_000, query_timeout: this.ping.timeoutMs,
    };
    this.retry = opts.retryMs ?? { first: 500, max: 5000 };
  }

  async start(): Promise<void> {
    // A clash with a live process's lock means two equal random keys (48 bits): pick another id.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.connect()) {
        this.opts.log.info({ processId: this.processId }, 'process liveness lock taken');
        return;
      }
      this.processId = randomUUID();
    }
    throw new Error('could not take a process liveness lock');
  }

  /** Opens the connection and tries the lock; true when held. The connection stays open only then. */
  private async connect(): Promise<boolean> {
    const client = new pg.Client({ ...this.clientConfig, application_name: `lucida ${this.processId}` });
    // Until connected, a failure rejects connect(); afterwards it arrives here, and we reconnect.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      for (const setting of SESSION_SETTINGS) await client.query(`SET ${setting}`).catch(() => {});
      const { rows: [{ locked }] } = await client.query<{ locked: boolean }>(tryProcessLockSql(this.processId));
      if (!locked || this.stopped) {
        await client.end().catch(() => {});
        return false;
      }
      this.client = client;
      this.held = true;
      this.schedulePing(client);
      return true;
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  /**
   * Pings `client` after `everyMs`, then again, while it is the held connection. An answer not back in
   * `timeoutMs` (the connection's query_timeout) is a lost connection: lost() ends it (destroying the socket, since a
   * query is in flight) and reconnects. One ping at a time: the next is scheduled once one answers.
   */
  private schedulePing(client: pg.Client): void {
    this.pingTimer = setTimeout(() => {
      if (this.stopped || this.client !== client) return;
      client.query('SELECT 1').then(
        () => { if (!this.stopped && this.client === client) this.schedulePing(client); },
        (err: Error) => this.lost(client, err));
    }, this.ping.everyMs);
    // Never what keeps a process alive.
    this.pingTimer.unref();
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    this.held = false;
    this.opts.log.warn({ processId: this.processId, err: err && { message: err.message, code: (err as { code?: string }).code } },
      'process liveness lock lost');
    void client.end().catch(() => {});
    this.reconnect(this.retry.first, Date.now(), 1);
  }

  private reconnect(delayMs: number, since: number, attempt: number): void {
    this.timer = setTimeout(() => {
      // The old session may still hold the lock for a moment (the server has not noticed its end yet):
      // then the lock is not free, and we try again later.
      this.connect().catch(() => false).then((ok) => {
        if (this.stopped) return;
        if (ok) {
          this.opts.log.info({ processId: this.processId, attempts: attempt, downMs: Date.now() - since }, 'process liveness lock re-taken');
          return;
        }
        this.reconnect(Math.min(delayMs * 2, this.retry.max), since, attempt + 1);
      }, () => {});
    }, delayMs);
    // Never what keeps a process alive: a process with nothing else to do may exit.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.pingTimer);
    const client = this.client;
    this.client = undefined;
    this.held = false;
    // Ending the session releases the lock.
    await client?.end().catch(() => {});
  }
}
