/**
 * The column values the index stores for one instance, derived from its DICOM JSON with the same
 * normal forms QIDO-RS queries use (normalize.ts).
 */
import { TAG } from '../dicom/dictionary.js';
import type { DicomJson } from '../dicom/json.types.js';
import { firstInteger, firstPersonName, firstString } from '../dicom/index.js';
import { LucidaError } from '../errors.js';
import { splitByLevel } from './levels.js';
import {
  normalizeDate, normalizeDateTime, normalizeTime, personNameText, pnSearchKey, pnWordPrefixes,
} from './normalize.js';

export interface PatientRow {
  patientId: string; issuer: string; patientName: string | null; patientNameSearch: string | null;
  patientNamePrefixes: string[];
  birthDate: string | null; sex: string | null; attrs: DicomJson;
}
export interface StudyRow {
  studyUID: string; studyDate: string | null; studyTime: string | null; accessionNumber: string | null;
  studyId: string | null; studyDescription: string | null; referringPhysicianSearch: string | null; attrs: DicomJson;
}
export interface SeriesRow {
  seriesUID: string; modality: string | null; seriesNumber: number | null; seriesDescription: string | null;
  ppsStartDate: string | null; ppsStartTime: string | null; bodyPartExamined: string | null;
  laterality: string | null; attrs: DicomJson;
}
export interface InstanceRow {
  sopInstanceUID: string; sopClassUID: string | null; instanceNumber: number | null; rows: number | null;
  columns: number | null; numberOfFrames: number | null; contentDate: string | null; contentTime: string | null;
  acquisitionDateTime: string | null; metadata: DicomJson;
}
export interface IndexRows { patient: PatientRow; study: StudyRow; series: SeriesRow; instance: InstanceRow }

const str = (json: DicomJson, tag: string): string | null => firstString(json, tag)?.trim() || null;

/**
 * Derives the patient, study, series and instance column values of one instance.
 * Throws INVALID_DICOM when a Type 1 UID the index keys on is missing.
 */
export function toIndexRows(metadata: DicomJson): IndexRows {
  const uid = (tag: string, name: string): string => {
    const v = str(metadata, tag);
    if (!v) throw new LucidaError('INVALID_DICOM', `${name} is missing`);
    return v;
  };
  const levels = splitByLevel(metadata);
  const patientName = firstPersonName(metadata, TAG.PatientName);
  return {
    patient: {
      patientId: str(metadata, TAG.PatientID) ?? '',
      issuer: str(metadata, TAG.IssuerOfPatientID) ?? '',
      patientName: personNameText(patientName),
      patientNameSearch: pnSearchKey(patientName),
      patientNamePrefixes: pnWordPrefixes(patientName),
      birthDate: normalizeDate(firstString(metadata, TAG.PatientBirthDate)),
      sex: str(metadata, TAG.PatientSex),
      attrs: levels.patient,
    },
    study: {
      studyUID: uid(TAG.StudyInstanceUID, 'StudyInstanceUID'),
      studyDate: normalizeDate(firstString(metadata, TAG.StudyDate)),
      studyTime: normalizeTime(firstString(metadata, TAG.StudyTime)),
      accessionNumber: str(metadata, TAG.AccessionNumber),
      studyId: str(metadata, TAG.StudyID),
      studyDescription: str(metadata, TAG.StudyDescription),
      referringPhysicianSearch: pnSearchKey(firstPersonName(metadata, TAG.ReferringPhysicianName)),
      attrs: levels.study,
    },
    series: {
      seriesUID: uid(TAG.SeriesInstanceUID, 'SeriesInstanceUID'),
      modality: str(metadata, TAG.Modality),
      seriesNumber: firstInteger(metadata, TAG.SeriesNumber) ?? null,
      seriesDescription: str(metadata, TAG.SeriesDescription),
      ppsStartDate: normalizeDate(firstString(metadata, TAG.PerformedProcedureStepStartDate)),
      ppsStartTime: normalizeTime(firstString(metadata, TAG.PerformedProcedureStepStartTime)),
      bodyPartExamined: str(metadata, TAG.BodyPartExamined),
      laterality: str(metadata, TAG.Laterality),
      attrs: levels.series,
    },
    instance: {
      sopInstanceUID: uid(TAG.SOPInstanceUID, 'SOPInstanceUID'),
      sopClassUID: str(metadata, TAG.SOPClassUID),
      instanceNumber: firstInteger(metadata, TAG.InstanceNumber) ?? null,
      rows: firstInteger(metadata, TAG.Rows) ?? null,
      columns: firstInteger(metadata, TAG.Columns) ?? null,
      // The column holds 1 for single-frame images (NumberOfFrames absent but pixel rows present).
      numberOfFrames: firstInteger(metadata, TAG.NumberOfFrames) ?? (metadata[TAG.Rows] ? 1 : null),
      contentDate: normalizeDate(firstString(metadata, TAG.ContentDate)),
      contentTime: normalizeTime(firstString(metadata, TAG.ContentTime)),
      acquisitionDateTime: normalizeDateTime(firstString(metadata, TAG.AcquisitionDateTime)),
      metadata,
    },
  };
}
