/**
 * QIDO-RS search (PS3.18 §10.6) as ONE SQL statement.
 *
 * Shape: an inner query filters and orders the rows of the query level and takes one page
 * (limit + 1 rows, so the caller knows whether more exist); the outer query joins that page to its
 * parent rows, computes the counts, ModalitiesInStudy and SOPClassesInStudy over stored instances
 * (PS3.4 C.6.2.1.2-3), and picks from each level's jsonb only the attributes the response needs.
 * Only stored instances, and the studies and series that have at least one, are visible: commitStored
 * creates study and series rows together with a stored instance, but a commit refused by its
 * ON CONFLICT re-check (sql/commit.ts) can leave a new study row without instances behind.
 *
 * Order: studies newest first (study_date DESC, study_time DESC, undated last, then pk); series by
 * series_number then pk; instances by instance_number then pk.
 */
import type { AccessScope } from '../../auth/policy.js';
import type { QidoQuery } from '../../qido/query.js';
import { planReturn, type ReturnPlan } from '../search-results.js';
import { LEVEL_DEPTH, type InformationLevel } from '../levels.js';
import { ALIAS, ATTRS, matchCondition } from './search-conditions.js';
import { instanceScopeConditions, patientScopeConditions } from './scope.js';
import { Params, type SqlStatement } from './statement.js';

export interface SearchPlan {
  statement: SqlStatement;
  returns: ReturnPlan;
  /** The page size the caller asked for; the statement fetches one row more. */
  limit: number;
  /** Matching keys ignored while building SQL (in addition to QidoQuery.warnings). */
  warnings: string[];
}

const FROM = {
  study: 'studies st JOIN patients p ON p.pk = st.patient_fk',
  series: 'series se JOIN studies st ON st.pk = se.study_fk JOIN patients p ON p.pk = st.patient_fk',
  instance: `instances i JOIN series se ON se.pk = i.series_fk JOIN studies st ON st.pk = i.study_fk
             JOIN patients p ON p.pk = st.patient_fk`,
} as const;

const PAGE_JOIN = {
  study: 'studies st ON st.pk = page.pk JOIN patients p ON p.pk = st.patient_fk',
  series: 'series se ON se.pk = page.pk JOIN studies st ON st.pk = se.study_fk JOIN patients p ON p.pk = st.patient_fk',
  instance: `instances i ON i.pk = page.pk JOIN series se ON se.pk = i.series_fk JOIN studies st ON st.pk = i.study_fk
             JOIN patients p ON p.pk = st.patient_fk`,
} as const;

const ORDER = {
  study: 'st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk',
  series: 'se.series_number NULLS LAST, se.pk',
  instance: 'i.instance_number NULLS LAST, i.pk',
} as const;

/**
 * Per-study series and instance counts and modalities (PS3.4 C.6.2.1.2-3), over the instances the
 * caller may see (`vis`: extra conditions on alias i2).
 */
const studyCounts = (vis: string) => `LEFT JOIN LATERAL (
    SELECT count(*)::int AS n_series, coalesce(sum(x.n), 0)::int AS n_instances,
           coalesce(array_agg(DISTINCT x.modality) FILTER (WHERE x.modality IS NOT NULL), '{}'::text[]) AS modalities
    FROM (SELECT s2.modality,
                 (SELECT count(*) FROM instances i2 WHERE i2.series_fk = s2.pk AND i2.status = 'stored'${vis}) AS n
          FROM series s2 WHERE s2.study_fk = st.pk) x
    WHERE x.n > 0) sc ON true`;

const sopClasses = (vis: string) => `LEFT JOIN LATERAL (
    SELECT coalesce(array_agg(DISTINCT i4.sop_class_uid ORDER BY i4.sop_class_uid) FILTER (WHERE i4.sop_class_uid IS NOT NULL), '{}'::text[]) AS sop_classes
    FROM instances i4 WHERE i4.study_fk = st.pk AND i4.status = 'stored'${vis}) ssc ON true`;

const seriesCount = (vis: string) => `LEFT JOIN LATERAL (
    SELECT count(*)::int AS n_instances FROM instances i3 WHERE i3.series_fk = se.pk AND i3.status = 'stored'${vis}) sec ON true`;

/**
 * Plans the statement for a parsed QIDO-RS query, limited to what `scope` lets the caller see (the
 * patient of a patient-context token; a photographer's own instances of today): rows outside it are
 * neither matched nor counted. Pure: no database access.
 */
export function planSearch(query: QidoQuery, scope: AccessScope = {}): SearchPlan {
  const params = new Params();
  const warnings: string[] = [];
  const level = query.level;
  // Extra visibility conditions on an instance alias (AND-prefixed), '' when the scope has none.
  const visible = (alias: string) => instanceScopeConditions(scope, params, alias).map((c) => ` AND ${c}`).join('');
  // Only what has a stored (and visible) instance is visible (see the module comment).
  const where: string[] = [{
    study: () => `EXISTS (SELECT 1 FROM instances vi WHERE vi.study_fk = st.pk AND vi.status = 'stored'${visible('vi')})`,
    series: () => `EXISTS (SELECT 1 FROM instances vi WHERE vi.series_fk = se.pk AND vi.status = 'stored'${visible('vi')})`,
    instance: () => `i.status = 'stored'${visible('i')}`,
  }[level](), ...patientScopeConditions(scope, params)];
  if (query.scope.studyInstanceUID !== undefined) where.push(`st.study_uid = ${params.add(query.scope.studyInstanceUID)}`);
  if (query.scope.seriesInstanceUID !== undefined && level !== 'study') {
    where.push(`se.series_uid = ${params.add(query.scope.seriesInstanceUID)}`);
  }
  for (const m of query.matches) {
    const condition = matchCondition(m, params, warnings);
    if (condition !== undefined) where.push(condition);
  }

  const returns = planReturn(query);
  const selected = [
    // Whose rows these are, for the audit trail: "who looked at this patient" includes who found them.
    'p.patient_id',
    'st.study_uid',
    level !== 'study' ? 'se.series_uid' : 'NULL::text AS series_uid',
    level === 'instance' ? 'i.sop_uid' : 'NULL::text AS sop_uid',
  ];
  for (const lvl of ['patient', 'study', 'series', 'instance'] as const) {
    if (LEVEL_DEPTH[lvl] > LEVEL_DEPTH[level]) break;
    selected.push(`${subset(lvl, returns.fetch[lvl], params)} AS ${ALIAS[lvl]}_attrs`);
  }
  const joins: string[] = [];
  if (returns.studyCounts) {
    joins.push(studyCounts(visible('i2')));
    selected.push('sc.n_series AS study_series', 'sc.n_instances AS study_instances', 'sc.modalities');
  }
  if (returns.seriesCount) {
    joins.push(seriesCount(visible('i3')));
    selected.push('sec.n_instances AS series_instances');
  }
  if (returns.sopClasses) {
    joins.push(sopClasses(visible('i4')));
    selected.push('ssc.sop_classes');
  }
  if (returns.numberOfFrames) selected.push('i.number_of_frames');

  const limit = params.add(query.limit + 1, 'int');
  const offset = params.add(query.offset, 'bigint');
  const key = ALIAS[level];
  const text = `SELECT ${selected.join(',\n       ')}
FROM (
  SELECT ${key}.pk
  FROM ${FROM[level]}
  ${where.length ? `WHERE ${where.join('\n    AND ')}` : ''}
  ORDER BY ${ORDER[level]}
  LIMIT ${limit} OFFSET ${offset}
) page
JOIN ${PAGE_JOIN[level]}
${joins.join('\n')}
ORDER BY ${ORDER[level]}`;
  return { statement: { text, values: params.values }, returns, limit: query.limit, warnings };
}

/** The level's attributes the response needs: all of them, only some keys, or none. */
function subset(level: InformationLevel, keys: string[] | 'all' | undefined, params: Params): string {
  if (keys === 'all') return ATTRS[level];
  if (!keys || keys.length === 0) return 'NULL::jsonb';
  return `(SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(${ATTRS[level]}) e WHERE e.key = ANY(${params.add(keys, 'text[]')}))`;
}
