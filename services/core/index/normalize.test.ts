import {
  isValidDateTime, normalizeDate, normalizeDateTime, normalizeDateTimeUpper, normalizeTime, normalizeTimeUpper,
  personNameText, pnSearchKey, pnSearchPattern, pnWordPrefixes, pnWords,
} from './normalize.js';
import { isDicomDate } from '../dicom/index.js';

describe('time, date and datetime normal forms', () => {
  it.each([
    ['10', '100000.000000', '105959.999999'],
    ['1030', '103000.000000', '103059.999999'],
    ['103015', '103015.000000', '103015.999999'],
    ['103015.5', '103015.500000', '103015.599999'],
    ['103015.123456', '103015.123456', '103015.123456'],
    ['10:30:15', '103015.000000', '103015.999999'], // ACR-NEMA form in old objects
    [' 0930 ', '093000.000000', '093059.999999'],
  ])('TM %j → %s .. %s', (tm, lower, upper) => {
    expect(normalizeTime(tm)).toBe(lower);
    expect(normalizeTimeUpper(tm)).toBe(upper);
  });

  it('rejects what is not a TM', () => {
    for (const tm of ['', '24', '1060', '10306', 'ab', '1030.', '103015.1234567']) expect(normalizeTime(tm)).toBeNull();
    expect(normalizeTime(undefined)).toBeNull();
  });

  it('keeps DA as YYYYMMDD, accepting the ACR-NEMA dotted form', () => {
    expect(normalizeDate('20240110')).toBe('20240110');
    expect(normalizeDate('2024.01.10')).toBe('20240110');
    expect(normalizeDate('2024-01-10')).toBeNull();
    expect(normalizeDate('20241310')).toBeNull();
    expect(normalizeDate(undefined)).toBeNull();
  });

  it('keeps only real calendar dates in a DA column, as QIDO-RS accepts only those in a query', () => {
    expect(normalizeDate('20240229')).toBe('20240229');
    for (const da of ['20240231', '20230229', '20240431', '2024.02.30']) expect(normalizeDate(da)).toBeNull();
    expect(isDicomDate('20240229')).toBe(true);
    expect(isDicomDate('20240231')).toBe(false);
  });

  it.each([
    ['2024', '20240101000000.000000', '20241231235959.999999'],
    ['202402', '20240201000000.000000', '20240231235959.999999'],
    ['2024011009', '20240110090000.000000', '20240110095959.999999'],
    ['20240110093015.25+0100', '20240110093015.250000', '20240110093015.259999'],
  ])('DT %j → %s .. %s (offset dropped)', (dt, lower, upper) => {
    expect(normalizeDateTime(dt)).toBe(lower);
    expect(normalizeDateTimeUpper(dt)).toBe(upper);
  });

  it('accepts UTC offsets from -1200 to +1400 only', () => {
    expect(isValidDateTime('2024-1200')).toBe(true);
    expect(isValidDateTime('2024+1400')).toBe(true);
    expect(isValidDateTime('2024-1300')).toBe(false);
    expect(isValidDateTime('2024-2025')).toBe(false);
  });
});

describe('person names', () => {
  it('search key: upper-cased Alphabetic group without trailing empty components', () => {
    expect(pnSearchKey({ Alphabetic: 'Smith^John^^' })).toBe('SMITH^JOHN');
    expect(pnSearchKey('Yamada^Tarou=山田^太郎=やまだ^たろう')).toBe('YAMADA^TAROU');
    expect(pnSearchKey({ Alphabetic: 'Müller^Jürgen' })).toBe('MÜLLER^JÜRGEN');
    expect(pnSearchKey({ Ideographic: '山田^太郎' })).toBeNull();
    expect(pnSearchKey({ Alphabetic: '^^' })).toBeNull();
    expect(pnSearchKey(undefined)).toBeNull();
  });

  it('search pattern: normalised like the search key (Alphabetic group, upper case, no trailing ^)', () => {
    expect(pnSearchPattern('smith^j*')).toBe('SMITH^J*');
    expect(pnSearchPattern('Yamada*=山田*')).toBe('YAMADA*');
    expect(pnSearchPattern(' müller*^^ ')).toBe('MÜLLER*');
    expect(pnSearchPattern('=山田*')).toBe('');
  });

  it('words and word prefixes for fuzzy matching', () => {
    expect(pnWords('Smith-Jones^Anna Marie')).toEqual(['SMITH', 'JONES', 'ANNA', 'MARIE']);
    expect(pnWordPrefixes({ Alphabetic: 'Smith^Jo' })).toEqual(['J', 'JO', 'S', 'SM', 'SMI', 'SMIT', 'SMITH']);
    expect(pnWordPrefixes({ Alphabetic: 'Öz^' })).toEqual(['Ö', 'ÖZ']);
    expect(pnWordPrefixes(undefined)).toEqual([]);
  });

  it('display text joins the groups', () => {
    expect(personNameText({ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' })).toBe('Yamada^Tarou=山田^太郎');
    expect(personNameText({ Alphabetic: 'Smith' })).toBe('Smith');
    expect(personNameText({})).toBeNull();
  });
});
