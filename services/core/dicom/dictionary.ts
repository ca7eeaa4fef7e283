/**
 * Attribute dictionary: keyword <-> tag <-> VR, backed by dcmjs's copy of PS3.6.
 * Tags are 8 upper-case hex digits ("00100010"), the form DICOM JSON (PS3.18 F.2) uses.
 */
import dcmjs from 'dcmjs';

const { DicomMetaDictionary } = dcmjs.data;

export interface AttributeInfo { tag: string; keyword: string; vr: string; vm: string }

const byTag = new Map<string, AttributeInfo>();
const byKeyword = new Map<string, AttributeInfo>();
// `dictionary` is a lazy proxy in dcmjs; `nameMap` is the enumerable copy.
for (const entry of Object.values(DicomMetaDictionary.nameMap)) {
  if (!/^\([0-9A-F]{4},[0-9A-F]{4}\)$/i.test(entry.tag) || !entry.name) continue;
  const info: AttributeInfo = {
    tag: entry.tag.replace(/[(),]/g, '').toUpperCase(),
    keyword: entry.name,
    vr: entry.vr,
    vm: entry.vm,
  };
  byTag.set(info.tag, info);
  if (!byKeyword.has(info.keyword)) byKeyword.set(info.keyword, info);
}

/** Looks up an attribute by 8-hex-digit tag; undefined for private or unknown tags. */
export function attributeByTag(tag: string): AttributeInfo | undefined {
  return byTag.get(tag.toUpperCase());
}

/**
 * Resolves a QIDO-style attribute reference (keyword or 8 hex digits) to a tag, or undefined.
 * Private tags (odd group) are returned as-is with VR 'UN' if written in hex.
 */
export function resolveAttribute(ref: string): AttributeInfo | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(ref)) {
    const tag = ref.toUpperCase();
    return byTag.get(tag) ?? { tag, keyword: tag, vr: 'UN', vm: '1' };
  }
  return byKeyword.get(ref);
}

/** Tag constants used across the codebase (8 hex digits). */
export const TAG = {
  TransferSyntaxUID: '00020010',
  MediaStorageSOPClassUID: '00020002',
  MediaStorageSOPInstanceUID: '00020003',
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  ContentDate: '00080023',
  AcquisitionDateTime: '0008002A',
  StudyTime: '00080030',
  ContentTime: '00080033',
  AccessionNumber: '00080050',
  InstanceAvailability: '00080056',
  Modality: '00080060',
  ModalitiesInStudy: '00080061',
  ReferringPhysicianName: '00080090',
  TimezoneOffsetFromUTC: '00080201',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  RetrieveURL: '00081190',
  FailedSOPSequence: '00081198',
  ReferencedSOPSequence: '00081199',
  ReferencedSOPClassUID: '00081150',
  ReferencedSOPInstanceUID: '00081155',
  WarningReason: '00081196',
  FailureReason: '00081197',
  PatientName: '00100010',
  PatientID: '00100020',
  IssuerOfPatientID: '00100021',
  OtherPatientIDsSequence: '00101002',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  BodyPartExamined: '00180015',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  Laterality: '00200060',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  SamplesPerPixel: '00280002',
  PhotometricInterpretation: '00280004',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
  PerformedProcedureStepStartDate: '00400244',
  PerformedProcedureStepStartTime: '00400245',
  PixelData: '7FE00010',
} as const;
