/**
 * PostgresAuditLog against a real Postgres: appends are queued and written in batches onto one hash
 * chain; a database that refuses writes keeps the events queued and retried; a full queue (by count
 * or by bytes) records the gap; a chain lock held by a frozen peer or a stuck statement is a failed
 * batch, not a hang; flush() cannot defeat the backoff; close() ends on time and fails the flushes
 * still waiting; one bad event does not block the others; search filters; verify finds each kind of
 * damage; the table refuses UPDATE, DELETE and TRUNCATE.
 */
import { Writable } from 'node:stream';
import type pg from 'pg';
import { createLogger } from '../logger.js';
import { auditRowHash } from '../audit/canonical.js';
import type { AuditEvent } from '../audit/types.js';
import { startTestDatabase, type TestDatabase } from '../../../test/helpers/database.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { PostgresAuditLog, approxEventBytes, type PostgresAuditLogOptions } from './postgres-audit.js';
import { beginAndLockChainSql } from './sql/audit.js';

const NHS_A = '9434765919';

const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
  at: new Date(), action: 'read', outcome: 'success', status: 200, method: 'GET', route: '/dicomweb/studies/:study/metadata',
  subject: 'clin-1', roles: ['clinician'], ip: '127.0.0.1', requestId: 'req-1',
  patientIds: [NHS_A], studyUIDs: ['1.2.826.0.1.1'], seriesUIDs: [], sopInstanceUIDs: [], ...over,
});

/** As the database superuser, bypassing the append-only triggers (what an attacker with that power could do). */
async function asReplica(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await client.query(sql, values);
  } finally {
    await client.query('RESET session_replication_role');
    client.release();
  }
}

/** What a promise did within `ms`: for code that must not hang, so that a hang fails fast instead of at the test timeout. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: string } | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  try {
    return await Promise.race([p.then((value) => ({ value }), (err: Error) => ({ error: err.message })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgresAuditLog', () => {
  let db: TestDatabase;
  const logs: string[] = [];
  const log = createLogger('info', new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }));
  const open: PostgresAuditLog[] = [];
  const auditLog = (opts: PostgresAuditLogOptions = {}) => {
    const a = new PostgresAuditLog(db.pool, log, { retryBaseMs: 20, retryMaxMs: 100, ...opts });
    open.push(a);
    return a;
  };
  const count = async () => Number((await db.pool.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
  /** Generous deadlines: the conditions are normally met within milliseconds. */
  const soon = { timeoutMs: 10_000, intervalMs: 10 };
  const failedWrites = () => logs.filter((l) => l.includes('audit write failed')).length;
  /** The table away (every write fails at once, 42P01) until the returned function puts it back. */
  const outage = async () => {
    await db.pool.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    return async () => { await db.pool.query('ALTER TABLE audit_events_away RENAME TO audit_events'); };
  };
  /** Another process holding the chain's lock and frozen there: its transaction stays open until released. */
  const frozenPeer = async () => {
    const client = await db.pool.connect();
    await client.query(beginAndLockChainSql);
    return async () => {
      await client.query('ROLLBACK');
      client.release();
    };
  };

  beforeAll(async () => { db = await startTestDatabase(); });
  afterAll(async () => {
    for (const a of open) await a.close();
    await db?.stop();
  });
  beforeEach(async () => {
    logs.length = 0;
    await asReplica(db.pool, 'TRUNCATE audit_events');
  });

  it('queues without writing, then writes on its own within the flush interval, chained from the genesis value', async () => {
    const audit = auditLog({ flushIntervalMs: 30 });
    audit.append(event());
    audit.append(event({ subject: 'clin-2' }));
    expect(await count()).toBe(0); // append returned before any database work
    expect(await waitFor(count, (n) => n === 2, soon)).toBe(2);
    const { rows } = await db.pool.query('SELECT id, prev_hash, hash FROM audit_events ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['1', '2']);
    expect(rows[0].prev_hash).toBe('0'.repeat(64));
    expect(rows[1].prev_hash).toBe(rows[0].hash);
    expect(await audit.verify()).toEqual({ ok: true, checked: 2, lastId: '2', lastHash: rows[1].hash });
  });

  it('flush resolves once everything appended so far is stored, in append order', async () => {
    const audit = auditLog({ flushIntervalMs: 10_000 });
    for (let i = 0; i < 1200; i++) audit.append(event({ requestId: `r-${i}` }));
    await audit.flush();
    expect(await count()).toBe(1200);
    const { rows } = await db.pool.query('SELECT request_id FROM audit_events ORDER BY id');
    expect(rows.map((r) => r.request_id)).toEqual(Array.from({ length: 1200 }, (_, i) => `r-${i}`));
    expect((await audit.verify()).ok).toBe(true);
  });

  it('keeps the events while the database refuses writes and stores them once it takes them again', async () => {
    const audit = auditLog();
    const restore = await outage();
    let flushed = false;
    try {
      audit.append(event({ requestId: 'during-outage' }));
      void audit.flush().then(() => { flushed = true; });
      expect(await waitFor(failedWrites, (n) => n >= 2, soon)).toBeGreaterThanOrEqual(2); // tried, and retried
      expect(flushed).toBe(false);
    } finally {
      await restore();
    }
    await audit.flush();
    expect(flushed).toBe(true);
    expect((await db.pool.query('SELECT request_id FROM audit_events')).rows).toEqual([{ request_id: 'during-outage' }]);
    expect(logs.join('')).not.toContain(NHS_A);
  });

  it('caps the queue during an outage, logs the loss loudly without patient data, and records the gap in the trail', async () => {
    const audit = auditLog({ maxQueue: 10 });
    const restore = await outage();
    try {
      audit.append(event({ requestId: 'r-0' }));
      await waitFor(failedWrites, (n) => n >= 1, soon); // the database has refused the first write: the events pile up
      for (let i = 1; i < 15; i++) audit.append(event({ requestId: `r-${i}` }));
      expect(logs.join('')).toContain('AUDIT EVENTS LOST');
    } finally {
      await restore();
    }
    await audit.flush(); // the ten kept are written; the queue has room again
    audit.append(event({ requestId: 'after' }));
    await audit.flush();
    const { rows } = await db.pool.query('SELECT action, request_id, detail FROM audit_events ORDER BY id');
    expect(rows.map((r) => r.request_id ?? r.action)).toEqual([...Array.from({ length: 10 }, (_, i) => `r-${i}`), 'audit-overflow', 'after']);
    expect(rows[10].detail).toBe('5 audit events were lost: the queue was full');
    expect(logs.join('')).toContain('AUDIT EVENTS LOST');
    expect(logs.join('')).not.toContain(NHS_A);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('caps the queue by bytes as well: a few events of 1000 UIDs each fill it long before the count does', async () => {
    const big = (name: string) => event({
      requestId: name, patientIds: [], sopInstanceUIDs: Array.from({ length: 1000 }, (_, i) => `1.2.826.0.1.3680043.8.498.${100000 + i}`),
    });
    const oneBig = approxEventBytes(big('x'));
    expect(oneBig).toBeGreaterThan(30_000);
    const audit = auditLog({ maxQueueBytes: 2.5 * oneBig });
    const restore = await outage();
    try {
      audit.append(event({ requestId: 'small' }));
      await waitFor(failedWrites, (n) => n >= 1, soon);
      for (const name of ['big-1', 'big-2', 'big-3', 'big-4']) audit.append(big(name));
    } finally {
      await restore();
    }
    await audit.flush();
    audit.append(event({ requestId: 'after' }));
    await audit.flush();
    const { rows } = await db.pool.query('SELECT action, request_id, detail FROM audit_events ORDER BY id');
    expect(rows.map((r) => r.request_id ?? r.action)).toEqual(['small', 'big-1', 'big-2', 'audit-overflow', 'after']);
    expect(rows[3].detail).toBe('2 audit events were lost: the queue was full');
    expect((await audit.verify()).ok).toBe(true);
  });

  it.each([
    ['lock_timeout', { lockTimeoutMs: 200, statementTimeoutMs: 60_000 }, '55P03'],
    ['statement_timeout', { lockTimeoutMs: 60_000, statementTimeoutMs: 200 }, '57014'],
  ])('ends a wait on a chain lock held by a frozen peer (%s), keeps the events, and stores them once the lock is free', async (_name, opts, code) => {
    const release = await frozenPeer();
    const audit = auditLog(opts);
    try {
      audit.append(event({ requestId: 'while-locked' }));
      const seen = await waitFor(() => logs.join(''), (s) => s.includes(`"code":"${code}"`), soon);
      expect(seen).toContain(`"code":"${code}"`);
      expect(seen).toContain('audit write failed');
      expect(await count()).toBe(0);
    } finally {
      await release();
    }
    expect(await within(audit.flush(), 10_000)).toEqual({ value: undefined });
    expect((await db.pool.query('SELECT request_id FROM audit_events')).rows).toEqual([{ request_id: 'while-locked' }]);
    // The limits were the transaction's own: the pooled connections keep the server's defaults.
    const settings = await db.pool.query(`SELECT current_setting('lock_timeout') AS l, current_setting('statement_timeout') AS s`);
    expect(settings.rows[0]).toEqual({ l: '0', s: '0' });
  });

  it('lets flush() cut a backoff short at most once a second, so that readers cannot hammer a failing database', async () => {
    const audit = auditLog({ retryBaseMs: 5000, retryMaxMs: 5000 });
    const restore = await outage();
    const flushes: Promise<void>[] = [];
    try {
      audit.append(event({ requestId: 'during-outage' }));
      await waitFor(failedWrites, (n) => n >= 1, soon); // now in a 5 s backoff
      // An officer's screen polling GET /api/audit (each one flushes) every 20 ms for 400 ms.
      for (let i = 0; i < 20; i++) {
        flushes.push(audit.flush());
        await pause(20);
      }
      // The first flush retried at once; the others left the backoff alone.
      expect(failedWrites()).toBe(2);
    } finally {
      await restore();
    }
    await audit.close(); // closing retries at once, whatever the backoff
    expect(await within(Promise.all(flushes), 5000)).toEqual({ value: expect.any(Array) });
    expect(await count()).toBe(1);
  });

  it('close() ends by its deadline even while a batch waits on the database, and fails the flushes still waiting', async () => {
    const release = await frozenPeer();
    const audit = auditLog({ lockTimeoutMs: 60_000, statementTimeoutMs: 60_000, closeTimeoutMs: 300 });
    try {
      audit.append(event({ requestId: 'stuck' }));
      const waiting = within(audit.flush(), 10_000);
      await waitFor(async () => (await db.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)).rows[0].n,
        (n) => Number(n) >= 1, soon); // the writer is waiting for the lock
      const started = Date.now();
      expect(await within(audit.close(), 10_000)).toEqual({ value: undefined });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await waiting).toEqual({ error: 'the audit log closed before 1 audit events were stored' });
      expect(await within(audit.flush(), 1000)).toEqual({ error: 'the audit log closed before 1 audit events were stored' });
      expect(logs.join('')).toContain('AUDIT EVENTS LOST');
      expect(logs.join('')).toContain('audit writer still waiting on the database at close');
    } finally {
      await release();
    }
    // The batch already under way goes through once the lock is free; nothing after it is written.
    expect(await waitFor(count, (n) => n === 1, soon)).toBe(1);
  });

  it('stores the others when the database refuses one event, and that one without its details', async () => {
    const audit = auditLog();
    await db.pool.query(`ALTER TABLE audit_events ADD CONSTRAINT audit_test_poison CHECK (detail IS DISTINCT FROM 'poison')`);
    try {
      audit.append(event({ requestId: 'a' }));
      audit.append(event({ requestId: 'b', detail: 'poison' }));
      audit.append(event({ requestId: 'c' }));
      await audit.flush();
    } finally {
      await db.pool.query('ALTER TABLE audit_events DROP CONSTRAINT audit_test_poison');
    }
    const { rows } = await db.pool.query('SELECT request_id, patient_ids, detail FROM audit_events ORDER BY id');
    expect(rows.map((r) => r.request_id)).toEqual(['a', 'b', 'c']);
    expect(rows[1]).toEqual({ request_id: 'b', patient_ids: [], detail: "the event's details could not be stored (SQLSTATE 23514)" });
    expect(rows[2].patient_ids).toEqual([NHS_A]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('stores awkward text so that it verifies: control characters, emoji, NUL, lone surrogates, very long values', async () => {
    const audit = auditLog();
    const nasty = `a\u0000b\u0001c\uD800d😀e"\\\n\t${'x'.repeat(3000)}`;
    audit.append(event({ userAgent: nasty, detail: nasty, subject: nasty, route: nasty, patientIds: [nasty], query: { [nasty]: [nasty, ''], q: nasty } }));
    await audit.flush();
    expect(await audit.verify()).toMatchObject({ ok: true, checked: 1 });
  });

  it('searches by patient, user, action, outcome, study and time, newest first, with limit, offset and truncated', async () => {
    const audit = auditLog();
    const t = (m: number) => new Date(Date.UTC(2026, 10, 24, 9, m));
    audit.append(event({ at: t(0), subject: 'photo-1', action: 'capture', method: 'POST', patientIds: [NHS_A], studyUIDs: ['1.1'] }));
    audit.append(event({ at: t(1), subject: 'photo-1', action: 'capture', method: 'POST', patientIds: ['9449305552'], studyUIDs: ['1.2'] }));
    audit.append(event({ at: t(2), subject: 'clin-1', patientIds: [NHS_A], studyUIDs: ['1.1'] }));
    audit.append(event({ at: t(3), subject: 'epr-1', outcome: 'denied', status: 404, patientIds: [], studyUIDs: ['1.2'] }));
    audit.append(event({ at: t(4), subject: undefined, action: 'authenticate', outcome: 'denied', status: 401, patientIds: [], studyUIDs: [] }));
    await audit.flush();
    const ids = async (q: object) => (await audit.search({ limit: 100, offset: 0, ...q })).events.map((e) => e.at.getUTCMinutes());
    expect(await ids({})).toEqual([4, 3, 2, 1, 0]);
    expect(await ids({ patientId: NHS_A })).toEqual([2, 0]);
    expect(await ids({ subject: 'photo-1' })).toEqual([1, 0]);
    expect(await ids({ action: 'capture', subject: 'photo-1', patientId: '9449305552' })).toEqual([1]);
    expect(await ids({ outcome: 'denied' })).toEqual([4, 3]);
    expect(await ids({ studyUID: '1.2' })).toEqual([3, 1]);
    expect(await ids({ from: t(1), to: t(3) })).toEqual([3, 2, 1]);
    expect(await audit.search({ limit: 2, offset: 0 })).toMatchObject({ truncated: true, events: [{ status: 401 }, { status: 404 }] });
    expect(await audit.search({ limit: 2, offset: 3 })).toMatchObject({ truncated: false, events: [{ subject: 'photo-1' }, { subject: 'photo-1' }] });
    const [stored] = (await audit.search({ limit: 1, offset: 0, subject: 'clin-1' })).events;
    expect(stored).toEqual({
      ...event({ at: t(2), subject: 'clin-1', patientIds: [NHS_A], studyUIDs: ['1.1'] }),
      id: '3', prevHash: expect.stringMatching(/^[0-9a-f]{64}$/), hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  describe('verify', () => {
    beforeEach(async () => {
      const audit = auditLog();
      for (let i = 1; i <= 5; i++) audit.append(event({ requestId: `r-${i}` }));
      await audit.flush();
    });

    it('walks the chain a page at a time', async () => {
      expect(await auditLog({ verifyPageSize: 2 }).verify()).toMatchObject({ ok: true, checked: 5, lastId: '5' });
    });
    it('names a changed row', async () => {
      await asReplica(db.pool, `UPDATE audit_events SET subject = 'someone-else' WHERE id = 3`);
      expect(await auditLog({ verifyPageSize: 2 }).verify()).toEqual({
        ok: false, checked: 2, firstBadId: '3', problem: 'hash does not match the row: the row was changed after it was written',
      });
    });
    it('names the row after a changed row whose hash was recomputed', async () => {
      const { rows: [row] } = await db.pool.query(`SELECT * FROM audit_events WHERE id = 3`);
      const forged = auditRowHash({
        id: '3', at: row.at, action: row.action, outcome: row.outcome, status: row.status, subject: 'someone-else', roles: row.roles,
        ip: row.ip, requestId: row.request_id, method: row.method, route: row.route, patientIds: row.patient_ids, studyUIDs: row.study_uids,
        seriesUIDs: row.series_uids, sopInstanceUIDs: row.sop_instance_uids, prevHash: row.prev_hash,
      });
      await asReplica(db.pool, `UPDATE audit_events SET subject = 'someone-else', hash = $1 WHERE id = 3`, [forged]);
      expect(await auditLog().verify()).toMatchObject({ ok: false, checked: 3, firstBadId: '4', problem: expect.stringContaining('prev_hash') });
    });
    it('names the row after a removed one', async () => {
      await asReplica(db.pool, 'DELETE FROM audit_events WHERE id = 3');
      expect(await auditLog().verify()).toMatchObject({ ok: false, checked: 2, firstBadId: '4', problem: 'row 3 is missing: the next row is 4' });
    });
  });

  it('refuses UPDATE, DELETE and TRUNCATE, even to the table owner', async () => {
    const audit = auditLog();
    audit.append(event());
    await audit.flush();
    await expect(db.pool.query(`UPDATE audit_events SET detail = 'x'`)).rejects.toThrow('audit_events is append-only: UPDATE is not allowed');
    await expect(db.pool.query('DELETE FROM audit_events')).rejects.toThrow('audit_events is append-only: DELETE is not allowed');
    await expect(db.pool.query('TRUNCATE audit_events')).rejects.toThrow('audit_events is append-only: TRUNCATE is not allowed');
    // A statement that would touch no row is refused too.
    await expect(db.pool.query('DELETE FROM audit_events WHERE false')).rejects.toThrow('append-only');
    expect(await count()).toBe(1);
  });

  it('close writes what is queued, and stops', async () => {
    const audit = auditLog({ flushIntervalMs: 10_000 });
    audit.append(event());
    await audit.close();
    expect(await count()).toBe(1);
    audit.append(event());
    expect(logs.join('')).toContain('appended after the audit log was closed');
  });
});
