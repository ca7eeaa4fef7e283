/**
 * SQL for the viewer's annotations (table annotations, migration 010), run by the AnnotationRepository
 * adapter (../postgres-annotations.ts). Pure builders: text and values only. The annotated instance is
 * looked up with the caller's AccessScope in the WHERE clause, so another patient's instance is never
 * read.
 */
import type { AccessScope } from '../../auth/policy.js';
import type { AnnotatedInstance, AnnotationAuthor, AnnotationInput } from '../../annotations/types.js';
import { instanceScopeConditions, patientScopeConditions, scopeShape } from './scope.js';
import { Params, type SqlStatement } from './statement.js';

export interface AnnotatedInstanceRow {
  patient_id: string; issuer: string; study_uid: string; series_uid: string; sop_uid: string;
  rows: number | null; columns: number | null; number_of_frames: number | null; has_pixel_data: boolean;
}

export interface AnnotationRow {
  id: string; sop_instance_uid: string; frame: number; kind: string; points: [number, number][];
  length_mm: number | null; label: string | null; created_by: string; created_at: Date;
}

const COLUMNS = 'id, sop_instance_uid, frame, kind, points, length_mm, label, created_by, created_at';

/** The stored instance with this SOP Instance UID, if the caller's scope reaches it. */
export function annotatedInstanceSql(sopInstanceUID: string, scope: AccessScope): SqlStatement {
  const params = new Params();
  const where = [`i.sop_uid = ${params.add(sopInstanceUID)}`, `i.status = 'stored'`,
    ...patientScopeConditions(scope, params), ...instanceScopeConditions(scope, params, 'i')];
  return {
    name: `lucida-annotated-instance-${scopeShape(scope)}`,
    text: `SELECT p.patient_id, p.issuer, st.study_uid, se.series_uid, i.sop_uid, i.rows, i.columns, i.number_of_frames,
                  coalesce(i.metadata ? '7FE00010', false) AS has_pixel_data
           FROM instances i
           JOIN studies st ON st.pk = i.study_fk
           JOIN patients p ON p.pk = st.patient_fk
           JOIN series se ON se.pk = i.series_fk
           WHERE ${where.join(' AND ')}`,
    values: params.values,
  };
}

/**
 * The patient of a stored instance and whether the scope reaches it, for telling a scoped 404 that
 * hid another patient's instance (audited as denied) from one where nothing exists.
 */
export function instanceOwnerSql(sopInstanceUID: string, scope: AccessScope): SqlStatement {
  const params = new Params();
  const sop = params.add(sopInstanceUID);
  const visible = [...patientScopeConditions(scope, params), ...instanceScopeConditions(scope, params, 'i')];
  return {
    text: `SELECT p.patient_id, ${visible.length ? `(${visible.join(' AND ')})` : 'true'} AS visible
           FROM instances i
           JOIN studies st ON st.pk = i.study_fk
           JOIN patients p ON p.pk = st.patient_fk
           WHERE i.sop_uid = ${sop} AND i.status = 'stored'`,
    values: params.values,
  };
}

/** One frame's current annotations, oldest first. */
export function listAnnotationsSql(sopInstanceUID: string, frame: number): SqlStatement {
  return {
    name: 'lucida-list-annotations',
    text: `SELECT ${COLUMNS} FROM annotations
           WHERE sop_instance_uid = $1 AND frame = $2 AND removed_at IS NULL
           ORDER BY created_at, id`,
    values: [sopInstanceUID, frame],
  };
}

/**
 * Serialises calibrations of one instance (a transaction-level advisory lock), so that superseding the
 * current calibration and inserting the new one cannot interleave with another request doing the same.
 */
export function lockInstanceAnnotationsSql(sopInstanceUID: string): SqlStatement {
  return { text: 'SELECT pg_advisory_xact_lock(hashtext($1))', values: [`annotations:${sopInstanceUID}`] };
}

/** Marks the frame's current calibration removed (it is superseded). */
export function supersedeCalibrationSql(sopInstanceUID: string, frame: number, by: AnnotationAuthor): SqlStatement {
  return {
    text: `UPDATE annotations SET removed_at = now(), removed_by = $3
           WHERE sop_instance_uid = $1 AND frame = $2 AND kind = 'calibration' AND removed_at IS NULL`,
    values: [sopInstanceUID, frame, by.subject],
  };
}

export function insertAnnotationSql(id: string, instance: AnnotatedInstance, a: AnnotationInput, by: AnnotationAuthor): SqlStatement {
  return {
    text: `INSERT INTO annotations (id, sop_instance_uid, study_uid, series_uid, patient_id, issuer, frame, kind, points,
             length_mm, label, created_by, client_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13)
           RETURNING ${COLUMNS}`,
    values: [id, instance.sopInstanceUID, instance.studyInstanceUID, instance.seriesInstanceUID, instance.patientId,
      instance.issuer, a.frame, a.kind, JSON.stringify(a.points), a.lengthMm ?? null, a.label ?? null, by.subject, by.clientId ?? null],
  };
}

/** Marks one current annotation of the instance removed; returns its id when there was one. */
export function removeAnnotationSql(sopInstanceUID: string, id: string, by: AnnotationAuthor): SqlStatement {
  return {
    text: `UPDATE annotations SET removed_at = now(), removed_by = $3
           WHERE id = $2 AND sop_instance_uid = $1 AND removed_at IS NULL
           RETURNING id`,
    values: [sopInstanceUID, id, by.subject],
  };
}
