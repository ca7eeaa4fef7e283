/**
 * Characters the DICOM text VRs forbid (PS3.5 §6.2, Table 6.2-1). LO, SH and PN allow no control
 * characters (ESC only for ISO 2022 code extensions, which Unicode input never needs) and no
 * backslash (the value delimiter); PN components also exclude ^ and =. LT allows CR, LF, FF and ESC.
 */
/* eslint-disable no-control-regex -- matching control characters is the point of these patterns */

/**
 * Largest value length, in characters, of the text attributes the capture paths read (dicom-json.ts)
 * and write (context-dataset.ts), by keyword: the maximum of the attribute's VR (PS3.5 Table 6.2-1):
 * CS, SH 16; LO, UI, a PN component group 64; DA 8; TM 16; LT 10240.
 */
export const MAX_VALUE_LENGTH: Readonly<Record<string, number>> = {
  PatientName: 64, PatientID: 64, IssuerOfPatientID: 64, PatientBirthDate: 8, PatientSex: 16,
  StudyDate: 8, StudyTime: 16, StudyID: 16, AccessionNumber: 16, StudyDescription: 64, ReferringPhysicianName: 64,
  SeriesDescription: 64, ImageLaterality: 16, Laterality: 16, OperatorsName: 64, InstitutionName: 64,
  InstitutionalDepartmentName: 64, StationName: 16, ImageComments: 10240, RecognizableVisualFeatures: 16,
  StudyInstanceUID: 64, SeriesInstanceUID: 64, SOPInstanceUID: 64, SOPClassUID: 64,
  CodeValue: 16, CodingSchemeDesignator: 16, CodeMeaning: 64,
  ConsentForDistributionFlag: 16, DistributionType: 16,
  // UT, so without a VR limit: 64 is Lucida's, since the only value looked for is the NHS OID.
  UniversalEntityID: 64,
};

/** Characters not allowed in an LO or SH value. */
export const FORBIDDEN_IN_LO = /[\\\u0000-\u001f\u007f]/;

/**
 * A whole LO value as an identifier (PatientID, IssuerOfPatientID) named outside DICOM (a token's
 * claim, a launch request): 1 to 64 characters, none forbidden, no surrounding spaces (DICOM pads
 * and trims them, so such a value would never match what is stored).
 */
export const isLongStringIdentifier = (s: string): boolean =>
  s.length > 0 && s.length <= 64 && s.trim() === s && !FORBIDDEN_IN_LO.test(s);
/** Characters not allowed in an LT value. */
export const FORBIDDEN_IN_LT = /[\u0000-\u0009\u000b\u000e-\u001a\u001c-\u001f\u007f]/;
/** Characters not allowed in one PN component group (^ separates its components). */
export const FORBIDDEN_IN_PN_GROUP = /[=\\\u0000-\u001f\u007f]/;
