import { isCalendarDate, isDicomDate } from './dates.js';

describe('DA values (PS3.5 Table 6.2-1)', () => {
  it('accepts real calendar dates, leap days included', () => {
    for (const da of ['20240110', '20240229', '20000229', '19991231', '00010101', '00500615']) expect(isDicomDate(da)).toBe(true);
  });

  it('refuses days a month does not have, and what is not YYYYMMDD', () => {
    for (const da of ['20240231', '20230229', '19000229', '20240431', '20241301', '20240001', '20240100', '00000101',
      '2024011', '2024-01-10', '2024.01.10', ' 20240110', '2024011a', '']) {
      expect(isDicomDate(da)).toBe(false);
    }
  });

  it('checks numbers as well as strings', () => {
    expect(isCalendarDate(2024, 2, 29)).toBe(true);
    expect(isCalendarDate(2023, 2, 29)).toBe(false);
    expect(isCalendarDate(2024, 1.5, 1)).toBe(false);
  });
});
