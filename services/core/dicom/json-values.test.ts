import { firstInteger, firstNumber, firstPersonName, firstString, firstValue } from './json-values.js';

describe('reading DICOM JSON values', () => {
  const json = {
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Smith^John' }] },
    '00200013': { vr: 'IS', Value: ['12'] },
    '00280010': { vr: 'US', Value: [480] },
    '00101030': { vr: 'DS', Value: [72.5] },
    '00080050': { vr: 'SH', Value: [''] },
    '00080020': { vr: 'DA' },
    '00201209': { vr: 'IS', Value: [3_000_000_000] },
  };
  it('firstString / firstNumber / firstInteger / firstPersonName', () => {
    expect(firstString(json, '00200013')).toBe('12');
    expect(firstString(json, '00280010')).toBe('480');
    expect(firstString(json, '00080050')).toBeUndefined();
    expect(firstString(json, '00080020')).toBeUndefined();
    expect(firstNumber(json, '00200013')).toBe(12);
    expect(firstNumber(json, '00101030')).toBe(72.5);
    expect(firstInteger(json, '00101030')).toBeUndefined();
    expect(firstInteger(json, '00201209')).toBeUndefined(); // beyond a Postgres integer
    expect(firstPersonName(json, '00100010')).toEqual({ Alphabetic: 'Smith^John' });
    expect(firstPersonName(json, '00100020')).toBeUndefined();
  });

  it('firstValue: the first value whatever its type; undefined when absent or empty', () => {
    expect(firstValue(json, '00100010')).toEqual({ Alphabetic: 'Smith^John' });
    expect(firstValue(json, '00280010')).toBe(480);
    expect(firstValue(json, '00080050')).toBe('');
    expect(firstValue(json, '00080020')).toBeUndefined();
    expect(firstValue({ '00080020': { vr: 'DA', Value: [] } }, '00080020')).toBeUndefined();
  });
});
