/**
 * Which level of the DICOM information model (PS3.4 C.6.1 Patient Root / C.6.2 Study Root) an
 * attribute belongs to. The patients/studies/series rows keep the attributes of their level in
 * `attrs`; everything else is instance-level and lives only in `instances.metadata`.
 */
import type { DicomJson } from '../dicom/json.types.js';
import { TAG } from '../dicom/dictionary.js';

export type InformationLevel = 'patient' | 'study' | 'series' | 'instance';

/** Depth of each level; a query at level L may match on attributes of depth <= depth(L). */
export const LEVEL_DEPTH: Record<InformationLevel, number> = { patient: 0, study: 1, series: 2, instance: 3 };

/** SOPClassesInStudy (0008,0062); the dictionary's TAG table has no entry for it. */
export const SOP_CLASSES_IN_STUDY = '00080062';

/**
 * Attributes the archive computes from the index rather than stores (PS3.4 C.6.2.1.2-3, PS3.18
 * Tables 10.6.3-3..5): the study and series counts, ModalitiesInStudy, SOPClassesInStudy,
 * InstanceAvailability and RetrieveURL. QIDO-RS returns them from SQL or from the request, never
 * from `attrs`; of these it can match on ModalitiesInStudy and InstanceAvailability only.
 */
export const COMPUTED_TAGS: ReadonlySet<string> = new Set([
  TAG.ModalitiesInStudy, SOP_CLASSES_IN_STUDY, TAG.NumberOfStudyRelatedSeries, TAG.NumberOfStudyRelatedInstances,
  TAG.NumberOfSeriesRelatedInstances, TAG.InstanceAvailability, TAG.RetrieveURL,
]);

/** Computed attributes QIDO-RS can match on (sql/search-conditions.ts); the others are ignored with a warning. */
export const MATCHABLE_COMPUTED_TAGS: ReadonlySet<string> = new Set([TAG.ModalitiesInStudy, TAG.InstanceAvailability]);

/**
 * Attributes that describe whatever level is searched rather than one level (InstanceAvailability,
 * RetrieveURL): they are matched and returned at any query level.
 */
export const PER_MATCH_TAGS: ReadonlySet<string> = new Set([TAG.InstanceAvailability, TAG.RetrieveURL]);

/**
 * Copied into every level's attrs: each row's strings are interpreted with the character set of the
 * instance they came from (PS3.3 C.12.1.1.2), and PS3.18 Tables 10.6.3-3..5 return the timezone
 * offset at every level.
 */
export const SHARED_TAGS: ReadonlySet<string> = new Set([TAG.SpecificCharacterSet, TAG.TimezoneOffsetFromUTC]);

/**
 * Patient-level attributes outside group 0010 (every group-0010 attribute is patient-level unless it
 * is listed in STUDY_TAGS): Patient module (PS3.3 C.7.1.1) ReferencedPatientSequence; Clinical Trial
 * Subject module (C.7.1.3); de-identification attributes of the Patient module.
 */
const PATIENT_TAGS = new Set([
  '00081120', // ReferencedPatientSequence
  '00120010', '00120020', '00120021', '00120030', '00120031', '00120040', '00120042', // Clinical Trial Subject
  '00120062', '00120063', '00120064', // PatientIdentityRemoved, DeidentificationMethod(CodeSequence)
]);

/**
 * Study-level attributes: General Study module (PS3.3 C.7.2.1), Patient Study module (C.7.2.2, which
 * includes the group-0010 Patient's Age/Size/Weight...), Clinical Trial Study module (C.7.2.3), and the
 * study-level return keys of PS3.18 Table 10.6.3-3 / PS3.4 C.6.2.1.2 (ModalitiesInStudy, counts).
 */
const STUDY_TAGS = new Set([
  // General Study (C.7.2.1)
  '0020000D', '00080020', '00080030', '00080090', '00080096', '0008009C', '0008009D', '00200010', '00080050',
  '00080051', '00081030', '00081048', '00081049', '00081060', '00081062', '00321033', '00321034', '00081110',
  '00081032', '00401012',
  // Patient Study (C.7.2.2)
  '00081080', '00081084', '00101010', '00101020', '00101021', '00101022', '00101023', '00101024', '00101030',
  '00102180', '001021B0', '00380010', '00380014', '00380060', '00380062', '00380064', '00321066', '00321067',
  '00102203', '001021A0', '001021C0', '001021D0', '00380500',
  // Clinical Trial Study (C.7.2.3)
  '00120050', '00120051', '00120052', '00120053', '00120083',
  // Study-level keys computed by the archive (PS3.4 C.6.2.1.2): ModalitiesInStudy, SOPClassesInStudy, counts
  '00080061', '00080062', '00201206', '00201208',
]);

/**
 * Series-level attributes: General Series module (PS3.3 C.7.3.1), General Equipment module (C.7.5.1,
 * one piece of equipment per series), Clinical Trial Series module (C.7.3.2) and the series-level count
 * NumberOfSeriesRelatedInstances (PS3.4 C.6.2.1.3).
 */
const SERIES_TAGS = new Set([
  // General Series (C.7.3.1)
  '00080060', '0020000E', '00200011', '00200060', '00080021', '00080031', '00081050', '00081052', '00181030',
  '0008103E', '0008103F', '00081070', '00081072', '00081111', '00081250', '00180015', '00185100', '00280108',
  '00280109', '00400275', '00400253', '00400244', '00400245', '00400250', '00400251', '00400254', '00400260',
  '00400280', '00102210',
  // General Equipment (C.7.5.1)
  '00080070', '00080080', '00080081', '00081010', '00081040', '00081041', '00081090', '00181000', '00181020',
  '00181008', '0018100A', '0018100B', '00181050', '00181200', '00181201',
  // Clinical Trial Series (C.7.3.2)
  '00120060', '00120071', '00120072',
  // NumberOfSeriesRelatedInstances
  '00201209',
]);

/**
 * The information level an attribute belongs to. Shared tags (SpecificCharacterSet,
 * TimezoneOffsetFromUTC) are reported as 'study'. Unknown and private attributes are instance-level.
 */
export function attributeLevel(tag: string): InformationLevel {
  const t = tag.toUpperCase();
  if (STUDY_TAGS.has(t) || SHARED_TAGS.has(t)) return 'study';
  if (SERIES_TAGS.has(t)) return 'series';
  if (PATIENT_TAGS.has(t) || t.startsWith('0010')) return 'patient';
  return 'instance';
}

/**
 * Splits an instance's DICOM JSON into the attributes of its patient, study and series (PS3.3 modules
 * above); the shared tags go to all three. Instance-level attributes are left out (they stay in
 * `instances.metadata`). Top-level attributes only: sequences travel whole with their level.
 */
export function splitByLevel(metadata: DicomJson): { patient: DicomJson; study: DicomJson; series: DicomJson } {
  const patient: DicomJson = {};
  const study: DicomJson = {};
  const series: DicomJson = {};
  for (const [tag, attr] of Object.entries(metadata)) {
    if (SHARED_TAGS.has(tag)) {
      patient[tag] = attr;
      study[tag] = attr;
      series[tag] = attr;
      continue;
    }
    const level = attributeLevel(tag);
    if (level === 'patient') patient[tag] = attr;
    else if (level === 'study') study[tag] = attr;
    else if (level === 'series') series[tag] = attr;
  }
  return { patient, study, series };
}
