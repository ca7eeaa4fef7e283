/**
 * SQL for the patient timeline (GET /api/timeline), run by index/postgres-timeline.ts: two statements
 * in all, whatever the number of studies and photographs. The caller's AccessScope is part of both
 * WHERE clauses (scope.ts), so what the caller may not see is never read.
 */
import type { AccessScope } from '../../auth/policy.js';
import type { DicomJson } from '../../dicom/json.types.js';
import { PHOTO_TAGS } from '../../timeline/format.js';
import type { TimelineRequest } from '../../timeline/types.js';
import { instanceScopeConditions, patientScopeConditions } from './scope.js';
import { Params, type SqlStatement } from './statement.js';

export interface TimelineStudyRow {
  patient_pk: string; patient_id: string; issuer: string; patient_name: string | null; birth_date: string | null; sex: string | null;
  study_uid: string; study_date: string | null; study_time: string | null; study_description: string | null;
  accession_number: string | null;
  consent_level: string | null; consent_status: string | null; consent_recorded_at: Date | null;
}

export interface TimelinePhotoRow {
  study_uid: string; series_uid: string; sop_uid: string; sop_class_uid: string; instance_number: number | null;
  series_number: number | null; series_description: string | null; series_laterality: string | null;
  /** Normalised local date-time 'YYYYMMDDHHMMSS.FFFFFF', or a date 'YYYYMMDD'. */
  acquired: string | null;
  rows: number | null; columns: number | null; qa: unknown;
  /** The instance's DICOM JSON reduced to PHOTO_TAGS. */
  attrs: DicomJson;
  calibrated: boolean; measurements: number;
}

/**
 * The patient's studies that hold at least one stored instance the caller may see, newest first, each
 * row with the patient's columns and the study's latest consent record (migration 005: the latest
 * row of a study wins). Rows of more than one patient mean the PatientID is ambiguous without an issuer.
 */
export function timelineStudiesSql(request: TimelineRequest, scope: AccessScope): SqlStatement {
  const params = new Params();
  const where = [`p.patient_id = ${params.add(request.patientId)}`];
  if (request.issuer !== undefined) where.push(`p.issuer = ${params.add(request.issuer)}`);
  where.push(...patientScopeConditions(scope, params));
  const instance = instanceScopeConditions(scope, params, 'i');
  return {
    text: `SELECT p.pk AS patient_pk, p.patient_id, p.issuer, p.patient_name, p.birth_date, p.sex,
                  st.study_uid, st.study_date, st.study_time, st.study_description, st.accession_number,
                  c.level AS consent_level, c.status AS consent_status, c.recorded_at AS consent_recorded_at
           FROM patients p
           JOIN studies st ON st.patient_fk = p.pk
           LEFT JOIN LATERAL (
             SELECT cr.level, cr.status, cr.recorded_at FROM consent_records cr
             WHERE cr.study_uid = st.study_uid ORDER BY cr.id DESC LIMIT 1
           ) c ON true
           WHERE ${where.join(' AND ')}
             AND EXISTS (SELECT 1 FROM instances i WHERE i.study_fk = st.pk AND i.status = 'stored'
                         ${instance.map((cond) => `AND ${cond}`).join(' ')})
           ORDER BY p.pk, st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC`,
    values: params.values,
  };
}

/**
 * The photographs (stored instances with Pixel Data) of one patient (by index key) the caller may see,
 * newest first: by acquisition (AcquisitionDateTime, else ContentDate + ContentTime, else StudyDate +
 * StudyTime), then study date, then series and instance number. Each with the attributes the timeline
 * shows from its DICOM JSON and its current annotation counts. `limit` rows at most.
 */
export function timelinePhotosSql(patientPk: string, scope: AccessScope, limit: number): SqlStatement {
  const params = new Params();
  const where = [`st.patient_fk = ${params.add(patientPk, 'bigint')}`, `i.metadata ? '7FE00010'`,
    ...patientScopeConditions(scope, params), ...instanceScopeConditions(scope, params, 'i')];
  const attrs = Object.values(PHOTO_TAGS).map((tag) => `'${tag}', i.metadata -> '${tag}'`).join(', ');
  return {
    text: `SELECT st.study_uid, se.series_uid, i.sop_uid, i.sop_class_uid, i.instance_number, se.series_number,
                  se.series_description, se.laterality AS series_laterality,
                  coalesce(i.acquisition_datetime, i.content_date || coalesce(i.content_time, ''),
                           st.study_date || coalesce(st.study_time, '')) AS acquired,
                  i.rows, i.columns, i.qa,
                  jsonb_strip_nulls(jsonb_build_object(${attrs})) AS attrs,
                  coalesce(a.calibrated, false) AS calibrated, a.measurements::int AS measurements
           FROM studies st
           JOIN patients p ON p.pk = st.patient_fk
           JOIN instances i ON i.study_fk = st.pk AND i.status = 'stored'
           JOIN series se ON se.pk = i.series_fk
           LEFT JOIN LATERAL (
             SELECT bool_or(an.kind = 'calibration') AS calibrated, count(*) FILTER (WHERE an.kind <> 'calibration') AS measurements
             FROM annotations an WHERE an.sop_instance_uid = i.sop_uid AND an.removed_at IS NULL
           ) a ON true
           WHERE ${where.join(' AND ')}
           ORDER BY acquired DESC NULLS LAST, st.study_date DESC NULLS LAST, se.series_number NULLS LAST,
                    i.instance_number NULLS LAST, i.pk
           LIMIT ${params.add(limit, 'int')}`,
    values: params.values,
  };
}
