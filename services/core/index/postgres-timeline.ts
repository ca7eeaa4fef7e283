/**
 * The Postgres adapter of the TimelineSource port (timeline/types.ts): the patient and their studies
 * in one statement, their photographs with annotation counts in a second (sql/timeline.ts), both
 * limited to the caller's scope in SQL; rows become the timeline's JSON here (timeline/format.ts).
 */
import type pg from 'pg';
import type { AccessScope } from '../auth/policy.js';
import type { ConsentLevel } from '../capture/types.js';
import { codeJson, isoDate, isoLocalDateTime, isoTime, oneOf, personNameJson, personText, PHOTO_TAGS, text } from '../timeline/format.js';
import {
  MAX_TIMELINE_PHOTOS, type TimelinePatient, type TimelinePhoto, type TimelineRequest, type TimelineResult, type TimelineSource,
  type TimelineStudy,
} from '../timeline/types.js';
import { timelinePhotosSql, timelineStudiesSql, type TimelinePhotoRow, type TimelineStudyRow } from './sql/timeline.js';

export class PostgresTimeline implements TimelineSource {
  constructor(private readonly pool: pg.Pool, private readonly maxPhotos = MAX_TIMELINE_PHOTOS) {}

  async timeline(request: TimelineRequest, scope: AccessScope): Promise<TimelineResult> {
    const { rows: studies } = await this.pool.query<TimelineStudyRow>(timelineStudiesSql(request, scope));
    if (studies.length === 0) return { found: false, reason: 'not-found' };
    const patientPk = studies[0].patient_pk;
    if (studies.some((s) => s.patient_pk !== patientPk)) return { found: false, reason: 'ambiguous' };
    // One row more than the cap tells a truncated list from one that is exactly full.
    const { rows: photos } = await this.pool.query<TimelinePhotoRow>(timelinePhotosSql(patientPk, scope, this.maxPhotos + 1));
    return {
      found: true,
      timeline: {
        patient: patientOf(studies[0]),
        studies: studies.map(studyOf),
        photos: photos.slice(0, this.maxPhotos).map(photoOf),
        truncated: photos.length > this.maxPhotos,
      },
    };
  }
}

function patientOf(r: TimelineStudyRow): TimelinePatient {
  return {
    id: r.patient_id,
    issuer: r.issuer,
    name: personNameJson(r.patient_name),
    birthDate: isoDate(r.birth_date),
    sex: oneOf(r.sex, ['F', 'M', 'O'] as const),
  };
}

function studyOf(r: TimelineStudyRow): TimelineStudy {
  return {
    studyInstanceUID: r.study_uid,
    date: isoDate(r.study_date),
    time: isoTime(r.study_time),
    description: r.study_description,
    accessionNumber: r.accession_number,
    consent: r.consent_level === null ? null : {
      level: r.consent_level as ConsentLevel,
      status: r.consent_status === 'withdrawn' ? 'withdrawn' : 'given',
      recordedAt: r.consent_recorded_at!.toISOString(),
    },
  };
}

function photoOf(r: TimelinePhotoRow): TimelinePhoto {
  const a = r.attrs;
  const manufacturer = text(a, PHOTO_TAGS.Manufacturer);
  const model = text(a, PHOTO_TAGS.ManufacturerModelName);
  return {
    studyInstanceUID: r.study_uid,
    seriesInstanceUID: r.series_uid,
    sopInstanceUID: r.sop_uid,
    sopClassUID: r.sop_class_uid,
    instanceNumber: r.instance_number,
    seriesNumber: r.series_number,
    acquired: isoLocalDateTime(r.acquired),
    bodySite: codeJson(a, PHOTO_TAGS.AnatomicRegionSequence),
    // Image Laterality (0020,0062) of the photograph; the series' Laterality (0020,0060) for images without it.
    laterality: oneOf(text(a, PHOTO_TAGS.ImageLaterality) ?? r.series_laterality, ['R', 'L', 'B', 'U'] as const),
    view: codeJson(a, PHOTO_TAGS.ViewCodeSequence),
    seriesDescription: r.series_description,
    photographer: personText(a, PHOTO_TAGS.OperatorsName),
    institution: text(a, PHOTO_TAGS.InstitutionName),
    station: text(a, PHOTO_TAGS.StationName),
    camera: manufacturer === null && model === null ? null : { manufacturer, model },
    rows: r.rows,
    columns: r.columns,
    qa: r.qa ?? null,
    annotations: { calibrated: r.calibrated, measurements: r.measurements },
  };
}
