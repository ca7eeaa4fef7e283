/**
 * Normalised clinical context of a capture, whichever way it came in (capture API metadata or STOW-RS
 * DICOM JSON). Both ways produce these, and one function turns them into the converter's PhotoContext,
 * so the two ways yield equivalent instances.
 */

/** A coded concept (PS3.3 Table 8.8-1a): CodeValue, CodingSchemeDesignator, CodeMeaning. */
export interface CodedConcept {
  code: string;
  scheme: string;
  meaning: string;
}

export type ConsentLevel = 'record' | 'teaching' | 'publication';

export interface ConsentInput {
  level: ConsentLevel;
  /** Who took the consent (a person), as given by the capture station. */
  recordedBy: string;
  /** When consent was given; defaults to when the capture was received. */
  recordedAt?: Date;
}

export interface PatientDemographics {
  /** PatientID: the NHS number (10 digits, no spaces) when known, else the local hospital number. */
  patientId: string;
  /** IssuerOfPatientID: `NHS` for NHS numbers, else the local issuer. */
  issuer: string;
  /** The validated NHS number, when the patient has one. */
  nhsNumber?: string;
  /** Other identifiers (OtherPatientIDsSequence): the local hospital number when PatientID is the NHS number. */
  otherIds: { id: string; issuer: string }[];
  /** DICOM PN: `FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX`. */
  name: string;
  /** YYYYMMDD or '' when unknown. */
  birthDate: string;
  /** M, F, O or '' when unknown. */
  sex: '' | 'M' | 'F' | 'O';
}

/** Capture-wide context (one study). */
export interface CaptureContext {
  patient: PatientDemographics;
  study: {
    /** Attach to this existing study; otherwise a new study is created. */
    studyInstanceUID?: string;
    accessionNumber?: string;
    description?: string;
    referringPhysicianName?: string;
  };
  consent: ConsentInput;
  /** OperatorsName (PN) of the photographer. */
  photographer?: string;
  institutionName?: string;
  /** Studio (StationName). */
  stationName?: string;
  departmentName?: string;
  /** Free-text clinical note (ImageComments). */
  clinicalNote?: string;
}

/** Per-image (per-series group) clinical context. */
export interface ImageContext {
  bodySite?: CodedConcept;
  /** ImageLaterality: always sent, U when not applicable. */
  laterality: 'R' | 'L' | 'B' | 'U';
  view?: CodedConcept;
  seriesDescription?: string;
  /** RecognizableVisualFeatures YES (faces, tattoos). */
  recognizableVisualFeatures: boolean;
}

/** UIDs and numbers assigned by the capture service before conversion (so retries are idempotent). */
export interface InstanceIds {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  seriesNumber: number;
  instanceNumber: number;
  /** StudyDate/StudyTime come from the capture's creation (or the existing study's). */
  studyDate: string;
  studyTime: string;
  /** StudyID (SH, ≤ 16 chars). */
  studyId: string;
}
