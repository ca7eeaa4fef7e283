import { codeJson, isoDate, isoLocalDateTime, isoTime, oneOf, personNameJson, personText } from './format.js';

const sq = (...items: object[]) => ({ vr: 'SQ', Value: items });
const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });

describe('timeline formatting', () => {
  it('writes dates and times in ISO 8601 form', () => {
    expect(isoDate('20250304')).toBe('2025-03-04');
    expect([isoDate(null), isoDate(''), isoDate('2025')]).toEqual([null, null, null]);
    expect(isoTime('101112.045000')).toBe('10:11:12');
    expect(isoTime('090000')).toBe('09:00:00');
    expect(isoTime(null)).toBeNull();
    expect(isoLocalDateTime('20250304101112.000000')).toBe('2025-03-04T10:11:12');
    expect(isoLocalDateTime('20250304')).toBe('2025-03-04');
    expect([isoLocalDateTime(null), isoLocalDateTime('2025030410')]).toEqual([null, null]);
  });

  it('splits a person name into family and given names', () => {
    expect(personNameJson('Smith^Jane')).toEqual({ family: 'Smith', given: ['Jane'], text: 'Smith, Jane' });
    expect(personNameJson({ Alphabetic: 'Smith^Jane^Ann Marie^Mrs' })).toEqual({ family: 'Smith', given: ['Jane', 'Ann', 'Marie'], text: 'Smith, Jane Ann Marie' });
    expect(personNameJson('ACCESS^ALICE=アクセス^アリス')).toEqual({ family: 'ACCESS', given: ['ALICE'], text: 'ACCESS, ALICE' });
    expect(personNameJson('Madonna')).toEqual({ family: 'Madonna', given: [], text: 'Madonna' });
    expect(personNameJson('^Jo')).toEqual({ family: '', given: ['Jo'], text: 'Jo' });
    expect([personNameJson(null), personNameJson(''), personNameJson({ Ideographic: '山田' })]).toEqual([null, null, null]);
    expect(personText({ '00081070': v('PN', { Alphabetic: 'GRAPHER^P' }) }, '00081070')).toBe('GRAPHER, P');
  });

  it('reads the first item of a code sequence', () => {
    const json = {
      '00082218': sq({ '00080100': v('SH', '70559009'), '00080102': v('SH', 'SCT'), '00080104': v('LO', 'Forearm') }, { '00080100': v('SH', 'x') }),
      '00540220': sq({ '00080120': v('UR', 'urn:x:1'), '00080104': v('LO', 'Frontal') }),
      '00089215': sq({ '00080104': v('LO', 'meaning without a code') }),
    };
    expect(codeJson(json, '00082218')).toEqual({ code: '70559009', scheme: 'SCT', meaning: 'Forearm' });
    expect(codeJson(json, '00540220')).toEqual({ code: 'urn:x:1', scheme: '', meaning: 'Frontal' });
    expect(codeJson(json, '00089215')).toBeNull();
    expect(codeJson(json, '00400260')).toBeNull();
  });

  it('keeps only the enumerated values of a code string', () => {
    expect(oneOf('r', ['R', 'L', 'B', 'U'])).toBe('R');
    expect(oneOf('X', ['R', 'L'])).toBeNull();
    expect(oneOf(null, ['F', 'M', 'O'])).toBeNull();
  });
});
