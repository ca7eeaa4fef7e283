/** Date handling of both capture paths (DICOM DA is YYYYMMDD, PS3.5 Table 6.2-1; checked by dicom/dates.ts). */
import { isCalendarDate } from '../dicom/index.js';

/** "1980-02-29" → "19800229", or undefined when it is not a real YYYY-MM-DD date. */
export function isoDateToDicom(iso: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m || !isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined;
  return `${m[1]}${m[2]}${m[3]}`;
}

/**
 * The latest calendar date anywhere on Earth at `now` (UTC+14), as YYYYMMDD. A date after it is in the
 * future wherever the capture station is; comparing with it never rejects a baby born "today" on a
 * station whose clock is ahead of UTC.
 */
export function latestDateNow(now: Date): string {
  return new Date(now.getTime() + 14 * 3600_000).toISOString().slice(0, 10).replace(/-/g, '');
}
