/**
 * The audit trail in Postgres (table audit_events, migration 008): the AuditLog port's adapter.
 *
 * `append` only queues: requests never wait for the audit write. A single writer per process drains
 * the queue in batches (at once when `batchSize` events wait, else after `flushIntervalMs`), each
 * batch in ONE transaction that takes the chain's advisory lock, reads the chain's head, hashes the
 * batch onto it (audit/canonical.ts) and inserts it with one multi-row INSERT. Events arriving while a
 * batch is written go in the next one (group commit). On a database error the events stay queued
 * and the batch is retried with exponential backoff; the queue is capped (in events and in approximate
 * bytes: one event may list 4 000 UIDs), and events beyond the cap are counted, logged loudly (counts
 * only, never patient data) and recorded as a gap in the trail.
 *
 * Nothing here waits on the database without a limit: the batch transaction sets its own lock_timeout
 * and statement_timeout (a peer process frozen while holding the chain's lock, or a stuck backend, is
 * a failed batch, kept and retried), and close() gives up at its deadline even while a batch is in
 * flight, so that SIGTERM ends the process.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { GENESIS_HASH, auditRowHash, chainAuditEvents, normalizeAuditEvent } from '../audit/canonical.js';
import type { AuditEvent, AuditLog, AuditQuery, AuditVerifyReport, StoredAuditEvent } from '../audit/types.js';
import {
  auditChainHeadSql, auditChainPageSql, beginAndLockChainSql, auditEventFromRow, insertAuditRowsSql, searchAuditSql, type AuditRow,
} from './sql/audit.js';

export interface PostgresAuditLogOptions {
  /** Write at once when this many events wait (default 200). */
  batchSize?: number;
  /** Otherwise write this long after the first waiting event arrived (default 50 ms). */
  flushIntervalMs?: number;
  /** Most events in one transaction (default 500; 22 parameters each, Postgres allows 65535). */
  maxBatch?: number;
  /** Most events held in memory while the database cannot take them (default 100 000). */
  maxQueue?: number;
  /** Most approximate bytes (UTF-16 length of the events' text) held in memory (default 64 MiB). */
  maxQueueBytes?: number;
  /** First and longest pause before retrying a failed write (defaults 100 ms, 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** flush() cuts a retry's backoff short at most once per this long (default 1 s), so that readers of the trail cannot hammer a failing database. */
  retryWakeMinMs?: number;
  /** Longest wait for the chain's lock, and for any one statement, in the batch transaction (defaults 5 s, 15 s). */
  lockTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** How long close() waits for the queue to be written, and for a batch in flight, before giving up (default 10 s). */
  closeTimeoutMs?: number;
  /** Rows per page when verify() walks the chain (default 1000). */
  verifyPageSize?: number;
}

const DEFAULTS: Required<PostgresAuditLogOptions> = {
  batchSize: 200, flushIntervalMs: 50, maxBatch: 500, maxQueue: 100_000, maxQueueBytes: 64 * 1024 * 1024, retryBaseMs: 100,
  retryMaxMs: 30_000, retryWakeMinMs: 1000, lockTimeoutMs: 5000, statementTimeoutMs: 15_000, closeTimeoutMs: 10_000, verifyPageSize: 1000,
};

/** Fixed share of an event's memory beyond its text (object, date, numbers, array headers). */
const EVENT_OVERHEAD_BYTES = 256;

/** An event's approximate size in memory: its text's length plus a fixed overhead. Cheap enough per append. */
export function approxEventBytes(e: AuditEvent): number {
  let n = EVENT_OVERHEAD_BYTES;
  const add = (v: string | undefined) => { n += v?.length ?? 0; };
  for (const list of [e.patientIds, e.studyUIDs, e.seriesUIDs, e.sopInstanceUIDs, e.roles ?? []]) for (const v of list) add(v);
  for (const [k, v] of Object.entries(e.query ?? {})) {
    add(k);
    for (const x of ([] as string[]).concat(v)) add(x);
  }
  for (const v of [e.action, e.method, e.subject, e.clientId, e.onBehalfOf, e.ip, e.userAgent, e.requestId, e.route, e.detail]) add(v);
  return n;
}

/**
 * BEGIN, the transaction's own timeouts (SET LOCAL: they end with it, the pooled connection keeps its
 * defaults), and the chain's lock, in one round trip. The lock wait is bounded by lock_timeout.
 */
function beginWithTimeouts(lockTimeoutMs: number, statementTimeoutMs: number): string {
  const ms = (v: number) => Math.max(1, Math.floor(v)); // integers only: 0 would mean no limit
  return beginAndLockChainSql.replace(/^BEGIN;/,
    `BEGIN; SET LOCAL lock_timeout = ${ms(lockTimeoutMs)}; SET LOCAL statement_timeout = ${ms(statementTimeoutMs)};`);
}

/**
 * Errors in the data itself, which retrying the same rows would meet forever (unlike a lost
 * connection or a lock timeout): SQLSTATE class 22 (data exception), 54 (program limit, e.g. an index
 * row too large), 23502 (not null) and 23514 (check). A duplicate id (23505) is retried: the next
 * attempt reads the chain's new head.
 */
const isDataError = (err: unknown): boolean => /^(22|54|23502$|23514$)/.test(String((err as { code?: unknown })?.code ?? ''));

/** Detail of an event the database refused, recorded again without its details (if even that is refused: retried with backoff). */
const STRIPPED_EVENT = "the event's details could not be stored";

export class PostgresAuditLog implements AuditLog {
  private readonly opts: Required<PostgresAuditLogOptions>;
  /** Normalised events not yet durable, in append order (the head is being written, or next). */
  private readonly queue: AuditEvent[] = [];
  /** approxEventBytes summed over the queue. */
  private queuedBytes = 0;
  /** Events ever queued, and how many of them are durable: flush() waits for the second to reach the first. */
  private accepted = 0;
  private written = 0;
  /** Events refused because the queue was full, since the last gap marker was queued. */
  private dropped = 0;
  private failures = 0;
  /** After a data error, the next writes take one event at a time to find the event at fault. */
  private isolate = 0;
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private wakeRetry?: () => void;
  /** When flush() last cut a backoff short. */
  private lastWake = 0;
  private waiters: { target: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private stopped = false;
  private closing?: Promise<void>;
  private readonly beginSql: string;

  constructor(private readonly pool: pg.Pool, private readonly log: Logger, opts: PostgresAuditLogOptions = {}) {
    this.opts = { ...DEFAULTS, ...opts };
    this.beginSql = beginWithTimeouts(this.opts.lockTimeoutMs, this.opts.statementTimeoutMs);
  }

  append(event: AuditEvent): void {
    if (this.stopped) {
      this.log.error({ action: event.action, requestId: event.requestId }, 'AUDIT EVENT LOST: appended after the audit log was closed');
      return;
    }
    const normal = normalizeAuditEvent(event);
    const bytes = approxEventBytes(normal);
    // An event alone in the queue is always taken, whatever its size (it is bounded by normalisation).
    if (this.queue.length >= this.opts.maxQueue || (this.queue.length > 0 && this.queuedBytes + bytes > this.opts.maxQueueBytes)) {
      this.dropped += 1;
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.log.error({ dropped: this.dropped, queued: this.queue.length, queuedBytes: this.queuedBytes, action: event.action, requestId: event.requestId },
          'AUDIT EVENTS LOST: the audit queue is full because the database is not taking writes');
      }
      return;
    }
    if (this.dropped > 0) {
      // Room again: the trail itself records that events are missing here.
      this.enqueue(normalizeAuditEvent({
        at: new Date(), action: 'audit-overflow', outcome: 'failure', status: 0, method: 'NONE',
        patientIds: [], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
        detail: `${this.dropped} audit events were lost: the queue was full`,
      }));
      this.dropped = 0;
    }
    this.enqueue(normal, bytes);
  }

  /** Queues a normalised event. */
  private enqueue(event: AuditEvent, bytes = approxEventBytes(event)): void {
    this.queue.push(event);
    this.queuedBytes += bytes;
    this.accepted += 1;
    this.schedule();
  }

  /** A write now when a batch is full, else soon; nothing while the writer runs (it takes what is queued). */
  private schedule(): void {
    if (this.writing || this.stopped || this.queue.length === 0) return;
    if (this.queue.length >= this.opts.batchSize) this.startWriter();
    else this.timer ??= setTimeout(() => this.startWriter(), this.opts.flushIntervalMs);
  }

  private startWriter(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      this.schedule(); // anything queued after the writer's last look
    });
  }

  /** Writes batches while a full one waits (or flush() waits), retrying failed batches. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const size = this.isolate > 0 ? 1 : this.opts.maxBatch;
      const batch = this.queue.slice(0, size);
      try {
        await this.writeBatch(batch);
      } catch (err) {
        await this.afterFailure(err, batch.length);
        continue;
      }
      this.queue.splice(0, batch.length);
      for (const e of batch) this.queuedBytes -= approxEventBytes(e);
      this.written += batch.length;
      this.failures = 0;
      if (this.isolate > 0) this.isolate -= batch.length;
      this.resolveWaiters();
      // Go on at once only for a full batch or someone waiting in flush(); otherwise the timer
      // gathers the next batch (a transaction per few events would cost more than the events).
      if (this.queue.length < this.opts.batchSize && this.waiters.length === 0 && this.isolate === 0) break;
    }
  }

  private async afterFailure(err: unknown, batchLength: number): Promise<void> {
    const { code, message } = (err ?? {}) as { code?: string; message?: string };
    if (isDataError(err) && !this.queue[0].detail?.startsWith(STRIPPED_EVENT)) {
      if (batchLength > 1) {
        this.log.error({ code, message, events: batchLength }, 'audit batch refused by the database; writing its events one at a time');
        this.isolate = batchLength;
        return;
      }
      // One event the database will not take as it is: keep its facts, not its text.
      const e = this.queue[0];
      this.log.error({ code, message, action: e.action, requestId: e.requestId }, 'audit event refused by the database; recording it without its details');
      const stripped = normalizeAuditEvent({
        at: e.at, action: e.action, outcome: e.outcome, status: e.status, method: e.method, requestId: e.requestId,
        subject: e.subject, patientIds: [], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
        detail: `${STRIPPED_EVENT} (SQLSTATE ${code})`,
      });
      this.queuedBytes += approxEventBytes(stripped) - approxEventBytes(e);
      this.queue[0] = stripped;
      return;
    }
    this.failures += 1;
    const delay = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (this.failures - 1));
    this.log.error({ code, message, attempt: this.failures, queued: this.queue.length, retryInMs: delay },
      'audit write failed; the events are kept and the write retried');
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, delay);
      this.wakeRetry = () => { clearTimeout(t); resolve(); };
    });
    this.wakeRetry = undefined;
  }

  /** One transaction: lock the chain, read its head, insert the batch hashed onto it. */
  private async writeBatch(batch: AuditEvent[]): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(this.beginSql);
      const head = (await client.query<{ id: string; hash: string }>(auditChainHeadSql)).rows[0];
      const rows = chainAuditEvents(batch, head?.id ?? '0', head?.hash ?? GENESIS_HASH);
      await client.query(insertAuditRowsSql(rows));
      await client.query('COMMIT');
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      // A connection that failed mid-transaction is not reused.
      client.release(broken && !isDataError(broken) ? broken : undefined);
    }
  }

  private resolveWaiters(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.written >= w.target) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /**
   * Resolves once everything appended so far is durable; rejects if the log closes first (those
   * events are lost). Someone waiting cuts a retry's backoff short, but at most once per
   * retryWakeMinMs: each GET /api/audit flushes, and must not turn backoff into a tight loop.
   */
  flush(): Promise<void> {
    const target = this.accepted;
    if (this.written >= target) return Promise.resolve();
    if (this.stopped) return Promise.reject(this.lostError());
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ target, resolve, reject }));
    this.startWriter();
    if (this.wakeRetry && Date.now() - this.lastWake >= this.opts.retryWakeMinMs) {
      this.lastWake = Date.now();
      this.wakeRetry();
    }
    return done;
  }

  private lostError(): Error {
    return new Error(`the audit log closed before ${this.accepted - this.written} audit events were stored`);
  }

  /** Writes what is queued, within closeTimeoutMs in all (a batch in flight included), and stops. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const deadline = Date.now() + this.opts.closeTimeoutMs;
    const withinDeadline = async (p: Promise<unknown>): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())); });
      try {
        return await Promise.race([p.then(() => true, () => false), timedOut]);
      } finally {
        clearTimeout(timer);
      }
    };
    const flushing = this.flush();
    this.wakeRetry?.(); // closing: try once more now, whatever the backoff
    const flushed = await withinDeadline(flushing);
    this.stopped = true;
    clearTimeout(this.timer);
    this.wakeRetry?.();
    if (!flushed) {
      this.log.error({ lost: this.accepted - this.written + this.dropped },
        'AUDIT EVENTS LOST: the audit log closed before the database took them');
    }
    // Whoever still waits in flush() is told now, rather than never.
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(this.lostError());
    if (this.writing && !(await withinDeadline(this.writing))) {
      this.log.error('audit writer still waiting on the database at close; giving up on its batch');
    }
  }

  async search(q: AuditQuery): Promise<{ events: StoredAuditEvent[]; truncated: boolean }> {
    const { rows } = await this.pool.query<AuditRow>(searchAuditSql(q));
    const truncated = rows.length > q.limit;
    return { events: rows.slice(0, q.limit).map(auditEventFromRow), truncated };
  }

  /**
   * Walks the whole chain in id order, a page at a time (never all rows in memory), and reports the
   * first row that does not hold: a gap in the ids (rows removed), a prev_hash that is not the
   * previous row's hash (rows removed or changed before it), or a hash that does not match the row.
   */
  async verify(): Promise<AuditVerifyReport> {
    let prevHash = GENESIS_HASH;
    let expected = 1n;
    let checked = 0;
    let after = '0';
    for (;;) {
      const { rows } = await this.pool.query<AuditRow>(auditChainPageSql(after, this.opts.verifyPageSize));
      if (rows.length === 0) break;
      for (const row of rows) {
        const e = auditEventFromRow(row);
        const bad = (problem: string): AuditVerifyReport => ({ ok: false, checked, firstBadId: e.id, problem });
        if (BigInt(e.id) !== expected) return bad(`row ${expected} is missing: the next row is ${e.id}`);
        if (e.prevHash !== prevHash) return bad('prev_hash is not the hash of the row before: an earlier row was removed or rewritten');
        if (auditRowHash(e) !== e.hash) return bad('hash does not match the row: the row was changed after it was written');
        prevHash = e.hash;
        expected += 1n;
        checked += 1;
      }
      after = rows[rows.length - 1].id;
    }
    return checked ? { ok: true, checked, lastId: after, lastHash: prevHash } : { ok: true, checked };
  }
}
