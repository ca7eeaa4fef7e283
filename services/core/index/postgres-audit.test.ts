/**
 * PostgresAuditLog against a real Postgres: appends are queued and written in batches onto one hash
 * chain; a database that refuses writes keeps the events queued and retried; a full queue records
 * the gap; one bad event does not block the others; search filters; verify finds each kind of damage;
 * the table refuses UPDATE, DELETE and TRUNCATE.
 */
import { Writable } from 'node:stream';
import type pg from 'pg';
import { createLogger } from '../logger.js';
import { auditRowHash } from '../audit/canonical.js';
import type { AuditEvent } from '../audit/types.js';
import { startTestDatabase, type TestDatabase } from '../../../test/helpers/database.js';
import { PostgresAuditLog, type PostgresAuditLogOptions } from './postgres-audit.js';

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
    await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe(2);
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
    await db.pool.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    try {
      audit.append(event({ requestId: 'during-outage' }));
      let flushed = false;
      void audit.flush().then(() => { flushed = true; });
      await new Promise((r) => setTimeout(r, 300));
      expect(flushed).toBe(false);
      expect(logs.join('')).toContain('audit write failed');
    } finally {
      await db.pool.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
    await audit.flush();
    expect((await db.pool.query('SELECT request_id FROM audit_events')).rows).toEqual([{ request_id: 'during-outage' }]);
    expect(logs.join('')).not.toContain(NHS_A);
  });

  it('caps the queue, logs the loss loudly without patient data, and records the gap in the trail', async () => {
    const audit = auditLog({ maxQueue: 10 });
    await db.pool.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    try {
      for (let i = 0; i < 15; i++) audit.append(event({ requestId: `r-${i}` }));
    } finally {
      await db.pool.query('ALTER TABLE audit_events_away RENAME TO audit_events');
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
