/**
 * WHERE conditions for QIDO-RS attribute matches (PS3.4 C.2.2.2 as PS3.18 §8.3.4 applies it).
 * Attributes with an index column are compared on that column, in the normal form of normalize.ts.
 * Other attributes are matched by jsonb containment on their level's `attrs` (instance level:
 * `metadata`), which the GIN jsonb_path_ops indexes serve: exact single values and UID lists only;
 * wildcard, range and fuzzy matching on them is ignored with a warning.
 */
import { TAG } from '../../dicom/dictionary.js';
import { DECIMAL_VRS, INTEGER_VRS, type AttributeMatch, type AttributeRef, type Range } from '../../qido/query.js';
import type { InformationLevel } from '../levels.js';
import {
  normalizeDateTime, normalizeDateTimeUpper, normalizeTime, normalizeTimeUpper, pnSearchKey, pnSearchPattern,
} from '../normalize.js';
import { escapeLike, type Params, wildcardToLike } from './statement.js';

type ColumnKind = 'text' | 'pn' | 'int' | 'da' | 'tm' | 'dt';
interface Column { expr: string; kind: ColumnKind }

/** Table aliases the search statement uses for each level. */
export const ALIAS: Record<InformationLevel, string> = { patient: 'p', study: 'st', series: 'se', instance: 'i' };
/** The jsonb column holding each level's attributes. */
export const ATTRS: Record<InformationLevel, string> = { patient: 'p.attrs', study: 'st.attrs', series: 'se.attrs', instance: 'i.metadata' };

/** Matching attributes with a column of their own (schemas/migrations/001_index.sql). */
const COLUMNS: Record<string, Column> = {
  [TAG.PatientID]: { expr: 'p.patient_id', kind: 'text' },
  [TAG.IssuerOfPatientID]: { expr: 'p.issuer', kind: 'text' },
  [TAG.PatientName]: { expr: 'p.patient_name_search', kind: 'pn' },
  [TAG.PatientBirthDate]: { expr: 'p.birth_date', kind: 'da' },
  [TAG.PatientSex]: { expr: 'p.sex', kind: 'text' },
  [TAG.StudyInstanceUID]: { expr: 'st.study_uid', kind: 'text' },
  [TAG.StudyDate]: { expr: 'st.study_date', kind: 'da' },
  [TAG.StudyTime]: { expr: 'st.study_time', kind: 'tm' },
  [TAG.AccessionNumber]: { expr: 'st.accession_number', kind: 'text' },
  [TAG.StudyID]: { expr: 'st.study_id', kind: 'text' },
  [TAG.StudyDescription]: { expr: 'st.study_description', kind: 'text' },
  [TAG.ReferringPhysicianName]: { expr: 'st.referring_physician_search', kind: 'pn' },
  [TAG.SeriesInstanceUID]: { expr: 'se.series_uid', kind: 'text' },
  [TAG.Modality]: { expr: 'se.modality', kind: 'text' },
  [TAG.SeriesNumber]: { expr: 'se.series_number', kind: 'int' },
  [TAG.SeriesDescription]: { expr: 'se.series_description', kind: 'text' },
  [TAG.PerformedProcedureStepStartDate]: { expr: 'se.pps_start_date', kind: 'da' },
  [TAG.PerformedProcedureStepStartTime]: { expr: 'se.pps_start_time', kind: 'tm' },
  [TAG.BodyPartExamined]: { expr: 'se.body_part_examined', kind: 'text' },
  [TAG.Laterality]: { expr: 'se.laterality', kind: 'text' },
  [TAG.SOPInstanceUID]: { expr: 'i.sop_uid', kind: 'text' },
  [TAG.SOPClassUID]: { expr: 'i.sop_class_uid', kind: 'text' },
  [TAG.InstanceNumber]: { expr: 'i.instance_number', kind: 'int' },
  [TAG.Rows]: { expr: 'i.rows', kind: 'int' },
  [TAG.Columns]: { expr: 'i.columns', kind: 'int' },
  [TAG.NumberOfFrames]: { expr: 'i.number_of_frames', kind: 'int' },
  [TAG.ContentDate]: { expr: 'i.content_date', kind: 'da' },
  [TAG.ContentTime]: { expr: 'i.content_time', kind: 'tm' },
  [TAG.AcquisitionDateTime]: { expr: 'i.acquisition_datetime', kind: 'dt' },
};

const INT32_MAX = 2_147_483_647;

/** A condition (SQL boolean expression), or undefined when the match filters nothing. */
export function matchCondition(m: AttributeMatch, params: Params, warnings: string[]): string | undefined {
  if (m.type === 'universal') return undefined;
  if (m.type === 'datetime-range') return dateTimeRange(m.date, m.time, m.dateRange, m.timeRange, params, warnings);
  const a = m.attribute;
  if (a.tag === TAG.ModalitiesInStudy) return modalitiesInStudy(m, params);
  if (a.tag === TAG.InstanceAvailability) return instanceAvailability(m);
  const column = COLUMNS[a.tag];
  if (!column) return containment(m, params, warnings);
  const col = column.expr;
  switch (m.type) {
    case 'single': return single(column, m.value, params);
    case 'list': return `${col} = ANY(${params.add(m.values, 'text[]')})`;
    case 'wildcard': {
      const pattern = column.kind === 'pn' ? pnSearchPattern(m.pattern) : m.pattern;
      return `${col} LIKE ${params.add(wildcardToLike(pattern))}`;
    }
    case 'range': return range(column, m.range, params);
    case 'fuzzy': {
      if (column.kind !== 'pn') return undefined;
      // PatientName: every query word is one of the stored word prefixes (GIN array containment).
      if (a.tag === TAG.PatientName) return `p.patient_name_prefixes @> ${params.add(m.words, 'text[]')}`;
      // Other PN columns: each word starts the value, a component (after '^') or a word (after ' ' or '-').
      return m.words.map((w) => {
        const word = escapeLike(w);
        const starts = ['', '%^', '% ', '%-'].map((before) => `${col} LIKE ${params.add(`${before}${word}%`)}`);
        return `(${starts.join(' OR ')})`;
      }).join(' AND ');
    }
  }
}

function single(column: Column, value: string, params: Params): string | undefined {
  const col = column.expr;
  switch (column.kind) {
    case 'pn': {
      // No Alphabetic name (e.g. '^'): the parser already made such a value universal.
      const key = pnSearchKey(value);
      return key === null ? undefined : `${col} = ${params.add(key)}`;
    }
    case 'int': {
      const n = Number(value);
      return Number.isSafeInteger(n) && Math.abs(n) <= INT32_MAX ? `${col} = ${params.add(n, 'int')}` : 'FALSE';
    }
    // A single TM/DT value names a period (PS3.4 C.2.2.2.5): match it as the range v-v.
    case 'tm':
    case 'dt': return range(column, { from: value, to: value }, params);
    default: return `${col} = ${params.add(value)}`;
  }
}

function bounds(kind: ColumnKind, r: Range): { lower?: string; upper?: string } {
  const lowerOf = kind === 'tm' ? normalizeTime : kind === 'dt' ? normalizeDateTime : (v: string) => v;
  const upperOf = kind === 'tm' ? normalizeTimeUpper : kind === 'dt' ? normalizeDateTimeUpper : (v: string) => v;
  return {
    ...(r.from !== undefined ? { lower: lowerOf(r.from) ?? undefined } : {}),
    ...(r.to !== undefined ? { upper: upperOf(r.to) ?? undefined } : {}),
  };
}

function range(column: Column, r: Range, params: Params): string {
  const { lower, upper } = bounds(column.kind, r);
  const parts: string[] = [];
  if (lower !== undefined) parts.push(`${column.expr} >= ${params.add(lower)}`);
  if (upper !== undefined) parts.push(`${column.expr} <= ${params.add(upper)}`);
  return parts.length ? parts.join(' AND ') : `${column.expr} IS NOT NULL`;
}

/**
 * Combined datetime range (PS3.4 C.2.2.2.5.1). Each date bound is a plain comparison, which the
 * (study_date, study_time) btree serves; a time bound only narrows its boundary date:
 * `date > d OR time >= t` (resp. `<`, `<=`). An empty (NULL) time counts as the whole day: on a
 * boundary date it matches whatever the time bound (query.ts module comment). A date bound without a
 * time bound covers its whole day.
 */
function dateTimeRange(date: AttributeRef, time: AttributeRef, dr: Range, tr: Range, params: Params, warnings: string[]): string | undefined {
  const dc = COLUMNS[date.tag];
  const tc = COLUMNS[time.tag];
  if (!dc || !tc) {
    warnings.push(`${date.keyword}/${time.keyword}: range matching on attributes without an index column is not supported; ignored`);
    return undefined;
  }
  const parts: string[] = [];
  if (dr.from !== undefined) {
    const d = params.add(dr.from);
    parts.push(`${dc.expr} >= ${d}`);
    const t = tr.from !== undefined ? normalizeTime(tr.from) : null;
    if (t !== null) parts.push(`(${dc.expr} > ${d} OR ${tc.expr} >= ${params.add(t)} OR ${tc.expr} IS NULL)`);
  }
  if (dr.to !== undefined) {
    const d = params.add(dr.to);
    parts.push(`${dc.expr} <= ${d}`);
    const t = tr.to !== undefined ? normalizeTimeUpper(tr.to) : null;
    if (t !== null) parts.push(`(${dc.expr} < ${d} OR ${tc.expr} <= ${params.add(t)} OR ${tc.expr} IS NULL)`);
  }
  return parts.join(' AND ');
}

/**
 * ModalitiesInStudy (PS3.4 C.6.2.1.2): studies with a series of any of the modalities, stored
 * instances only. Values may be wildcard patterns (query.ts); CS values never hold '*' or '?'.
 */
function modalitiesInStudy(m: AttributeMatch, params: Params): string | undefined {
  const values = m.type === 'list' ? m.values : m.type === 'single' ? [m.value] : m.type === 'wildcard' ? [m.pattern] : undefined;
  if (!values) return undefined;
  const modality = values.some((v) => /[*?]/.test(v))
    ? `ms.modality LIKE ANY(${params.add(values.map(wildcardToLike), 'text[]')})`
    : `ms.modality = ANY(${params.add(values, 'text[]')})`;
  return `EXISTS (SELECT 1 FROM series ms WHERE ms.study_fk = st.pk AND ${modality}
            AND EXISTS (SELECT 1 FROM instances mi WHERE mi.series_fk = ms.pk AND mi.status = 'stored'))`;
}

/** InstanceAvailability (0008,0056) is 'ONLINE' for everything this archive stores (PS3.18 Table 10.6.3-3). */
function instanceAvailability(m: AttributeMatch): string | undefined {
  const values = m.type === 'single' ? [m.value] : m.type === 'list' ? m.values : undefined;
  if (values) return values.includes('ONLINE') ? undefined : 'FALSE';
  if (m.type === 'wildcard') {
    const re = new RegExp(`^${m.pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return re.test('ONLINE') ? undefined : 'FALSE';
  }
  return undefined;
}

/** A DICOM JSON fragment that `attrs @>` finds when the attribute holds `value` among its values. */
function containmentValues(a: AttributeRef, value: string): unknown[] {
  if (a.vr === 'PN') return [{ Alphabetic: value }];
  // IS/DS may be JSON numbers or strings (PS3.18 F.2.3.1): accept either.
  if (a.vr === 'IS' || a.vr === 'DS') return [Number(value), value];
  if (INTEGER_VRS.has(a.vr) || DECIMAL_VRS.has(a.vr)) return [Number(value)];
  return [value];
}

function containment(m: AttributeMatch, params: Params, warnings: string[]): string | undefined {
  const a = (m as { attribute: AttributeRef }).attribute;
  const values = m.type === 'single' ? [m.value] : m.type === 'list' ? m.values : undefined;
  if (!values) {
    warnings.push(`${a.keyword}: ${m.type} matching is only supported on indexed attributes; ignored`);
    return undefined;
  }
  const jsonb = ATTRS[a.level];
  const alternatives = values.flatMap((v) => containmentValues(a, v))
    .map((v) => `${jsonb} @> ${params.add(JSON.stringify({ [a.tag]: { Value: [v] } }), 'jsonb')}`);
  return alternatives.length === 1 ? alternatives[0] : `(${alternatives.join(' OR ')})`;
}
