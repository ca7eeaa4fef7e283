/**
 * SQL for the viewer's annotations (table annotations, migration 010), run by the AnnotationRepository
 * adapter (../postgres-annotations.ts). Pure builders: text and values only. The annotated instance
 * itself is found by the instance index (findInstancesSql), within the caller's scope.
 */
import type { AnnotatedInstance, AnnotationAuthor, AnnotationInput } from '../../annotations/types.js';
import type { SqlStatement } from './statement.js';

export interface AnnotationRow {
  id: string; sop_instance_uid: string; frame: number; kind: string; points: [number, number][];
  length_mm: number | null; label: string | null; created_by: string; created_at: Date;
}

const COLUMNS = 'id, sop_instance_uid, frame, kind, points, length_mm, label, created_by, created_at';

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
