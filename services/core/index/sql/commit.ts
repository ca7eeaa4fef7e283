/**
 * Phase 3 of the two-phase store as ONE statement: upsert patient → study → series, then flip the
 * pending instance row to 'stored'. One statement is one implicit transaction: either all of it
 * happens or none of it does, in one round trip.
 *
 * Rule for the patient, study and series rows: LATEST ATTRIBUTES WIN. Each commit replaces the row's
 * columns and `attrs` with those of the instance being committed (the DICOM model gives every
 * instance of a study the same study attributes; when they differ, e.g. after a demographics update
 * at the modality, the most recently committed instance is the best information the archive has).
 *
 * Concurrency: instances of the same new patient/study/series committed at once race on the unique
 * keys; INSERT ... ON CONFLICT DO UPDATE waits for the first inserter and then updates, so no
 * unique-violation errors occur. Every commit locks rows in the same order (instance, patient, study,
 * series), so commits cannot deadlock one another.
 *
 * Refusals (PS3.18 §10.5.3, failure 0xA900 in STOW-RS): a study that already belongs to another
 * patient, or a series that already belongs to another study, is left untouched. A guard checks this
 * before anything is written; `ON CONFLICT ... DO UPDATE ... WHERE` re-checks it against the latest
 * committed row, so a commit racing with the creation of the same study under another patient is
 * refused too. Such a refusal may leave rows the losing commit created before the re-check (its own
 * new patient, or a new study when its series belongs to another study); they hold no instance, and
 * QIDO-RS shows only studies and series with stored instances (sql/search.ts).
 */
import type { IndexRows } from '../index-rows.js';
import type { SqlStatement } from './statement.js';

/** The single row the commit statement returns. */
export interface CommitOutcomeRow {
  /** 1 if the instance was made 'stored'. */
  stored: number;
  /** 1 if the instance row was pending and the guard passed (so the upserts ran). */
  claimed: number;
  /** 1 if the study upsert returned a row (0: its patient differs, found by the ON CONFLICT re-check). */
  study_ok: number;
  was_pending: boolean;
  patient_mismatch: boolean;
  study_mismatch: boolean;
}

/** Builds the commit statement for the instance `rows.instance.sopInstanceUID`. */
export function commitStoredSql(rows: IndexRows, objectKey: string): SqlStatement {
  const { patient: p, study: st, series: se, instance: i } = rows;
  return {
    name: 'lucida-commit-stored',
    text: `
WITH guard AS (
  SELECT
    EXISTS (SELECT 1 FROM studies s JOIN patients p ON p.pk = s.patient_fk
            WHERE s.study_uid = $2 AND (p.patient_id, p.issuer) <> ($9, $10)) AS patient_mismatch,
    EXISTS (SELECT 1 FROM series se JOIN studies s ON s.pk = se.study_fk
            WHERE se.series_uid = $3 AND s.study_uid <> $2) AS study_mismatch
),
inst AS (
  SELECT pk FROM instances
  WHERE sop_uid = $1 AND status = 'pending' AND object_key = $36
    AND NOT (SELECT patient_mismatch OR study_mismatch FROM guard)
  FOR UPDATE
),
pat AS (
  INSERT INTO patients AS p (patient_id, issuer, patient_name, patient_name_search, patient_name_prefixes, birth_date,
                             sex, attrs)
  SELECT $9, $10, $11, $12, $35::text[], $13, $14, $15::jsonb FROM inst
  ON CONFLICT (patient_id, issuer) DO UPDATE
    SET patient_name = excluded.patient_name, patient_name_search = excluded.patient_name_search,
        patient_name_prefixes = excluded.patient_name_prefixes,
        birth_date = excluded.birth_date, sex = excluded.sex, attrs = excluded.attrs, updated_at = now()
  RETURNING p.pk
),
stu AS (
  INSERT INTO studies AS s (study_uid, patient_fk, study_date, study_time, accession_number, study_id,
                            study_description, referring_physician_search, attrs)
  SELECT $2, pat.pk, $16, $17, $18, $19, $20, $21, $22::jsonb FROM pat
  ON CONFLICT (study_uid) DO UPDATE
    SET study_date = excluded.study_date, study_time = excluded.study_time,
        accession_number = excluded.accession_number, study_id = excluded.study_id,
        study_description = excluded.study_description,
        referring_physician_search = excluded.referring_physician_search, attrs = excluded.attrs, updated_at = now()
    WHERE s.patient_fk = excluded.patient_fk
  RETURNING s.pk
),
ser AS (
  INSERT INTO series AS se (series_uid, study_fk, modality, series_number, series_description, pps_start_date,
                            pps_start_time, body_part_examined, laterality, attrs)
  SELECT $3, stu.pk, $23, $24::int, $25, $26, $27, $28, $29, $30::jsonb FROM stu
  ON CONFLICT (series_uid) DO UPDATE
    SET modality = excluded.modality, series_number = excluded.series_number,
        series_description = excluded.series_description, pps_start_date = excluded.pps_start_date,
        pps_start_time = excluded.pps_start_time, body_part_examined = excluded.body_part_examined,
        laterality = excluded.laterality, attrs = excluded.attrs, updated_at = now()
    WHERE se.study_fk = excluded.study_fk
  RETURNING se.pk, se.study_fk
),
upd AS (
  UPDATE instances i
  SET status = 'stored', study_uid = $2, series_uid = $3, study_fk = ser.study_fk, series_fk = ser.pk,
      sop_class_uid = coalesce($4, i.sop_class_uid), instance_number = $5::int, rows = $6::int,
      columns = $7::int, number_of_frames = $8::int, content_date = $31, content_time = $32,
      acquisition_datetime = $33, metadata = $34::jsonb, updated_at = now()
  FROM ser
  WHERE i.pk = (SELECT pk FROM inst)
  RETURNING i.pk
)
SELECT (SELECT count(*) FROM upd)::int AS stored,
       (SELECT count(*) FROM inst)::int AS claimed,
       (SELECT count(*) FROM stu)::int AS study_ok,
       EXISTS (SELECT 1 FROM instances WHERE sop_uid = $1 AND status = 'pending' AND object_key = $36) AS was_pending,
       g.patient_mismatch, g.study_mismatch
FROM guard g`,
    values: [
      i.sopInstanceUID, st.studyUID, se.seriesUID, i.sopClassUID, i.instanceNumber, i.rows, i.columns, i.numberOfFrames,
      p.patientId, p.issuer, p.patientName, p.patientNameSearch, p.birthDate, p.sex, JSON.stringify(p.attrs),
      st.studyDate, st.studyTime, st.accessionNumber, st.studyId, st.studyDescription, st.referringPhysicianSearch,
      JSON.stringify(st.attrs),
      se.modality, se.seriesNumber, se.seriesDescription, se.ppsStartDate, se.ppsStartTime, se.bodyPartExamined,
      se.laterality, JSON.stringify(se.attrs),
      i.contentDate, i.contentTime, i.acquisitionDateTime, JSON.stringify(i.metadata),
      p.patientNamePrefixes, objectKey,
    ],
  };
}
