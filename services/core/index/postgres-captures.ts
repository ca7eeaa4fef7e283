/**
 * The Postgres adapter of the CaptureRepository port (tables of migration 005). Statements are
 * short and fixed; each method is one statement except createCapture, which is one transaction.
 */
import type pg from 'pg';
import type {
  CaptureFileRecord, CaptureRecord, FailureKind, RecordedContext, CaptureRepository, ConsentRecord, CreateCaptureResult, ExistingStudy,
  NewCapture, NewCaptureFile,
} from '../capture/capture-port.js';
import type { ConsentInput } from '../capture/types.js';
import type { DicomJson } from '../dicom/json.types.js';
import type { SqlExecutor } from '../queue/jobs.js';

interface CaptureRow {
  id: string; source: CaptureRecord['source']; created_by: string; study_uid: string;
  context: CaptureRecord['context']; created_at: Date;
}
interface FileRow {
  capture_id: string; file_index: number; file_name: string; content_type: string | null; size_bytes: string;
  sha256: string; upload_key: string | null; image: NewCaptureFile['image']; series_uid: string; sop_uid: string;
  series_number: number; instance_number: number; status: CaptureFileRecord['status']; reason: string | null;
  attempts: number; encoding: string | null; qa: unknown; updated_at: Date; failure: FailureKind | null;
}

/** Highest series number of a study ($1), indexed or assigned by its captures. */
const MAX_SERIES_SQL = `SELECT greatest(
    (SELECT max(se.series_number) FROM series se JOIN studies st ON st.pk = se.study_fk WHERE st.study_uid = $1),
    (SELECT max(f.series_number) FROM capture_files f JOIN captures c ON c.id = f.capture_id WHERE c.study_uid = $1)) AS max`;

const FILE_COLUMNS = `f.capture_id, f.file_index, f.file_name, f.content_type, f.size_bytes, f.sha256, f.upload_key,
  f.image, f.series_uid, f.sop_uid, f.series_number, f.instance_number, f.status, f.reason, f.failure, f.attempts, f.encoding,
  f.updated_at, i.qa`;
// QA figures live with the instance (the derive job writes them for every image, captured or not).
const FILES_FROM = `capture_files f LEFT JOIN instances i ON i.sop_uid = f.sop_uid AND i.status = 'stored'`;

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
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`study:${c.studyInstanceUID}`]);
      if (c.accessionNumber) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`accession:${c.accessionNumber}`]);
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
      const { rowCount } = await client.query(
        'SELECT 1 FROM captures WHERE accession_number = $1 AND study_uid <> $2 LIMIT 1', [c.accessionNumber, c.studyInstanceUID]);
      if (rowCount) return true;
    }
    if (c.resolvedAs.firstNewSeriesNumber === undefined) return false;
    const { rows: [r] } = await client.query<{ max: number | null }>(MAX_SERIES_SQL, [c.studyInstanceUID]);
    return (r.max ?? 0) >= c.resolvedAs.firstNewSeriesNumber;
  }

  private async insertCapture(client: pg.PoolClient, c: NewCapture, consent: { input: ConsentInput; recordedBy: string },
    enqueue: (tx: SqlExecutor, file: NewCaptureFile) => Promise<void>): Promise<{ kind: 'idempotency-key' } | { kind: 'sop-instance'; sop: string } | undefined> {
    const inserted = await client.query(
      `INSERT INTO captures (id, source, created_by, client_id, idempotency_key, fingerprint, study_uid, accession_number, context)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (created_by, idempotency_key) DO NOTHING`,
      [c.id, c.source, c.createdBy, c.clientId ?? null, c.idempotencyKey ?? null, c.fingerprint ?? null, c.studyInstanceUID,
        c.accessionNumber || null, c.context]);
    if (inserted.rowCount === 0) return { kind: 'idempotency-key' };
    for (const f of c.files) {
      const row = await client.query(
        `INSERT INTO capture_files (capture_id, file_index, file_name, content_type, size_bytes, sha256, upload_key,
           image, series_uid, sop_uid, series_number, instance_number, status, reason, failure)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 CASE WHEN $13 = 'failed' THEN 'input' END)
         ON CONFLICT (sop_uid) WHERE status <> 'failed' DO NOTHING`,
        [c.id, f.fileIndex, f.fileName, f.contentType ?? null, f.sizeBytes, f.sha256, f.uploadKey ?? null, f.image,
          f.seriesInstanceUID, f.sopInstanceUID, f.seriesNumber, f.instanceNumber, f.status, f.reason ?? null]);
      if (row.rowCount === 0) return { kind: 'sop-instance', sop: f.sopInstanceUID };
    }
    const { patient } = c.context;
    await client.query(
      `INSERT INTO consent_records (study_uid, patient_id, issuer, level, consented_by, consented_at, recorded_by, capture_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [c.studyInstanceUID, patient.patientId, patient.issuer, consent.input.level, consent.input.recordedBy,
        consent.input.recordedAt ?? new Date(), consent.recordedBy, c.id]);
    const tx: SqlExecutor = { executeSql: async (text, values) => ({ rows: (await client.query(text, values)).rows }) };
    for (const f of c.files) if (f.status === 'queued') await enqueue(tx, f);
    return undefined;
  }

  async findCapture(id: string): Promise<CaptureRecord | undefined> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
    const { rows: [c] } = await this.pool.query<CaptureRow>(
      'SELECT id, source, created_by, study_uid, context, created_at FROM captures WHERE id = $1', [id]);
    if (!c) return undefined;
    const { rows } = await this.pool.query<FileRow>(
      `SELECT ${FILE_COLUMNS} FROM ${FILES_FROM} WHERE f.capture_id = $1 ORDER BY f.file_index`, [id]);
    return toCapture(c, rows);
  }

  async findCaptureByIdempotencyKey(createdBy: string, key: string): Promise<{ id: string; fingerprint?: string } | undefined> {
    const { rows: [r] } = await this.pool.query<{ id: string; fingerprint: string | null }>(
      'SELECT id, fingerprint FROM captures WHERE created_by = $1 AND idempotency_key = $2', [createdBy, key]);
    return r && { id: r.id, fingerprint: r.fingerprint ?? undefined };
  }

  async findFileBySop(sopInstanceUID: string): Promise<{ captureId: string; file: CaptureFileRecord } | undefined> {
    const { rows: [r] } = await this.pool.query<FileRow>(
      `SELECT ${FILE_COLUMNS} FROM ${FILES_FROM} WHERE f.sop_uid = $1
        ORDER BY f.status = 'failed', f.updated_at DESC LIMIT 1`, [sopInstanceUID]);
    return r ? { captureId: r.capture_id, file: toFile(r) } : undefined;
  }

  async findStudy(by: { studyInstanceUID?: string; accessionNumber?: string }): Promise<ExistingStudy[]> {
    const { rows } = await this.pool.query<{
      study_uid: string; patient: DicomJson | null; study: DicomJson | null; context: RecordedContext | null; max_series: number | null;
    }>(
      // Indexed studies, and studies whose first photographs are still being converted (captures only).
      `WITH matches AS (
         SELECT study_uid FROM studies
          WHERE ($1::text IS NULL OR study_uid = $1) AND ($2::text IS NULL OR accession_number = $2)
         UNION
         SELECT study_uid FROM captures
          WHERE ($1::text IS NULL OR study_uid = $1) AND ($2::text IS NULL OR accession_number = $2)
       )
       SELECT m.study_uid, p.attrs AS patient, s.attrs AS study,
              (SELECT c.context FROM captures c WHERE c.study_uid = m.study_uid ORDER BY c.created_at LIMIT 1) AS context,
              (${MAX_SERIES_SQL.replaceAll('$1', 'm.study_uid')}) AS max_series
         FROM matches m LEFT JOIN studies s ON s.study_uid = m.study_uid LEFT JOIN patients p ON p.pk = s.patient_fk
        LIMIT 2`,
      [by.studyInstanceUID ?? null, by.accessionNumber ?? null]);
    return rows.map((r) => ({
      studyInstanceUID: r.study_uid,
      indexed: r.patient && r.study ? { patient: r.patient, study: r.study } : undefined,
      captured: r.context ? reviveContext(r.context) : undefined,
      maxSeriesNumber: r.max_series ?? 0,
    }));
  }

  async claimFile(captureId: string, fileIndex: number) {
    const { rows: [r] } = await this.pool.query<{ capture_id: string }>(
      `UPDATE capture_files SET status = 'converting', attempts = attempts + 1, updated_at = now()
        WHERE capture_id = $1 AND file_index = $2 AND status IN ('queued', 'converting')
        RETURNING capture_id`, [captureId, fileIndex]);
    if (!r) return undefined;
    const capture = (await this.findCapture(captureId))!;
    return { capture, file: capture.files.find((f) => f.fileIndex === fileIndex)! };
  }

  async markStored(captureId: string, fileIndex: number, encoding: string): Promise<void> {
    await this.pool.query(
      `UPDATE capture_files SET status = 'stored', encoding = $3, reason = NULL, updated_at = now()
        WHERE capture_id = $1 AND file_index = $2`, [captureId, fileIndex, encoding]);
  }

  async markFailed(captureId: string, fileIndex: number, reason: string, kind: FailureKind): Promise<void> {
    await this.pool.query(
      `UPDATE capture_files SET status = 'failed', reason = $3, failure = $4, updated_at = now()
        WHERE capture_id = $1 AND file_index = $2 AND status <> 'stored'`, [captureId, fileIndex, reason, kind]);
  }

  async markRetrying(captureId: string, fileIndex: number, reason: string): Promise<void> {
    await this.pool.query(
      `UPDATE capture_files SET status = 'queued', reason = $3, updated_at = now()
        WHERE capture_id = $1 AND file_index = $2 AND status = 'converting'`, [captureId, fileIndex, reason]);
  }

  async setInstanceQa(sopInstanceUID: string, qa: unknown): Promise<void> {
    await this.pool.query('UPDATE instances SET qa = $2 WHERE sop_uid = $1', [sopInstanceUID, JSON.stringify(qa)]);
  }

  async consentHistory(studyInstanceUID: string): Promise<ConsentRecord[]> {
    const { rows } = await this.pool.query(
      `SELECT study_uid, level, status, consented_by, consented_at, recorded_by, recorded_at, capture_id
         FROM consent_records WHERE study_uid = $1 ORDER BY id`, [studyInstanceUID]);
    return rows.map((r) => ({
      studyInstanceUID: r.study_uid, level: r.level, status: r.status, consentedBy: r.consented_by,
      consentedAt: r.consented_at, recordedBy: r.recorded_by, recordedAt: r.recorded_at, captureId: r.capture_id ?? undefined,
    }));
  }
}

function toCapture(c: CaptureRow, files: FileRow[]): CaptureRecord {
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

function toFile(r: FileRow): CaptureFileRecord {
  return {
    fileIndex: r.file_index, fileName: r.file_name, contentType: r.content_type ?? undefined, sizeBytes: Number(r.size_bytes),
    sha256: r.sha256, uploadKey: r.upload_key ?? undefined, image: r.image, seriesInstanceUID: r.series_uid,
    sopInstanceUID: r.sop_uid, seriesNumber: r.series_number, instanceNumber: r.instance_number, status: r.status,
    reason: r.reason ?? undefined, failure: r.failure ?? undefined, attempts: r.attempts, encoding: r.encoding ?? undefined, qa: r.qa ?? undefined,
    updatedAt: r.updated_at,
  };
}
