/**
 * The one DA validator (PS3.5 Table 6.2-1: YYYYMMDD), calendar-correct: ingest, QIDO-RS and both
 * capture paths use it, so 20240231 is refused everywhere alike.
 */

/** True when year, month and day form a real calendar date (leap years included). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return false;
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  // Counted rather than built with Date, which reads years 0-99 as 1900-1999.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1]);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True when `da` is a DICOM DA value (YYYYMMDD) naming a real date. */
export function isDicomDate(da: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da);
  return !!m && isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

/**
 * DA and TM (PS3.5 §6.2) of a Date in the server's local time zone (the studio's clock):
 * capture studies and converted photos are dated with it.
 */
export function localDateTime(d: Date): { date: string; time: string } {
  const p = (n: number) => String(n).padStart(2, '0');
  return {
    date: `${String(d.getFullYear()).padStart(4, '0')}${p(d.getMonth() + 1)}${p(d.getDate())}`,
    time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  };
}
