/**
 * SQL for the capture tables of migration 005 (captures, capture_files, consent_records), run by
 * the CaptureRepository adapter (../postgres-captures.ts). Pure builders: text and values only.
 */
import type {
  CaptureFileRecord, CaptureRecord, FailureKind, NewCapture, NewCaptureFile, RecordedContext,
} from '../../capture/capture-port.js';
import type { ConsentInput } from '../../capture/types.js';
import type { DicomJson } from '../../dicom/json.types.js';
import { Params, type SqlStatement } from './statement.js';

export interface CaptureRow {
  id: string; source: CaptureRecord['source']; created_by: string; study_uid: string;
  context: CaptureRecord['context']; created_at: Date;
}

export interface CaptureFileRow {
  capture_id: string; file_index: number; file_name: string; content_type: string | null; size_bytes: string;
  sha256: string; upload_key: string | null; image: NewCaptureFile['image']; series_uid: string; sop_uid: string;
  series_number: number; instance_number: number; status: CaptureFileRecord['status']; reason: string | null;
  attempts: number; encoding: string | null; qa: unknown; updated_at: Date; failure: FailureKind | null;
}

export interface ExistingStudyRow {
  study_uid: string; patient: DicomJson | null; study: DicomJson | null; context: RecordedContext | null; max_series: number | null;
}

export interface ConsentRow {
  study_uid: string; level: ConsentInput['level']; status: 'given' | 'withdrawn'; consented_by: string; consented_at: Date;
  recorded_by: string; recorded_at: Date; capture_id: string | null;
}

const FILE_COLUMNS = `f.capture_id, f.file_index, f.file_name, f.content_type, f.size_bytes, f.sha256, f.upload_key,
  f.image, f.series_uid, f.sop_uid, f.series_number, f.instance_number, f.status, f.reason, f.failure, f.attempts, f.encoding,
  f.updated_at, i.qa`;
// QA figures live with the instance (the derive job writes them for every image, captured or not).
const FILES_FROM = `capture_files f LEFT JOIN instances i ON i.sop_uid = f.sop_uid AND i.status = 'stored'`;

const CONSENT_COLUMNS = 'study_uid, level, status, consented_by, consented_at, recorded_by, recorded_at, capture_id';

/**
 * Highest series number of the study whose UID is the SQL expression `studyUid` (a placeholder or a
 * column), indexed or assigned by its captures; NULL when there is none.
 */
function maxSeriesNumber(studyUid: string): string {
  return `greatest(
    (SELECT max(se.series_number) FROM series se JOIN studies st ON st.pk = se.study_fk WHERE st.study_uid = ${studyUid}),
    (SELECT max(f.series_number) FROM capture_files f JOIN captures c ON c.id = f.capture_id WHERE c.study_uid = ${studyUid}))`;
}

/** A row when a capture for this accession number went to another study. */
export function accessionInOtherStudySql(accessionNumber: string, studyInstanceUID: string): SqlStatement {
  return {
    text: 'SELECT 1 FROM captures WHERE accession_number = $1 AND study_uid <> $2 LIMIT 1',
    values: [accessionNumber, studyInstanceUID],
  };
}

/** One row, `max`: the study's highest series number (NULL when none). */
export function maxSeriesNumberSql(studyInstanceUID: string): SqlStatement {
  return { text: `SELECT ${maxSeriesNumber('$1')} AS max`, values: [studyInstanceUID] };
}

/** Inserts the capture; no row is inserted when the caller already used this Idempotency-Key. */
export function insertCaptureSql(c: NewCapture): SqlStatement {
  return {
    text: `INSERT INTO captures (id, source, created_by, client_id, idempotency_key, fingerprint, study_uid, accession_number, context)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (created_by, idempotency_key) DO NOTHING`,
    values: [c.id, c.source, c.createdBy, c.clientId ?? null, c.idempotencyKey ?? null, c.fingerprint ?? null, c.studyInstanceUID,
      c.accessionNumber || null, c.context],
  };
}

/** Inserts a file; no row is inserted when a live (not failed) file already has its SOP Instance UID. */
export function insertCaptureFileSql(captureId: string, f: NewCaptureFile): SqlStatement {
  return {
    text: `INSERT INTO capture_files (capture_id, file_index, file_name, content_type, size_bytes, sha256, upload_key,
             image, series_uid, sop_uid, series_number, instance_number, status, reason, failure)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                   CASE WHEN $13 = 'failed' THEN 'input' END)
           ON CONFLICT (sop_uid) WHERE status <> 'failed' DO NOTHING`,
    values: [captureId, f.fileIndex, f.fileName, f.contentType ?? null, f.sizeBytes, f.sha256, f.uploadKey ?? null, f.image,
      f.seriesInstanceUID, f.sopInstanceUID, f.seriesNumber, f.instanceNumber, f.status, f.reason ?? null],
  };
}

/** The consent record a capture brings with it (consent_records is append-only); consent sent without a time is dated now. */
export function insertConsentSql(c: NewCapture, consent: { input: ConsentInput; recordedBy: string }): SqlStatement {
  const { patient } = c.context;
  return {
    text: `INSERT INTO consent_records (study_uid, patient_id, issuer, level, consented_by, consented_at, recorded_by, capture_id)
           VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, now()), $7, $8)`,
    values: [c.studyInstanceUID, patient.patientId, patient.issuer, consent.input.level, consent.input.recordedBy,
      consent.input.recordedAt ?? null, consent.recordedBy, c.id],
  };
}

/** The capture row (CaptureRow). */
export function findCaptureSql(id: string): SqlStatement {
  return { text: 'SELECT id, source, created_by, study_uid, context, created_at FROM captures WHERE id = $1', values: [id] };
}

/** The capture's files (CaptureFileRow), in request order. */
export function captureFilesSql(captureId: string): SqlStatement {
  return { text: `SELECT ${FILE_COLUMNS} FROM ${FILES_FROM} WHERE f.capture_id = $1 ORDER BY f.file_index`, values: [captureId] };
}

/** The files of several captures at once (STOW-RS waiting on its conversions), in request order. */
export function filesOfCapturesSql(captureIds: string[]): SqlStatement {
  return {
    text: `SELECT ${FILE_COLUMNS} FROM ${FILES_FROM} WHERE f.capture_id = ANY($1::uuid[]) ORDER BY f.capture_id, f.file_index`,
    values: [captureIds],
  };
}

export function findCaptureByIdempotencyKeySql(createdBy: string, key: string): SqlStatement {
  return { text: 'SELECT id, fingerprint FROM captures WHERE created_by = $1 AND idempotency_key = $2', values: [createdBy, key] };
}

/** The file (CaptureFileRow) of a SOP Instance UID: the live one, else the latest failed one. */
export function findFileBySopSql(sopInstanceUID: string): SqlStatement {
  return {
    text: `SELECT ${FILE_COLUMNS} FROM ${FILES_FROM} WHERE f.sop_uid = $1
            ORDER BY f.status = 'failed', f.updated_at DESC LIMIT 1`,
    values: [sopInstanceUID],
  };
}

/**
 * Up to two studies (ExistingStudyRow) with this StudyInstanceUID and/or accession number: indexed
 * ones, and those whose first photographs are still being converted (known from captures only).
 */
export function findStudySql(by: { studyInstanceUID?: string; accessionNumber?: string }): SqlStatement {
  const params = new Params();
  const where: string[] = [];
  if (by.studyInstanceUID !== undefined) where.push(`u.study_uid = ${params.add(by.studyInstanceUID)}`);
  if (by.accessionNumber !== undefined) where.push(`u.accession_number = ${params.add(by.accessionNumber)}`);
  return {
    // Postgres pushes the conditions down into both branches, where the study_uid and accession indexes serve them.
    text: `WITH matches AS (
             SELECT DISTINCT u.study_uid
               FROM (SELECT study_uid, accession_number FROM studies
                     UNION ALL
                     SELECT study_uid, accession_number FROM captures) u
             ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
           )
           SELECT m.study_uid, p.attrs AS patient, s.attrs AS study,
                  (SELECT c.context FROM captures c WHERE c.study_uid = m.study_uid ORDER BY c.created_at LIMIT 1) AS context,
                  ${maxSeriesNumber('m.study_uid')} AS max_series
             FROM matches m LEFT JOIN studies s ON s.study_uid = m.study_uid LEFT JOIN patients p ON p.pk = s.patient_fk
            LIMIT 2`,
    values: params.values,
  };
}

/** Starts a conversion attempt; returns a row only when the file was queued (or converting, after a crash). */
export function claimFileSql(captureId: string, fileIndex: number): SqlStatement {
  return {
    text: `UPDATE capture_files SET status = 'converting', attempts = attempts + 1, updated_at = now()
            WHERE capture_id = $1 AND file_index = $2 AND status IN ('queued', 'converting')
            RETURNING capture_id`,
    values: [captureId, fileIndex],
  };
}

export function markStoredSql(captureId: string, fileIndex: number, encoding: string): SqlStatement {
  return {
    text: `UPDATE capture_files SET status = 'stored', encoding = $3, reason = NULL, updated_at = now()
            WHERE capture_id = $1 AND file_index = $2`,
    values: [captureId, fileIndex, encoding],
  };
}

/** Marks a file failed, unless it is already stored (a late or duplicated job). */
export function markFailedSql(captureId: string, fileIndex: number, reason: string, kind: FailureKind): SqlStatement {
  return {
    text: `UPDATE capture_files SET status = 'failed', reason = $3, failure = $4, updated_at = now()
            WHERE capture_id = $1 AND file_index = $2 AND status <> 'stored'`,
    values: [captureId, fileIndex, reason, kind],
  };
}

/** markFailedSql for a file still queued or converting only (a failed one keeps its reason). */
export function markAbandonedSql(captureId: string, fileIndex: number, reason: string): SqlStatement {
  return {
    text: `UPDATE capture_files SET status = 'failed', reason = $3, failure = 'processing', updated_at = now()
            WHERE capture_id = $1 AND file_index = $2 AND status IN ('queued', 'converting')`,
    values: [captureId, fileIndex, reason],
  };
}

export function markRetryingSql(captureId: string, fileIndex: number, reason: string): SqlStatement {
  return {
    text: `UPDATE capture_files SET status = 'queued', reason = $3, updated_at = now()
            WHERE capture_id = $1 AND file_index = $2 AND status = 'converting'`,
    values: [captureId, fileIndex, reason],
  };
}


/** The latest consent record (ConsentRow) entered with a capture. */
export function consentForCaptureSql(captureId: string): SqlStatement {
  return {
    text: `SELECT ${CONSENT_COLUMNS} FROM consent_records WHERE capture_id = $1 ORDER BY id DESC LIMIT 1`,
    values: [captureId],
  };
}
