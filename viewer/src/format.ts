/** How the viewer writes patient and photograph facts for people (NHS number groups, UK dates, sites). */
import type { Coded, Photo, TimelinePatient } from './api';

/** NHS numbers are shown 3-3-4 (NHS Digital's display standard): 943 476 5919. */
export function formatNhsNumber(id: string): string {
  return /^\d{10}$/.test(id) ? `${id.slice(0, 3)} ${id.slice(3, 6)} ${id.slice(6)}` : id;
}

/** Patient banner name: FAMILY, Given (the NHS banner convention). */
export function formatName(p: TimelinePatient): string {
  const n = p.name;
  if (!n) return 'Name not recorded';
  const family = n.family?.toUpperCase();
  const given = n.given?.filter(Boolean).join(' ');
  if (family && given) return `${family}, ${given}`;
  return family ?? given ?? n.text ?? 'Name not recorded';
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** 2026-11-24 (or 20261124) → 24 Nov 2026; anything else as it is. */
export function formatDate(value?: string | null): string {
  if (!value) return 'Date not recorded';
  const m = value.match(/^(\d{4})-?(\d{2})-?(\d{2})/);
  if (!m) return value;
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}`;
}

/** The time of day of an ISO-like date-time, HH:MM, or ''. */
export function formatTime(value?: string | null): string {
  const m = value?.match(/T(\d{2}):?(\d{2})/);
  return m ? `${m[1]}:${m[2]}` : '';
}

/** The visit date of a photograph: acquisition date, else its study's date (YYYY-MM-DD). */
export function visitDate(p: Photo, studyDate?: string | null): string {
  const d = (p.acquired ?? studyDate ?? '').match(/^(\d{4})-?(\d{2})-?(\d{2})/);
  return d ? `${d[1]}-${d[2]}-${d[3]}` : '';
}

const LATERALITY: Record<string, string> = { R: 'right', L: 'left', B: 'both sides' };

export const codeText = (c?: Coded | null) => c?.meaning ?? c?.code ?? '';

/** "Forearm, right" style label of a photograph's body site and laterality. */
export function siteLabel(p: Photo): string {
  const site = codeText(p.bodySite) || p.seriesDescription || 'Body site not recorded';
  const side = p.laterality ? LATERALITY[p.laterality] : undefined;
  return side ? `${site}, ${side}` : site;
}

/** A key that groups photographs of the same site and side (for the filter and for "compare with previous"). */
export const siteKey = (p: Photo) => `${p.bodySite ? `${p.bodySite.scheme}:${p.bodySite.code}` : p.seriesDescription ?? ''}|${p.laterality ?? ''}`;

export function formatSex(sex?: string | null): string {
  return ({ F: 'Female', M: 'Male', O: 'Other' } as Record<string, string>)[sex ?? ''] ?? 'Not recorded';
}

export const CONSENT_TEXT: Record<string, string> = {
  record: 'Clinical record only', teaching: 'Teaching', publication: 'Publication',
};

/** A measured value with its unit, e.g. 25.00 mm, 12.5 mm², 90.0°. */
export function formatValue(value: number, unit: string): string {
  switch (unit) {
    case 'mm': return `${value.toFixed(1)} mm`;
    case 'mm2': return `${value.toFixed(1)} mm²`;
    case 'px': return `${value.toFixed(0)} px`;
    case 'px2': return `${value.toFixed(0)} px²`;
    case 'deg': return `${value.toFixed(1)}°`;
    default: return `${value} ${unit}`;
  }
}
