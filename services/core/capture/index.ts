/**
 * Capture domain: what capture stations and STOW-RS clients say about their photographs, checked
 * and normalised (pure code: no HTTP, no SQL). The capture service and its port live beside it.
 */
export { normalizeNhsNumber, isValidNhsNumber, NHS_NUMBER_ISSUER_OID } from './nhs-number.js';
export {
  findAnatomicSite, findView, lateralityConcept, lateralityFromCode, toCodedConcept,
  ANATOMIC_SITES, VIEWS_SUPPORTED, CID_244_LATERALITY,
  CID_4029_DERMATOLOGY_ANATOMIC_SITE, CID_4031_COMMON_ANATOMIC_REGION, CID_4028_CRANIOFACIAL_ANATOMIC_REGION,
  CID_4062_VL_VIEW, CID_4063_VL_DENTAL_VIEW,
} from './codes.js';
export type { SupportedCode, CodingScheme, ImageLaterality } from './codes.js';
export { parseCaptureMetadata, hasPatient } from './metadata.js';
export type { ParsedCapture, CaptureContextWithoutPatient, ParseCaptureOptions } from './metadata.js';
export { parsePhotoDicomJson, VL_PHOTOGRAPHIC_IMAGE_STORAGE } from './dicom-json.js';
export type { ParsedPhotoDicomJson, PhotoInstanceIds } from './dicom-json.js';
export { photoContextDataset } from './context-dataset.js';
export type { MetadataError } from './validation-errors.js';
export type * from './types.js';
