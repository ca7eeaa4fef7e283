import { expectLucidaError } from '../../../test/helpers/errors.js';
import { parseQidoQuery, type QidoLevel, type QidoScope } from './query.js';

const OPTS = { defaultLimit: 100, maxLimit: 1000 };
const parse = (qs: string, level: QidoLevel = 'study', scope: QidoScope = {}, opts = OPTS) =>
  parseQidoQuery(level, new URLSearchParams(qs), scope, opts);
const ref = (tag: string, keyword: string, vr: string, level: string) => ({ tag, keyword, vr, level });
const PatientName = ref('00100010', 'PatientName', 'PN', 'patient');
const StudyDate = ref('00080020', 'StudyDate', 'DA', 'study');
const StudyTime = ref('00080030', 'StudyTime', 'TM', 'study');

const rejects = (qs: string, message: RegExp, level: QidoLevel = 'study') =>
  expectLucidaError('INVALID_QUERY', () => parse(qs, level), message);

describe('parseQidoQuery', () => {
  it('keeps level, scope and defaults', () => {
    const q = parse('', 'instance', { studyInstanceUID: '1.2', seriesInstanceUID: '1.3' });
    expect(q).toEqual({
      level: 'instance', scope: { studyInstanceUID: '1.2', seriesInstanceUID: '1.3' }, matches: [],
      includeFields: new Set(), limit: 100, offset: 0, warnings: [],
    });
  });

  it('resolves keywords and 8-hex-digit tags to the same attribute', () => {
    expect(parse('PatientName=Smith^John').matches).toEqual([{ type: 'single', attribute: PatientName, value: 'Smith^John' }]);
    expect(parse('00100010=Smith^John').matches).toEqual([{ type: 'single', attribute: PatientName, value: 'Smith^John' }]);
    // Unknown (e.g. private) tags resolve with VR UN, which cannot be matched.
    expect(parse('0010001a=x').warnings).toEqual(['0010001A: matching on VR UN is not supported; ignored']);
  });

  it('rejects an unknown keyword, naming it', () => {
    rejects('PatientNaem=x', /PatientNaem/);
    rejects('NoSuchKeyword=1', /NoSuchKeyword/);
  });
  // Found by the fuzz test: PatientID=a%00b reached Postgres, which cannot hold U+0000, and failed the search with a 500.
  it('rejects a NUL in any value or key (INVALID_QUERY), whatever the attribute', () => {
    rejects('PatientID=a%00b', /PatientID: NUL/);
    rejects('PatientName=%00', /PatientName: NUL/);
    rejects('StudyDescription=x&0009%001010=1', /a parameter name: NUL/);
    rejects('includefield=PatientName%00', /includefield: NUL/);
    rejects('00091010=%00', /00091010: NUL/); // even where the value would be ignored
  });

  it('rejects a key given twice, also as keyword and tag', () => {
    rejects('PatientID=a&00100020=b', /given more than once/);
    rejects('PatientName=a&00100010=b', /given more than once/);
  });

  it('distinguishes universal, single, wildcard, list and range matching (PS3.4 C.2.2.2)', () => {
    const q = parse(`PatientID=&AccessionNumber=*&StudyDescription=Mole ?ev*&StudyInstanceUID=1.2.3,1.2.4\\1.2.5&StudyDate=20240101-&PatientBirthDate=-19991231`);
    expect(q.matches.map((m) => m.type === 'datetime-range' ? m.type : [m.type, m.attribute.keyword])).toEqual([
      ['universal', 'PatientID'], ['universal', 'AccessionNumber'], ['wildcard', 'StudyDescription'], ['list', 'StudyInstanceUID'],
      ['range', 'StudyDate'], ['range', 'PatientBirthDate'],
    ]);
    expect(q.matches[3]).toMatchObject({ values: ['1.2.3', '1.2.4', '1.2.5'] });
    expect(q.matches[4]).toMatchObject({ range: { from: '20240101' } });
    expect(q.matches[5]).toMatchObject({ range: { to: '19991231' } });
  });

  it('treats * and ? as literals for VRs without wildcard matching (UI rejected, AS literal)', () => {
    rejects('StudyInstanceUID=1.2.*', /not a UID/);
    expect(parse('PatientAge=05*').matches[0]).toMatchObject({ type: 'single', value: '05*' });
  });

  it('validates DA, TM and DT values and ranges', () => {
    for (const bad of ['StudyDate=2024', 'StudyDate=2023', 'StudyDate=2024-01-01', 'StudyDate=2026-01-01', 'StudyDate=20241301', 'StudyDate=-', 'StudyTime=25',
      'StudyTime=10:30', 'StudyTime=1030.1234567', 'PatientBirthDate=1999010a']) rejects(bad, /StudyDate|StudyTime|PatientBirthDate/);
    rejects('AcquisitionDateTime=2024x', /AcquisitionDateTime/, 'instance');
    expect(parse('StudyTime=103000.123456').matches[0]).toMatchObject({ type: 'single', value: '103000.123456' });
  });

  it('refuses DA values that are not calendar dates, as values and as range ends (INVALID_QUERY)', () => {
    rejects('StudyDate=20240231', /StudyDate: "20240231" is not a DA value/);
    rejects('StudyDate=20240101-20240231', /StudyDate: "20240231" is not a DA value/);
    rejects('StudyDate=20230229-', /StudyDate: "20230229" is not a DA value/);
    rejects('PatientBirthDate=19000229', /PatientBirthDate/);
    expect(parse('StudyDate=20240229').matches[0]).toMatchObject({ type: 'single', value: '20240229' });
    expect(parse('StudyDate=20240201-20240229').matches[0]).toMatchObject({ type: 'range', range: { from: '20240201', to: '20240229' } });
  });

  it('reads DT values with UTC offsets as single values or range ends', () => {
    const dt = (v: string) => parse(`AcquisitionDateTime=${encodeURIComponent(v)}`, 'instance').matches[0];
    expect(dt('20240110-0500')).toMatchObject({ type: 'single', value: '20240110-0500' });
    expect(dt('2024-2025')).toMatchObject({ type: 'range', range: { from: '2024', to: '2025' } });
    expect(dt('20240110093000-0500-20240111')).toMatchObject({ type: 'range', range: { from: '20240110093000-0500', to: '20240111' } });
    expect(dt('-2021+0100')).toMatchObject({ type: 'range', range: { to: '2021+0100' } });
    // An unencoded '+' arrives as a space.
    expect(parse('AcquisitionDateTime=-2021+0100', 'instance').matches[0]).toMatchObject({ range: { to: '2021+0100' } });
  });

  it('combines StudyDate and StudyTime into one datetime range when both are ranges', () => {
    expect(parse('StudyDate=20231231-20240110&StudyTime=2300-0930').matches).toEqual([{
      type: 'datetime-range', date: StudyDate, time: StudyTime,
      dateRange: { from: '20231231', to: '20240110' }, timeRange: { from: '2300', to: '0930' },
    }]);
    expect(parse('StudyDate=20240110&StudyTime=1200-').matches.map((m) => m.type)).toEqual(['single', 'range']);
    const q = parse('StudyDate=20240110-&StudyTime=-1200');
    expect(q.matches[0]).toMatchObject({ dateRange: { from: '20240110' }, timeRange: {} });
    expect(q.warnings).toEqual(['StudyTime: upper time bound without an upper date bound; ignored']);
  });

  it('splits fuzzy PN values into upper-case words, dropping wildcards', () => {
    expect(parse('fuzzymatching=true&PatientName=jo smi*').matches).toEqual([{ type: 'fuzzy', attribute: PatientName, words: ['JO', 'SMI'] }]);
    expect(parse('fuzzymatching=true&PatientName=*').matches[0].type).toBe('universal');
    expect(parse('fuzzymatching=false&PatientName=jo*').matches[0].type).toBe('wildcard');
    expect(parse('fuzzymatching=true&AccessionNumber=A*').matches[0].type).toBe('wildcard'); // not PN
    rejects('fuzzymatching=yes', /fuzzymatching/);
  });

  it('ModalitiesInStudy takes several values, comma or backslash separated', () => {
    expect(parse('ModalitiesInStudy=CT,XC').matches[0]).toMatchObject({ type: 'list', values: ['CT', 'XC'] });
    expect(parse('ModalitiesInStudy=CT\\XC').matches[0]).toMatchObject({ type: 'list', values: ['CT', 'XC'] });
  });

  it('ModalitiesInStudy: * alone is universal (PS3.4 C.2.2.2.3), other wildcards are kept as patterns', () => {
    expect(parse('ModalitiesInStudy=*').matches[0]).toMatchObject({ type: 'universal' });
    expect(parse('ModalitiesInStudy=CT,**').matches[0]).toMatchObject({ type: 'universal' });
    expect(parse('ModalitiesInStudy=D*,C?').matches[0]).toMatchObject({ type: 'list', values: ['D*', 'C?'] });
  });

  it('matches PN values on their Alphabetic group only', () => {
    expect(parse('PatientName=Yamada*=山田*').matches).toEqual([{ type: 'wildcard', attribute: PatientName, pattern: 'Yamada*' }]);
    expect(parse('PatientName=Yamada^Tarou=山田*').matches).toEqual([{ type: 'single', attribute: PatientName, value: 'Yamada^Tarou' }]);
    expect(parse('PatientName=Smith^John^^').matches).toEqual([{ type: 'single', attribute: PatientName, value: 'Smith^John' }]);
    expect(parse('PatientName=*=山田').matches[0].type).toBe('universal');
    for (const empty of ['^', '=山田*', '^^=山田']) {
      const q = parse(`PatientName=${encodeURIComponent(empty)}`);
      expect(q.matches).toEqual([{ type: 'universal', attribute: PatientName }]);
      expect(q.warnings).toEqual(['PatientName: no Alphabetic name to match (only that component group is matched); ignored']);
    }
  });

  it('checks numbers for numeric VRs', () => {
    rejects('PatientWeight=heavy', /PatientWeight/);
    rejects('InstanceNumber=1.5', /InstanceNumber/, 'instance');
    expect(parse('InstanceNumber=-3', 'instance').matches[0]).toMatchObject({ type: 'single', value: '-3' });
  });

  it('ignores sequences, attribute paths and lower-level attributes with a warning', () => {
    const q = parse('ProcedureCodeSequence=x&RequestAttributesSequence.ScheduledProcedureStepID=1&Modality=CT&SOPInstanceUID=1.2');
    expect(q.matches).toEqual([]);
    expect(q.warnings).toEqual([
      'ProcedureCodeSequence: matching on sequence attributes is not supported; ignored',
      'RequestAttributesSequence.ScheduledProcedureStepID: not a study-level attribute; ignored',
      'Modality: not a study-level attribute; ignored',
      'SOPInstanceUID: not a study-level attribute; ignored',
    ]);
    expect(parse('RequestAttributesSequence.ScheduledProcedureStepID=1', 'series').warnings)
      .toEqual(['RequestAttributesSequence.ScheduledProcedureStepID: matching on sequence attributes is not supported; ignored']);
    expect(parse('ProcedureCodeSequence=').matches).toEqual([
      { type: 'universal', attribute: ref('00081032', 'ProcedureCodeSequence', 'SQ', 'study') },
    ]);
  });

  it('matches higher-level attributes at lower levels (relational queries)', () => {
    const q = parse('PatientName=Smith*&StudyDate=20240101&Modality=XC', 'instance');
    expect(q.matches.map((m) => m.type !== 'datetime-range' && m.attribute.level)).toEqual(['patient', 'study', 'series']);
    expect(q.warnings).toEqual([]);
  });

  it('warns about computed attributes other than ModalitiesInStudy and InstanceAvailability', () => {
    const q = parse('NumberOfStudyRelatedInstances=3&InstanceAvailability=ONLINE');
    expect(q.matches.map((m) => m.type)).toEqual(['universal', 'single']);
    expect(q.warnings).toEqual(['NumberOfStudyRelatedInstances: matching on this attribute is not supported; ignored']);
  });

  it('parses includefield: repeated, comma-separated, keywords or tags, paths, or all', () => {
    expect(parse('includefield=StudyDescription,00101010&includefield=PatientWeight&includefield=RequestAttributesSequence.RequestedProcedureID').includeFields)
      .toEqual(new Set(['00081030', '00101010', '00101030', '00400275']));
    expect(parse('includefield=PatientAge&includefield=all').includeFields).toBe('all');
    rejects('includefield=Nope', /Nope/);
  });

  it('validates limit and offset, capping limit at maxLimit with a warning', () => {
    expect(parse('limit=5&offset=10')).toMatchObject({ limit: 5, offset: 10 });
    expect(parse('limit=0')).toMatchObject({ limit: 0 });
    for (const bad of ['limit=-1', 'limit=1.5', 'limit=', 'offset=x', 'limit=1&limit=2']) rejects(bad, /limit|offset/);
    const capped = parse('limit=5000');
    expect(capped.limit).toBe(1000);
    expect(capped.warnings).toEqual(['limit 5000 exceeds the maximum 1000; at most 1000 results are returned']);
    expect(parse('', 'study', {}, { defaultLimit: 50, maxLimit: 10 })).toMatchObject({ limit: 10, warnings: [] });
  });

  it('ignores the accept and charset parameters (PS3.18 §8.3.3.1)', () => {
    expect(parse('accept=application/dicom%2Bjson&charset=utf-8').matches).toEqual([]);
  });
});
