/**
 * What a QIDO-RS response returns for each match (PS3.18 §10.6.3.3), and turning a search row into
 * DICOM JSON (PS3.18 F.2):
 * - the level's required attributes (PS3.18 Tables 10.6.3-3, -4, -5); for a series search not scoped
 *   to a study, and an instance search not scoped to a study/series, also the study/series ones;
 * - every matching key (universal keys included: they are return keys, PS3.4 C.2.2.1.2);
 * - every includefield attribute found, or with includefield=all every attribute of the level and
 *   its parents.
 * Each attribute comes from the row of the level it belongs to (index/levels.ts), so a study's
 * PatientName is the patient row's, the same value the query matched on. Required and matching keys
 * without a value are returned with only their VR (Type 2 semantics); includefield attributes only
 * when present. Attributes holding a BulkDataURI are left out: QIDO-RS returns no bulk data, the
 * client retrieves it through WADO-RS metadata.
 * Computed attributes (index/levels.ts COMPUTED_TAGS) come from the statement or the request.
 * NumberOfFrames comes from the instances.number_of_frames column, the value QIDO-RS matches on:
 * 1 for a single-frame image whose metadata has no NumberOfFrames (index-rows.ts).
 */
import { attributeByTag, TAG } from '../dicom/dictionary.js';
import type { DicomJson, DicomJsonAttribute } from '../dicom/json.types.js';
import type { QidoLevel, QidoQuery } from '../qido/query.js';
import {
  attributeLevel, COMPUTED_TAGS, LEVEL_DEPTH, PER_MATCH_TAGS, SHARED_TAGS, SOP_CLASSES_IN_STUDY, type InformationLevel,
} from './levels.js';

type Presence = 'always' | 'if-present';

/** PS3.18 Table 10.6.3-3: study-level attributes of every study match. */
const STUDY_RETURN: ReadonlyArray<readonly [string, Presence]> = [
  [TAG.SpecificCharacterSet, 'if-present'], [TAG.StudyDate, 'always'], [TAG.StudyTime, 'always'],
  [TAG.AccessionNumber, 'always'], [TAG.InstanceAvailability, 'always'], [TAG.ModalitiesInStudy, 'always'],
  [TAG.ReferringPhysicianName, 'always'], [TAG.TimezoneOffsetFromUTC, 'if-present'], [TAG.RetrieveURL, 'always'],
  [TAG.PatientName, 'always'], [TAG.PatientID, 'always'], [TAG.PatientBirthDate, 'always'], [TAG.PatientSex, 'always'],
  [TAG.StudyInstanceUID, 'always'], [TAG.StudyID, 'always'], [TAG.NumberOfStudyRelatedSeries, 'always'],
  [TAG.NumberOfStudyRelatedInstances, 'always'],
];

/** PS3.18 Table 10.6.3-4: series-level attributes of every series match. */
const SERIES_RETURN: ReadonlyArray<readonly [string, Presence]> = [
  [TAG.SpecificCharacterSet, 'if-present'], [TAG.Modality, 'always'], [TAG.TimezoneOffsetFromUTC, 'if-present'],
  [TAG.SeriesDescription, 'always'], [TAG.RetrieveURL, 'always'], [TAG.SeriesInstanceUID, 'always'],
  [TAG.SeriesNumber, 'always'], [TAG.NumberOfSeriesRelatedInstances, 'always'],
  [TAG.PerformedProcedureStepStartDate, 'if-present'], [TAG.PerformedProcedureStepStartTime, 'if-present'],
  ['00400275', 'if-present'], // RequestAttributesSequence
];

/** PS3.18 Table 10.6.3-5: instance-level attributes of every instance match. */
const INSTANCE_RETURN: ReadonlyArray<readonly [string, Presence]> = [
  [TAG.SpecificCharacterSet, 'if-present'], [TAG.SOPClassUID, 'always'], [TAG.SOPInstanceUID, 'always'],
  [TAG.InstanceAvailability, 'always'], [TAG.TimezoneOffsetFromUTC, 'if-present'], [TAG.RetrieveURL, 'always'],
  [TAG.InstanceNumber, 'always'], [TAG.Rows, 'if-present'], [TAG.Columns, 'if-present'],
  [TAG.BitsAllocated, 'if-present'], [TAG.NumberOfFrames, 'if-present'],
];

/** The computed attributes the statement's study counts join (sql/search.ts) provides. */
const STUDY_COUNTED = new Set<string>([TAG.ModalitiesInStudy, TAG.NumberOfStudyRelatedSeries, TAG.NumberOfStudyRelatedInstances]);

export interface ReturnPlan {
  level: QidoLevel;
  /** includefield=all. */
  all: boolean;
  /** Tags to return, sorted; `always` ones come back with only a VR when they have no value. */
  tags: string[];
  always: ReadonlySet<string>;
  /** The attrs keys to fetch from each level's jsonb ('all': the whole object). */
  fetch: Partial<Record<InformationLevel, string[] | 'all'>>;
  /** Whether the statement computes the study counts and ModalitiesInStudy / the series count. */
  studyCounts: boolean;
  seriesCount: boolean;
  /** Whether the statement computes SOPClassesInStudy. */
  sopClasses: boolean;
  /** Whether the statement selects instances.number_of_frames (instance searches returning NumberOfFrames). */
  numberOfFrames: boolean;
}

/** One row of the search statement (sql/search.ts). */
export interface SearchRow {
  patient_id: string;
  study_uid: string;
  series_uid: string | null;
  sop_uid: string | null;
  p_attrs?: DicomJson | null;
  st_attrs?: DicomJson | null;
  se_attrs?: DicomJson | null;
  i_attrs?: DicomJson | null;
  study_series?: number;
  study_instances?: number;
  modalities?: string[];
  series_instances?: number;
  sop_classes?: string[];
  number_of_frames?: number | null;
}

/** The level whose row holds `tag` for a search at `level` (shared tags: the level searched). */
function sourceLevel(tag: string, level: QidoLevel): InformationLevel {
  return SHARED_TAGS.has(tag) || PER_MATCH_TAGS.has(tag) ? level : attributeLevel(tag);
}

/** Decides which attributes a search returns and where each comes from. Pure. */
export function planReturn(query: QidoQuery): ReturnPlan {
  const { level, scope } = query;
  const tags = new Map<string, Presence>();
  const add = (tag: string, presence: Presence) => {
    if (LEVEL_DEPTH[sourceLevel(tag, level)] > LEVEL_DEPTH[level]) return; // e.g. Modality in a study search
    if (tags.get(tag) !== 'always') tags.set(tag, presence);
  };
  const addAll = (list: ReadonlyArray<readonly [string, Presence]>) => list.forEach(([t, p]) => add(t, p));
  if (level === 'study' || scope.studyInstanceUID === undefined) addAll(STUDY_RETURN);
  if (level === 'series' || (level === 'instance' && scope.seriesInstanceUID === undefined)) addAll(SERIES_RETURN);
  if (level === 'instance') addAll(INSTANCE_RETURN);
  for (const m of query.matches) {
    if (m.type === 'datetime-range') { add(m.date.tag, 'always'); add(m.time.tag, 'always'); } else add(m.attribute.tag, 'always');
  }
  if (query.includeFields !== 'all') for (const t of query.includeFields) add(t, 'if-present');

  const all = query.includeFields === 'all';
  const fetch: Partial<Record<InformationLevel, string[] | 'all'>> = {};
  for (const lvl of ['patient', 'study', 'series', 'instance'] as const) {
    if (LEVEL_DEPTH[lvl] <= LEVEL_DEPTH[level]) fetch[lvl] = all ? 'all' : [];
  }
  for (const tag of tags.keys()) {
    if (COMPUTED_TAGS.has(tag)) continue;
    const keys = fetch[sourceLevel(tag, level)];
    if (Array.isArray(keys)) keys.push(tag);
  }
  const sorted = [...tags.keys()].sort();
  return {
    level,
    all,
    tags: sorted,
    always: new Set(sorted.filter((t) => tags.get(t) === 'always')),
    fetch,
    studyCounts: sorted.some((t) => STUDY_COUNTED.has(t)),
    seriesCount: tags.has(TAG.NumberOfSeriesRelatedInstances),
    sopClasses: tags.has(SOP_CLASSES_IN_STUDY),
    numberOfFrames: level === 'instance' && tags.has(TAG.NumberOfFrames),
  };
}

/** The VR to state for an attribute returned without a value. */
function vrOf(tag: string): string {
  const vr = attributeByTag(tag)?.vr ?? 'UN';
  return ({ xs: 'US', ox: 'OW', up: 'UL', lt: 'OW', na: 'UN' } as Record<string, string>)[vr] ?? vr;
}

/** Builds the DICOM JSON of one match, attributes sorted by tag (PS3.18 F.2.1). */
export function toDicomJson(row: SearchRow, plan: ReturnPlan, retrieveBase: string): DicomJson {
  const { level } = plan;
  const sources: Record<InformationLevel, DicomJson> = {
    patient: row.p_attrs ?? {}, study: row.st_attrs ?? {}, series: row.se_attrs ?? {}, instance: row.i_attrs ?? {},
  };
  const out: DicomJson = {};
  const put = (tag: string, attr: DicomJsonAttribute | undefined): boolean => {
    if (!attr || attr.BulkDataURI !== undefined) return false;
    out[tag] = attr;
    return true;
  };
  if (plan.all) {
    for (const lvl of ['patient', 'study', 'series', 'instance'] as const) {
      for (const [tag, attr] of Object.entries(sources[lvl])) if (sourceLevel(tag, level) === lvl) put(tag, attr);
    }
  }
  for (const tag of plan.tags) {
    const computed = computedAttribute(tag, row, level, retrieveBase);
    if (computed) { out[tag] = computed; continue; }
    if (COMPUTED_TAGS.has(tag)) continue;
    if (!put(tag, sources[sourceLevel(tag, level)][tag]) && plan.always.has(tag)) out[tag] = { vr: vrOf(tag) };
  }
  const sorted: DicomJson = {};
  for (const tag of Object.keys(out).sort()) sorted[tag] = out[tag];
  return sorted;
}

function computedAttribute(tag: string, row: SearchRow, level: QidoLevel, retrieveBase: string): DicomJsonAttribute | undefined {
  switch (tag) {
    case TAG.RetrieveURL: {
      let url = `${retrieveBase}/studies/${row.study_uid}`;
      if (level !== 'study') url += `/series/${row.series_uid}`;
      if (level === 'instance') url += `/instances/${row.sop_uid}`;
      return { vr: 'UR', Value: [url] };
    }
    case TAG.InstanceAvailability: return { vr: 'CS', Value: ['ONLINE'] };
    case TAG.ModalitiesInStudy:
      return row.modalities && row.modalities.length ? { vr: 'CS', Value: row.modalities } : { vr: 'CS' };
    case TAG.NumberOfStudyRelatedSeries: return { vr: 'IS', Value: [row.study_series ?? 0] };
    case TAG.NumberOfStudyRelatedInstances: return { vr: 'IS', Value: [row.study_instances ?? 0] };
    case TAG.NumberOfSeriesRelatedInstances: return { vr: 'IS', Value: [row.series_instances ?? 0] };
    case SOP_CLASSES_IN_STUDY:
      return row.sop_classes && row.sop_classes.length ? { vr: 'UI', Value: row.sop_classes } : { vr: 'UI' };
    // Not computed: the column's value when there is one (the metadata's may be absent), see the module comment.
    case TAG.NumberOfFrames:
      return row.number_of_frames !== undefined && row.number_of_frames !== null ? { vr: 'IS', Value: [row.number_of_frames] } : undefined;
    default: return undefined;
  }
}
