import { parseQidoQuery, type QidoLevel } from '../../qido/query.js';
import { planSearch } from './search.js';
import { escapeLike, wildcardToLike } from './statement.js';

const plan = (qs: string, level: QidoLevel = 'study', scope = {}) =>
  planSearch(parseQidoQuery(level, new URLSearchParams(qs), scope, { defaultLimit: 10, maxLimit: 100 }));

describe('search SQL builder', () => {
  it('escapes LIKE metacharacters in user text; * and ? become % and _', () => {
    expect(escapeLike('100%_a\\b')).toBe('100\\%\\_a\\\\b');
    expect(wildcardToLike('Le_Roy*')).toBe('Le\\_Roy%');
    expect(wildcardToLike('50%?off*')).toBe('50\\%_off%');
  });

  it('passes every user value as a parameter, never in the SQL text', () => {
    const evil = "x'; DROP TABLE studies; --";
    const { statement } = plan(`PatientID=${encodeURIComponent(evil)}&StudyDescription=${encodeURIComponent(`${evil}*`)}&PatientComments=${encodeURIComponent(evil)}`);
    expect(statement.text).not.toContain('DROP');
    expect(statement.values).toEqual(expect.arrayContaining([evil, "x'; DROP TABLE studies; --%", JSON.stringify({ '00104000': { Value: [evil] } })]));
  });

  it('upper-cases PN values and patterns, and fetches limit + 1 rows', () => {
    const { statement, limit } = plan('PatientName=smi*&limit=7');
    expect(statement.text).toContain('p.patient_name_search LIKE $1');
    expect(statement.values[0]).toBe('SMI%');
    expect(limit).toBe(7);
    expect(statement.values).toContain(8);
  });

  it('matches single TM values as the period they name', () => {
    const { statement } = plan('StudyTime=14');
    expect(statement.text).toContain('st.study_time >= $1 AND st.study_time <= $2');
    expect(statement.values.slice(0, 2)).toEqual(['140000.000000', '145959.999999']);
  });

  it('matches attributes without a column by containment at their own level', () => {
    expect(plan('PatientComments=VIP').statement.text).toContain('p.attrs @> $1::jsonb');
    expect(plan('PatientAge=054Y').statement.text).toContain('st.attrs @> $1::jsonb');
    expect(plan('Manufacturer=Canon', 'series').statement.text).toContain('se.attrs @> $1::jsonb');
    expect(plan('ImageLaterality=L', 'instance').statement.text).toContain('i.metadata @> $1::jsonb');
    // IS/DS values may be stored as JSON numbers or strings.
    const { statement } = plan('PatientWeight=72.5');
    expect(statement.values.slice(0, 2)).toEqual([JSON.stringify({ '00101030': { Value: [72.5] } }), JSON.stringify({ '00101030': { Value: ['72.5'] } })]);
  });

  it('ignores wildcard and range matching on attributes without a column, with a warning', () => {
    const p = plan('PatientComments=V*&SeriesDate=20240101-&SeriesTime=10-', 'series');
    expect(p.warnings).toEqual([
      'PatientComments: wildcard matching is only supported on indexed attributes; ignored',
      'SeriesDate/SeriesTime: range matching on attributes without an index column is not supported; ignored',
    ]);
  });

  it('computes counts only when the response includes them', () => {
    expect(plan('', 'study').statement.text).toContain('sc.n_series');
    expect(plan('', 'series', { studyInstanceUID: '1.2' }).statement.text).not.toContain('sc.n_series');
    expect(plan('', 'series').statement.text).toContain('sc.n_series');
    expect(plan('', 'instance', { studyInstanceUID: '1.2', seriesInstanceUID: '1.3' }).statement.text).not.toContain('sec.n_instances');
  });
});
