/**
 * THE one place that turns a capture's normalised context into the converter's dataset (dcmjs
 * naturalized keywords, services/core/photo PhotoContext.dataset). The capture API and STOW-RS JSON
 * both come through here, which is what makes the two ways in yield equivalent instances.
 *
 * Consent is deliberately not written: it changes over time (withdrawal) while stored instances must
 * not, so the authoritative record is in the database and consent goes into DICOM only on export.
 */
import { LucidaError } from '../errors.js';
import type { NaturalDataset } from '../photo/types.js';
import { lateralityConcept } from './codes.js';
import { MAX_VALUE_LENGTH } from './dicom-text.js';
import { NHS_NUMBER_ISSUER_OID } from './nhs-number.js';
import type { CaptureContext, CodedConcept, ImageContext, InstanceIds } from './types.js';

/** A Code Sequence Macro item (PS3.3 Table 8.8-1a). */
function codeItem(c: CodedConcept): NaturalDataset {
  return { CodeValue: c.code, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning };
}

/**
 * The patient, study, series, instance and clinical attributes of one photograph, for the converter
 * (VL Photographic Image, PS3.3 A.32.4):
 * - Patient: PatientID is the NHS number (IssuerOfPatientID NHS, with IssuerOfPatientIDQualifiersSequence
 *   naming the NHS OID, Identifier Type Code NH) when known, the local number otherwise; other numbers
 *   go in OtherPatientIDsSequence.
 * - Type 2 attributes are always present, empty when unknown (PatientName, PatientBirthDate, PatientSex,
 *   ReferringPhysicianName, AccessionNumber, AcquisitionContextSequence...).
 * - AnatomicRegionSequence carries the site with, for R/L/B, the CID 244 laterality in
 *   AnatomicRegionModifierSequence (Type 3 in the VL Image Module; CID 4029 note: laterality is
 *   factored out of dermatology sites and encoded as a modifier); ImageLaterality is always sent (U
 *   when not applicable), which satisfies the Laterality 2C condition.
 * @throws LucidaError INTERNAL when the ids contradict the context or a value exceeds its VR (a bug
 *   in the caller: both parsers guarantee the limits).
 */
export function photoContextDataset(capture: CaptureContext, image: ImageContext, ids: InstanceIds): NaturalDataset {
  const { patient, study } = capture;
  if (study.studyInstanceUID !== undefined && study.studyInstanceUID !== ids.studyInstanceUID) {
    throw new LucidaError('INTERNAL', 'the capture names a study other than the one the ids were assigned for');
  }
  const ds: NaturalDataset = {
    PatientName: patient.name,
    PatientID: patient.patientId,
    IssuerOfPatientID: patient.issuer,
  };
  if (patient.nhsNumber !== undefined || patient.issuer === 'NHS') {
    ds.IssuerOfPatientIDQualifiersSequence = [{
      UniversalEntityID: NHS_NUMBER_ISSUER_OID, UniversalEntityIDType: 'ISO', IdentifierTypeCode: 'NH',
    }];
  }
  if (patient.otherIds.length) {
    ds.OtherPatientIDsSequence = patient.otherIds.map((o) => ({ PatientID: o.id, IssuerOfPatientID: o.issuer, TypeOfPatientID: 'TEXT' }));
  }
  Object.assign(ds, {
    PatientBirthDate: patient.birthDate,
    PatientSex: patient.sex,
    StudyInstanceUID: ids.studyInstanceUID,
    StudyDate: ids.studyDate,
    StudyTime: ids.studyTime,
    StudyID: ids.studyId,
    AccessionNumber: study.accessionNumber ?? '',
    ReferringPhysicianName: study.referringPhysicianName ?? '',
    SeriesInstanceUID: ids.seriesInstanceUID,
    SeriesNumber: ids.seriesNumber,
    SOPInstanceUID: ids.sopInstanceUID,
    InstanceNumber: ids.instanceNumber,
    ImageLaterality: image.laterality,
    RecognizableVisualFeatures: image.recognizableVisualFeatures ? 'YES' : 'NO',
    AcquisitionContextSequence: [],
  });
  if (study.description) ds.StudyDescription = study.description;
  if (image.seriesDescription) ds.SeriesDescription = image.seriesDescription;
  if (image.bodySite) {
    const region = codeItem(image.bodySite);
    const side = lateralityConcept(image.laterality);
    if (side) region.AnatomicRegionModifierSequence = [codeItem(side)];
    ds.AnatomicRegionSequence = [region];
  }
  if (image.view) ds.ViewCodeSequence = [codeItem(image.view)];
  if (capture.photographer) ds.OperatorsName = capture.photographer;
  if (capture.institutionName) ds.InstitutionName = capture.institutionName;
  if (capture.departmentName) ds.InstitutionalDepartmentName = capture.departmentName;
  if (capture.stationName) ds.StationName = capture.stationName;
  if (capture.clinicalNote) ds.ImageComments = capture.clinicalNote;
  checkLengths(ds);
  return ds;
}

function checkLengths(ds: NaturalDataset): void {
  for (const [keyword, value] of Object.entries(ds)) {
    if (Array.isArray(value)) value.forEach((item) => checkLengths(item as NaturalDataset));
    else if (typeof value === 'string' && value.length > (MAX_VALUE_LENGTH[keyword] ?? Infinity)) {
      throw new LucidaError('INTERNAL', `${keyword} is longer than its value representation allows`);
    }
  }
}
