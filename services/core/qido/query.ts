/**
 * QIDO-RS query parameters (PS3.18 §8.3.4, §10.6.1.2) parsed into a typed query expression.
 * No SQL here: the index adapter turns a QidoQuery into SQL (services/core/index/sql/search.ts).
 *
 * Matching types (PS3.4 C.2.2.2, as PS3.18 §8.3.4.1 applies them to QIDO-RS):
 * - Universal: an empty value (or '*' alone, for VRs that allow wildcards) filters nothing and only
 *   asks for the attribute to be returned (PS3.4 C.2.2.2.3).
 * - Single Value: exact match (PS3.4 C.2.2.2.1).
 *   For TM and DT a single value denotes the whole period it names ('14' = 14:00:00–14:59:59.999999),
 *   i.e. it is matched as the range v-v.
 * - Wildcard: '*' (any sequence) and '?' (one character) for AE, CS, LO, LT, PN, SH, ST, UC, UR, UT
 *   (PS3.4 C.2.2.2.4); never for UI. Case-sensitive except for the PN attributes with an index
 *   column (below). Attributes without an index column take exact values only (wildcards: warning).
 * - Person names (PN): only the Alphabetic component group is matched, i.e. the value up to the
 *   first '=' ('Yamada*=山田*' matches as 'Yamada*'). A value whose Alphabetic group is empty once
 *   trailing '^' and spaces are dropped ('^', '=山田') filters nothing (universal, with a warning).
 *   PatientName and ReferringPhysicianName have index columns holding the upper-cased Alphabetic
 *   group (index/normalize.ts pnSearchKey): they match case-insensitively, as PS3.4 C.2.2.2.1
 *   permits for PN, values and patterns normalised the same way. Other PN attributes (e.g.
 *   OperatorsName) are matched by jsonb containment: exact and CASE-SENSITIVE on the Alphabetic group.
 * - List of UID: UI values separated by '\' or ',' (PS3.4 C.2.2.2.2, PS3.18 §8.3.4.1).
 * - Range: DA, TM, DT as 'a-b', 'a-' or '-b', inclusive (PS3.4 C.2.2.2.5).
 * - Combined date-time range: when a date attribute and its time attribute (StudyDate+StudyTime,
 *   SeriesDate+SeriesTime, ContentDate+ContentTime, PerformedProcedureStepStartDate+...Time) are BOTH
 *   ranges (contain '-'), they are matched as one datetime range, as PS3.4 C.2.2.2.5.1 describes for
 *   combined datetime matching: `StudyDate=20231231-20240110&StudyTime=2300-0930` means from
 *   2023-12-31 23:00 to 2024-01-10 09:30:59.999999. A missing time bound defaults to the start/end of
 *   the day; a time bound without the matching date bound is dropped (a warning says so). If only one
 *   of the two is a range, the attributes are matched independently. An entity whose time is empty
 *   (NULL) matches if its date is within the date range: its time counts as the whole day, so on a
 *   boundary date it matches whatever the time bound.
 * - ModalitiesInStudy: any of several values ('CT,XC' or 'CT\XC'); a value may be a CS wildcard
 *   pattern ('C*'); '*' alone is universal. Matches studies with a stored series of that modality.
 * - Fuzzy matching (`fuzzymatching=true`, PS3.18 §8.3.4.2 leaves the algorithm to the server): a PN
 *   value is split into words on spaces, '^', ',' and '-' (index/normalize.ts pnWords); wildcard
 *   characters are dropped; a name matches if every word is a case-insensitive prefix of some word of
 *   its Alphabetic group, i.e. of a name component (family, given, middle...) or of a word inside one:
 *   'jo sm' matches 'Smith^John', 'mar' matches 'Smithers^Anna^Marie', 'ith' matches nothing.
 *   It applies to PatientName and ReferringPhysicianName; other PN attributes ignore it (warning).
 * - Sequence attributes and attribute paths into sequences ('00400275.00400009') cannot be matched:
 *   ignored with a warning (PS3.18 §8.3.4.1 lets the server ignore unsupported keys; the HTTP layer
 *   reports `warnings` in a Warning header). Attributes of a lower level than the query (e.g. Modality
 *   in a study search) are ignored with a warning too; attributes of higher levels are matched
 *   (relational queries, PS3.18 §10.6.1.2.3).
 */
import { resolveAttribute, TAG } from '../dicom/dictionary.js';
import { LucidaError } from '../errors.js';
import {
  attributeLevel, COMPUTED_TAGS, LEVEL_DEPTH, MATCHABLE_COMPUTED_TAGS, PER_MATCH_TAGS, type InformationLevel,
} from '../index/levels.js';
import { isDicomDate } from '../dicom/index.js';
import { isValidDateTime, isValidTime, pnWords } from '../index/normalize.js';

export type QidoLevel = 'study' | 'series' | 'instance';

/** The resource path the query was addressed to: /studies/{study}/series/{series}/instances... */
export interface QidoScope { studyInstanceUID?: string; seriesInstanceUID?: string }

/** A resolved matching attribute. `level` is where the index keeps it (see index/levels.ts). */
export interface AttributeRef { tag: string; keyword: string; vr: string; level: InformationLevel }

/** An inclusive range; either end may be open. Values are validated but not normalised. */
export interface Range { from?: string; to?: string }

export type AttributeMatch =
  /** Empty value: return the attribute, filter nothing (PS3.4 C.2.2.2.3). */
  | { type: 'universal'; attribute: AttributeRef }
  /** Exact value (PN: case-insensitive; TM/DT: the period the value names). */
  | { type: 'single'; attribute: AttributeRef; value: string }
  /** DICOM pattern with '*' and '?' (PS3.4 C.2.2.2.4), unescaped. */
  | { type: 'wildcard'; attribute: AttributeRef; pattern: string }
  /**
   * Any of the values: List of UID matching (PS3.4 C.2.2.2.2), also used for ModalitiesInStudy, whose
   * values may be wildcard patterns.
   */
  | { type: 'list'; attribute: AttributeRef; values: string[] }
  /** DA/TM/DT range (PS3.4 C.2.2.2.5). */
  | { type: 'range'; attribute: AttributeRef; range: Range }
  /** Combined DA+TM range (PS3.4 C.2.2.2.5.1); `time` may be absent at either end. */
  | { type: 'datetime-range'; date: AttributeRef; time: AttributeRef; dateRange: Range; timeRange: Range }
  /** fuzzymatching=true on a PN attribute: every word is a prefix of some name component. */
  | { type: 'fuzzy'; attribute: AttributeRef; words: string[] };

export interface QidoQuery {
  level: QidoLevel;
  scope: QidoScope;
  matches: AttributeMatch[];
  /** Tags named by includefield (PS3.18 §8.3.4.3), or 'all'. */
  includeFields: ReadonlySet<string> | 'all';
  limit: number;
  offset: number;
  /** Keys the server ignored or adjusted, for the Warning header (PS3.18 §8.3.4.1, §8.3.4.4). */
  warnings: string[];
}

export interface QidoParseOptions { defaultLimit: number; maxLimit: number }

/** Query parameters that are not attribute matches (PS3.18 §8.3.3, §8.3.4). */
const CONTROL_PARAMS = new Set(['includefield', 'fuzzymatching', 'limit', 'offset']);
/** Media type and charset query parameters (PS3.18 §8.3.3.1): the HTTP layer handles them. */
const HTTP_PARAMS = new Set(['accept', 'charset']);

const WILDCARD_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UR', 'UT']);
const RANGE_VRS = new Set(['DA', 'TM', 'DT']);
/** VRs matched as integers / as decimal numbers (also used by the SQL side, index/sql/search-conditions.ts). */
export const INTEGER_VRS: ReadonlySet<string> = new Set(['IS', 'US', 'SS', 'UL', 'SL', 'UV', 'SV', 'xs']);
export const DECIMAL_VRS: ReadonlySet<string> = new Set(['DS', 'FL', 'FD']);
const TEXT_VRS = new Set([...WILDCARD_VRS, 'AS', 'UI', 'DA', 'TM', 'DT']);

/** Date attribute → its time attribute, for combined datetime range matching. */
const DATE_TIME_PAIRS: ReadonlyArray<readonly [string, string]> = [
  [TAG.StudyDate, TAG.StudyTime],
  ['00080021', '00080031'], // SeriesDate, SeriesTime
  [TAG.ContentDate, TAG.ContentTime],
  [TAG.PerformedProcedureStepStartDate, TAG.PerformedProcedureStepStartTime],
];

const invalid = (detail: string) => new LucidaError('INVALID_QUERY', detail);

/**
 * Parses QIDO-RS query parameters for a search at `level` within `scope`.
 * Throws LucidaError('INVALID_QUERY') for client mistakes (unknown attribute keywords, malformed
 * dates/times/UIDs/numbers, bad limit/offset, a key given twice, a NUL anywhere); unsupported but well-formed keys are
 * ignored with an entry in `warnings`.
 */
export function parseQidoQuery(
  level: QidoLevel,
  params: URLSearchParams,
  scope: QidoScope,
  opts: QidoParseOptions,
): QidoQuery {
  const warnings: string[] = [];
  // No DICOM value holds a NUL (it is only padding), and Postgres text cannot: refused here, not failed in SQL.
  for (const [key, value] of params) {
    if (key.includes('\0') || value.includes('\0')) throw invalid(`${key.includes('\0') ? 'a parameter name' : key}: NUL (%00) is not allowed`);
  }
  const fuzzyMatching = parseFuzzy(params.getAll('fuzzymatching'));
  const limit = parseCount('limit', params.getAll('limit'), opts.defaultLimit);
  const cappedLimit = Math.min(limit, opts.maxLimit);
  if (cappedLimit < limit && params.has('limit')) warnings.push(`limit ${limit} exceeds the maximum ${opts.maxLimit}; at most ${opts.maxLimit} results are returned`);
  const offset = parseCount('offset', params.getAll('offset'), 0);
  const includeFields = parseIncludeFields(params.getAll('includefield'));

  const seen = new Set<string>();
  const raw: { attribute: AttributeRef; value: string }[] = [];
  for (const [key, rawValue] of params) {
    if (CONTROL_PARAMS.has(key) || HTTP_PARAMS.has(key)) continue;
    const path = key.split('.');
    const attributes = path.map(resolveRef);
    const attribute = attributes[0];
    const id = attributes.map((a) => a.tag).join('.');
    if (seen.has(id)) throw invalid(`${key} is given more than once`);
    seen.add(id);
    const value = rawValue.trim();
    if (LEVEL_DEPTH[attribute.level] > LEVEL_DEPTH[level] && !PER_MATCH_TAGS.has(attribute.tag)) {
      warnings.push(`${key}: not a ${level}-level attribute; ignored`);
      continue;
    }
    if (path.length > 1 || attribute.vr === 'SQ') {
      // An empty value is a return key: the whole top-level sequence comes back.
      if (value === '') raw.push({ attribute, value });
      else warnings.push(`${key}: matching on sequence attributes is not supported; ignored`);
      continue;
    }
    raw.push({ attribute, value });
  }

  const matches = combineDateTimeRanges(raw, warnings)
    .map((m) => ('type' in m ? m : toMatch(m.attribute, m.value, fuzzyMatching, warnings)))
    .filter((m): m is AttributeMatch => m !== undefined);
  return { level, scope, matches, includeFields, limit: cappedLimit, offset, warnings };
}

function resolveRef(ref: string): AttributeRef {
  const info = resolveAttribute(ref);
  if (!info) throw invalid(`unknown attribute ${ref}`);
  return { tag: info.tag, keyword: info.keyword, vr: info.vr, level: attributeLevel(info.tag) };
}

function parseFuzzy(values: string[]): boolean {
  if (values.length > 1) throw invalid('fuzzymatching is given more than once');
  if (values.length === 0) return false;
  if (values[0] === 'true') return true;
  if (values[0] === 'false') return false;
  throw invalid(`fuzzymatching must be true or false, not ${JSON.stringify(values[0])}`);
}

function parseCount(name: string, values: string[], fallback: number): number {
  if (values.length > 1) throw invalid(`${name} is given more than once`);
  if (values.length === 0) return fallback;
  const v = values[0].trim();
  if (!/^\d{1,15}$/.test(v)) throw invalid(`${name} must be a non-negative integer, not ${JSON.stringify(values[0])}`);
  return Number(v);
}

/** includefield may repeat and hold comma-separated lists (PS3.18 §8.3.4.3); 'all' wins. */
function parseIncludeFields(values: string[]): ReadonlySet<string> | 'all' {
  const tags = new Set<string>();
  let all = false;
  for (const item of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')) {
    if (item === 'all') { all = true; continue; }
    // An attribute path names an item attribute: return the whole top-level sequence.
    tags.add(item.split('.').map(resolveRef)[0].tag);
  }
  return all ? 'all' : tags;
}

type RawMatch = { attribute: AttributeRef; value: string };

/** Replaces a (date range, time range) pair by one 'datetime-range' match; see the module comment. */
function combineDateTimeRanges(raw: RawMatch[], warnings: string[]): Array<RawMatch | AttributeMatch> {
  const out: Array<RawMatch | AttributeMatch> = [...raw];
  for (const [dateTag, timeTag] of DATE_TIME_PAIRS) {
    const di = out.findIndex((m) => !('type' in m) && m.attribute.tag === dateTag);
    const ti = out.findIndex((m) => !('type' in m) && m.attribute.tag === timeTag);
    if (di < 0 || ti < 0) continue;
    const date = out[di] as RawMatch;
    const time = out[ti] as RawMatch;
    if (!date.value.includes('-') || !time.value.includes('-')) continue;
    const dateRange = parseRange(date.attribute, date.value);
    const timeRange = parseRange(time.attribute, time.value);
    if (timeRange.from !== undefined && dateRange.from === undefined) {
      warnings.push(`${time.attribute.keyword}: lower time bound without a lower date bound; ignored`);
      delete timeRange.from;
    }
    if (timeRange.to !== undefined && dateRange.to === undefined) {
      warnings.push(`${time.attribute.keyword}: upper time bound without an upper date bound; ignored`);
      delete timeRange.to;
    }
    out[di] = { type: 'datetime-range', date: date.attribute, time: time.attribute, dateRange, timeRange };
    out.splice(ti, 1);
  }
  return out;
}

function toMatch(attribute: AttributeRef, rawValue: string, fuzzy: boolean, warnings: string[]): AttributeMatch | undefined {
  const { tag, keyword, vr } = attribute;
  // A DT offset '+0100' sent unencoded arrives as ' 0100' (form decoding): a DT never holds spaces.
  let value = vr === 'DT' ? rawValue.replace(/ /g, '+') : rawValue;
  if (value === '') return { type: 'universal', attribute };
  if (COMPUTED_TAGS.has(tag) && !MATCHABLE_COMPUTED_TAGS.has(tag)) {
    warnings.push(`${keyword}: matching on this attribute is not supported; ignored`);
    return { type: 'universal', attribute };
  }
  if (tag === TAG.ModalitiesInStudy) {
    // Multiple values: studies containing any of the modalities (PS3.18 §8.3.4.1). Each may be a
    // wildcard pattern (CS, PS3.4 C.2.2.2.4); '*' alone is universal (PS3.4 C.2.2.2.3).
    const values = value.split(/[\\,]/).map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0 || values.some((v) => /^\*+$/.test(v))) return { type: 'universal', attribute };
    return { type: 'list', attribute, values };
  }
  if (vr === 'PN') {
    // Only the Alphabetic group is matched: the value up to the first '=', without trailing empty
    // components, as index/normalize.ts pnSearchKey stores names (see the module comment).
    value = value.split('=')[0].trim().replace(/[\^ ]+$/, '');
    if (value === '') {
      warnings.push(`${keyword}: no Alphabetic name to match (only that component group is matched); ignored`);
      return { type: 'universal', attribute };
    }
  }
  if (vr === 'SQ') return undefined;
  if (vr === 'UI') {
    const uids = value.split(/[\\,]/).map((v) => v.trim());
    for (const uid of uids) {
      if (!/^[0-9]+(\.[0-9]+)*$/.test(uid) || uid.length > 64) throw invalid(`${keyword}: ${JSON.stringify(uid)} is not a UID`);
    }
    return uids.length === 1 ? { type: 'single', attribute, value: uids[0] } : { type: 'list', attribute, values: uids };
  }
  if (fuzzy && vr === 'PN') {
    const words = pnWords(value.replace(/[*?]/g, ''));
    return words.length === 0 ? { type: 'universal', attribute } : { type: 'fuzzy', attribute, words };
  }
  if (WILDCARD_VRS.has(vr) && /[*?]/.test(value)) {
    return /^\*+$/.test(value) ? { type: 'universal', attribute } : { type: 'wildcard', attribute, pattern: value };
  }
  if (RANGE_VRS.has(vr)) {
    if (value.includes('-') && !(vr === 'DT' && isValidDateTime(value))) {
      return { type: 'range', attribute, range: parseRange(attribute, value) };
    }
    checkDateTimeValue(attribute, value);
    return { type: 'single', attribute, value };
  }
  if (INTEGER_VRS.has(vr) && !/^[+-]?\d+$/.test(value)) throw invalid(`${keyword}: ${JSON.stringify(value)} is not an integer`);
  if (DECIMAL_VRS.has(vr) && !Number.isFinite(Number(value))) throw invalid(`${keyword}: ${JSON.stringify(value)} is not a number`);
  if (!TEXT_VRS.has(vr) && !INTEGER_VRS.has(vr) && !DECIMAL_VRS.has(vr)) {
    warnings.push(`${keyword}: matching on VR ${vr} is not supported; ignored`);
    return { type: 'universal', attribute };
  }
  return { type: 'single', attribute, value };
}

/** Parses 'a-b', 'a-', '-b' for DA/TM/DT (PS3.4 C.2.2.2.5); each end is validated. */
function parseRange(attribute: AttributeRef, value: string): Range {
  const parts = splitRange(attribute.vr, value);
  if (!parts) throw invalid(`${attribute.keyword}: ${JSON.stringify(value)} is not a ${attribute.vr} range`);
  const [from, to] = parts;
  if (from === '' && to === '') throw invalid(`${attribute.keyword}: a range needs at least one bound`);
  if (from !== '') checkDateTimeValue(attribute, from);
  if (to !== '') checkDateTimeValue(attribute, to);
  return { ...(from !== '' ? { from } : {}), ...(to !== '' ? { to } : {}) };
}

function splitRange(vr: string, value: string): [string, string] | undefined {
  if (vr !== 'DT') {
    const parts = value.split('-');
    return parts.length === 2 ? [parts[0].trim(), parts[1].trim()] : undefined;
  }
  // A DT may carry a '-ZZXX' offset, so try each '-' as the separator until both sides are valid.
  for (let i = value.indexOf('-'); i >= 0; i = value.indexOf('-', i + 1)) {
    const from = value.slice(0, i).trim();
    const to = value.slice(i + 1).trim();
    if ((from === '' || isValidDateTime(from)) && (to === '' || isValidDateTime(to))) return [from, to];
  }
  return undefined;
}

function checkDateTimeValue(attribute: AttributeRef, value: string): void {
  const ok = attribute.vr === 'DA' ? isDicomDate(value) : attribute.vr === 'TM' ? isValidTime(value) : isValidDateTime(value);
  const format = attribute.vr === 'DA' ? 'YYYYMMDD' : attribute.vr === 'TM' ? 'HH[MM[SS[.F{1,6}]]]' : 'YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]';
  if (!ok) throw invalid(`${attribute.keyword}: ${JSON.stringify(value)} is not a ${attribute.vr} value (${format})`);
}
