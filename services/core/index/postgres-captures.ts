/**
 * The Postgres adapter of the CaptureRepository port (tables of migration 005): a thin executor of
 * the builders in sql/captures.ts. Each method is one statement except createCapture, which is one
 * transaction, and findCapture / claimFile, which read the capture and then its files.
 */
import type pg from 'pg';
import type {
  CaptureFileRecord, CaptureRecord, FailureKind, RecordedContext, CaptureRepository, ConsentRecord, CreateCaptureResult, ExistingStudy,
  NewCapture, NewCaptureFile,
} from '../capture/capture-port.js';
import type { ConsentInput } from '../capture/types.js';
import type { SqlExecutor } from '../queue/jobs.js';
import {
  accessionInOtherStudySql, captureFilesSql, claimFileSql, filesOfCapturesSql, consentForCaptureSql,
  findCaptureByIdempotencyKeySql, findCaptureSql, findFileBySopSql, findStudySql, insertCaptureFileSql, insertCaptureSql,
  insertConsentSql, markAbandonedSql, markFailedSql, markRetryingSql, markStoredSql, maxSeriesNumberSql,
  type CaptureFileRow, type CaptureRow, type ConsentRow, type ExistingStudyRow,
} from './sql/captures.js';
import { advisoryXactLockSql } from './sql/statement.js';
import { isUuid } from '../uuid.js';


export class PostgresCaptureRepository implements CaptureRepository {
  constructor(private readonly pool: pg.Pool) {}

  async createCapture(c: NewCapture, consent: { input: ConsentInput; recordedBy: string },
    enqueue: (tx: SqlExecutor, file: NewCaptureFile) => Promise<void>): Promise<CreateCaptureResult> {
    const client = await this.pool.connect();
    // Lookups after a conflict run once this transaction's connection is back in the pool.
    let conflict: { kind: 'idempotency-key' } | { kind: 'sop-instance'; sop: string } | { kind: 'study-changed' } | undefined;
    try {
      await client.query('BEGIN');
      // Captures of one study (or one request) are serialised, so the study and series numbers resolved
      // before this transaction can be checked still to hold.
      await client.query(advisoryXactLockSql(`study:${c.studyInstanceUID}`));
      if (c.accessionNumber) await client.query(advisoryXactLockSql(`accession:${c.accessionNumber}`));
      if (await this.studyChanged(client, c)) {
        conflict = { kind: 'study-changed' };
      } else {
        conflict = await this.insertCapture(client, c, consent, enqueue);
      }
      await client.query(conflict ? 'ROLLBACK' : 'COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    if (!conflict) return { created: true };
    if (conflict.kind === 'study-changed') return { created: false, conflict: 'study-changed' };
    if (conflict.kind === 'idempotency-key') {
      const existing = await this.findCaptureByIdempotencyKey(c.createdBy, c.idempotencyKey!);
      return { created: false, existingCaptureId: existing!.id, conflict: 'idempotency-key' };
    }
    const existing = await this.findFileBySop(conflict.sop);
    return { created: false, existingCaptureId: existing!.captureId, conflict: 'sop-instance', sopInstanceUID: conflict.sop };
  }

  /** True when another capture started the request's study, or took this capture's series numbers, meanwhile. */
  private async studyChanged(client: pg.PoolClient, c: NewCapture): Promise<boolean> {
    if (c.resolvedAs.newStudy && c.accessionNumber) {
      const { rowCount } = await client.query(accessionInOtherStudySql(c.accessionNumber, c.studyInstanceUID));
      if (rowCount) return true;
    }
    if (c.resolvedAs.firstNewSeriesNumber === undefined) return false;
    const { rows: [r] } = await client.query<{ max: number | null }>(maxSeriesNumberSql(c.studyInstanceUID));
    return (r.max ?? 0) >= c.resolvedAs.firstNewSeriesNumber;
  }

  private async insertCapture(client: pg.PoolClient, c: NewCapture, consent: { input: ConsentInput; recordedBy: string },
    enqueue: (tx: SqlExecutor, file: NewCaptureFile) => Promise<void>): Promise<{ kind: 'idempotency-key' } | { kind: 'sop-instance'; sop: string } | undefined> {
    const inserted = await client.query(insertCaptureSql(c));
    if (inserted.rowCount === 0) return { kind: 'idempotency-key' };
    for (const f of c.files) {
      const row = await client.query(insertCaptureFileSql(c.id, f));
      if (row.rowCount === 0) return { kind: 'sop-instance', sop: f.sopInstanceUID };
    }
    await client.query(insertConsentSql(c, consent));
    const tx: SqlExecutor = { executeSql: async (text, values) => ({ rows: (await client.query(text, values)).rows }) };
    for (const f of c.files) if (f.status === 'queued') await enqueue(tx, f);
    return undefined;
  }

  async findCapture(id: string): Promise<CaptureRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows: [c] } = await this.pool.query<CaptureRow>(findCaptureSql(id));
    if (!c) return undefined;
    const { rows } = await this.pool.query<CaptureFileRow>(captureFilesSql(id));
    return toCapture(c, rows);
  }

  async findCaptureByIdempotencyKey(createdBy: string, key: string): Promise<{ id: string; fingerprint?: string } | undefined> {
    const { rows: [r] } = await this.pool.query<{ id: string; fingerprint: string | null }>(findCaptureByIdempotencyKeySql(createdBy, key));
    return r && { id: r.id, fingerprint: r.fingerprint ?? undefined };
  }

  async filesOfCaptures(captureIds: string[]): Promise<{ captureId: string; file: CaptureFileRecord }[]> {
    const ids = captureIds.filter((id) => isUuid(id));
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<CaptureFileRow>(filesOfCapturesSql(ids));
    return rows.map((r) => ({ captureId: r.capture_id, file: toFile(r) }));
  }

  /** The capture file that will become (or became) this SOP Instance, preferring a live one to a failed one. */
  private async findFileBySop(sopInstanceUID: string): Promise<{ captureId: string; file: CaptureFileRecord } | undefined> {
    const { rows: [r] } = await this.pool.query<CaptureFileRow>(findFileBySopSql(sopInstanceUID));
    return r ? { captureId: r.capture_id, file: toFile(r) } : undefined;
  }

  async findStudy(by: { studyInstanceUID?: string; accessionNumber?: string }): Promise<ExistingStudy[]> {
    const { rows } = await this.pool.query<ExistingStudyRow>(findStudySql(by));
    return rows.map((r) => ({
      studyInstanceUID: r.study_uid,
      indexed: r.patient && r.study ? { patient: r.patient, study: r.study } : undefined,
      captured: r.context ? reviveContext(r.context) : undefined,
      maxSeriesNumber: r.max_series ?? 0,
    }));
  }

  async claimFile(captureId: string, fileIndex: number) {
    const { rows: [r] } = await this.pool.query<{ capture_id: string }>(claimFileSql(captureId, fileIndex));
    if (!r) return undefined;
    const capture = (await this.findCapture(captureId))!;
    return { capture, file: capture.files.find((f) => f.fileIndex === fileIndex)! };
  }

  async markStored(captureId: string, fileIndex: number, encoding: string): Promise<void> {
    await this.pool.query(markStoredSql(captureId, fileIndex, encoding));
  }

  async markFailed(captureId: string, fileIndex: number, reason: string, kind: FailureKind): Promise<void> {
    await this.pool.query(markFailedSql(captureId, fileIndex, reason, kind));
  }
  async markAbandoned(captureId: string, fileIndex: number, reason: string): Promise<void> {
    await this.pool.query(markAbandonedSql(captureId, fileIndex, reason));
  }


  async markRetrying(captureId: string, fileIndex: number, reason: string): Promise<void> {
    await this.pool.query(markRetryingSql(captureId, fileIndex, reason));
  }


  /** The consent entered with this capture (its latest record), without loading the study's history. */
  async consentForCapture(captureId: string): Promise<ConsentRecord | undefined> {
    if (!isUuid(captureId)) return undefined;
    const { rows: [r] } = await this.pool.query<ConsentRow>(consentForCaptureSql(captureId));
    return r && toConsent(r);
  }
}

function toConsent(r: ConsentRow): ConsentRecord {
  return {
    studyInstanceUID: r.study_uid, level: r.level, status: r.status, consentedBy: r.consented_by,
    consentedAt: r.consented_at, recordedBy: r.recorded_by, recordedAt: r.recorded_at, captureId: r.capture_id ?? undefined,
  };
}

function toCapture(c: CaptureRow, files: CaptureFileRow[]): CaptureRecord {
  return {
    id: c.id, source: c.source, createdBy: c.created_by, studyInstanceUID: c.study_uid, context: reviveContext(c.context),
    createdAt: c.created_at, files: files.map(toFile),
  };
}

/** JSON has no dates: the consent time comes back as a string. */
function reviveContext(ctx: RecordedContext): RecordedContext {
  const at = ctx.consent.recordedAt as unknown;
  return typeof at === 'string' ? { ...ctx, consent: { ...ctx.consent, recordedAt: new Date(at) } } : ctx;
}

function toFile(r: CaptureFileRow): CaptureFileRecord {
  return {
    fileIndex: r.file_index, fileName: r.file_name, contentType: r.content_type ?? undefined, sizeBytes: Number(r.size_bytes),
    sha256: r.sha256, uploadKey: r.upload_key ?? undefined, image: r.image, seriesInstanceUID: r.series_uid,
    sopInstanceUID: r.sop_uid, seriesNumber: r.series_number, instanceNumber: r.instance_number, status: r.status,
    reason: r.reason ?? undefined, failure: r.failure ?? undefined, attempts: r.attempts, encoding: r.encoding ?? undefined, qa: r.qa ?? undefined,
    updatedAt: r.updated_at,
  };
}
