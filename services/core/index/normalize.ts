/**
 * Normal forms shared by ingest (what the index stores in its columns) and QIDO-RS (what a query
 * compares those columns with), so that both sides always agree:
 * - DA  → 'YYYYMMDD'
 * - TM  → 'HHMMSS.FFFFFF' (PS3.5 §6.2: partial times are padded; a query upper bound pads with the
 *         largest value, so `-10` means "up to 10:59:59.999999")
 * - DT  → 'YYYYMMDDHHMMSS.FFFFFF' in the local time of the value; the UTC offset suffix is dropped
 *         (values are compared as written, the way PS3.4 C.2.2.2.5 compares DA/TM without offsets)
 * - PN  → upper-cased Alphabetic component group, trailing empty components removed
 *         ('Smith^John^^' → 'SMITH^JOHN'); PS3.4 C.2.2.2.1 lets PN matching ignore case.
 */
import { isDicomDate, type PersonNameValue } from '../dicom/index.js';

const TM = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?$/;
const DT = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?([+-]\d{4})?$/;

/** True if `tm` is a TM value HH[MM[SS[.F{1,6}]]] (PS3.5 Table 6.2-1), without the ACR-NEMA colons. */
export function isValidTime(tm: string): boolean {
  const m = TM.exec(tm);
  if (!m) return false;
  return Number(m[1]) <= 23 && (m[2] === undefined || Number(m[2]) <= 59) && (m[3] === undefined || Number(m[3]) <= 60);
}

/** True if `dt` is a DT value YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX] (PS3.5 Table 6.2-1). */
export function isValidDateTime(dt: string): boolean {
  const m = DT.exec(dt);
  if (!m) return false;
  const [, , mo, d, h, mi, s, , offset] = m;
  // UTC offsets run from -1200 to +1400 (PS3.5 Table 6.2-1), which also tells '2024-2025' (a range)
  // from '2024-0500' (a value with an offset).
  const offsetOk = offset === undefined
    || (Number(offset.slice(3)) <= 59 && Number(offset.slice(1)) <= (offset[0] === '-' ? 1200 : 1400));
  return offsetOk && (mo === undefined || (Number(mo) >= 1 && Number(mo) <= 12))
    && (d === undefined || (Number(d) >= 1 && Number(d) <= 31))
    && (h === undefined || Number(h) <= 23)
    && (mi === undefined || Number(mi) <= 59)
    && (s === undefined || Number(s) <= 60);
}

/**
 * Stored form of a DA value: 'YYYYMMDD'. Accepts the ACR-NEMA form 'YYYY.MM.DD' found in old
 * objects. Returns null for anything else (the column is then left empty; the value stays in attrs).
 */
export function normalizeDate(da: string | undefined): string | null {
  if (da === undefined) return null;
  const v = da.trim().replace(/^(\d{4})\.(\d{2})\.(\d{2})$/, '$1$2$3');
  return isDicomDate(v) ? v : null;
}

function time(tm: string | undefined, pad: 'min' | 'max'): string | null {
  if (tm === undefined) return null;
  // ACR-NEMA 'HH:MM:SS.frac' occurs in old objects: accept it at ingest.
  const v = tm.trim().replace(/^(\d{2}):(\d{2})(?::(\d{2}))?/, (_, h, m, s) => `${h}${m}${s ?? ''}`);
  if (!isValidTime(v)) return null;
  const m = TM.exec(v)!;
  const fill = pad === 'min' ? { mm: '00', ss: '00', f: '0' } : { mm: '59', ss: '59', f: '9' };
  return `${m[1]}${m[2] ?? fill.mm}${m[3] ?? fill.ss}.${(m[4] ?? '').padEnd(6, fill.f)}`;
}

/**
 * Stored (and range lower-bound) form of a TM value: 'HHMMSS.FFFFFF', padded with zeros
 * ('1030' → '103000.000000'). Null if `tm` is absent or not a TM value.
 */
export function normalizeTime(tm: string | undefined): string | null {
  return time(tm, 'min');
}

/**
 * Upper-bound form of a TM value, padded with the largest values so a partial time covers the whole
 * period it denotes ('1030' → '103059.999999', '10' → '105959.999999'). PS3.4 C.2.2.2.5.
 */
export function normalizeTimeUpper(tm: string | undefined): string | null {
  return time(tm, 'max');
}

function dateTime(dt: string | undefined, pad: 'min' | 'max'): string | null {
  if (dt === undefined) return null;
  const v = dt.trim();
  if (!isValidDateTime(v)) return null;
  const m = DT.exec(v)!;
  const [, y, mo, d, h, mi, s, f] = m;
  const fill = pad === 'min'
    ? { mo: '01', d: '01', h: '00', mi: '00', s: '00', f: '0' }
    : { mo: '12', d: '31', h: '23', mi: '59', s: '59', f: '9' };
  return `${y}${mo ?? fill.mo}${d ?? fill.d}${h ?? fill.h}${mi ?? fill.mi}${s ?? fill.s}.${(f ?? '').padEnd(6, fill.f)}`;
}

/**
 * Stored (and range lower-bound) form of a DT value: 'YYYYMMDDHHMMSS.FFFFFF', local time as
 * written, offset dropped ('2024011009' → '20240110090000.000000'). Null if not a DT value.
 */
export function normalizeDateTime(dt: string | undefined): string | null {
  return dateTime(dt, 'min');
}

/** Upper-bound form of a DT value ('2024' → '20241231235959.999999'); see {@link normalizeDateTime}. */
export function normalizeDateTimeUpper(dt: string | undefined): string | null {
  return dateTime(dt, 'max');
}

/**
 * The search key of a person name: its Alphabetic group, upper-cased, trailing empty components
 * and padding removed. Null when there is no alphabetic name. Both the stored
 * `patient_name_search`/`referring_physician_search` columns and PN query values go through this.
 */
export function pnSearchKey(pn: PersonNameValue | null): string | null {
  if (pn === undefined || pn === null) return null;
  const alphabetic = typeof pn === 'string' ? pn.split('=')[0] : pn.Alphabetic;
  if (alphabetic === undefined) return null;
  const key = alphabetic.trim().replace(/[\^ ]+$/, '').toUpperCase();
  return key === '' ? null : key;
}

/**
 * A PN wildcard pattern in the form of {@link pnSearchKey}: its Alphabetic group (up to the first
 * '='), upper-cased, trailing '^' and spaces removed ('Yamada*^=山田*' → 'YAMADA*'), so that
 * patterns and stored keys are normalised alike. '' when the pattern has no Alphabetic part (the
 * query parser treats such a value as universal).
 */
export function pnSearchPattern(pattern: string): string {
  return pnSearchKey(pattern) ?? '';
}

/**
 * The words of a person name or of a fuzzy PN query value, upper-cased: split on '^' (component
 * separator), spaces, hyphens and commas ('Smith-Jones^Anna Marie' → SMITH, JONES, ANNA, MARIE).
 */
export function pnWords(text: string): string[] {
  return text.toUpperCase().split(/[\s^,-]+/).filter((w) => w !== '');
}

/**
 * Every prefix of every word of the Alphabetic group (SMITH^JO → S, SM, SMI, SMIT, SMITH, J, JO),
 * stored in `patients.patient_name_prefixes` so that fuzzy matching ("each query word starts a word
 * of the name") is one GIN-indexed array containment, whatever the word lengths.
 */
export function pnWordPrefixes(pn: PersonNameValue | null): string[] {
  const key = pnSearchKey(pn);
  if (key === null) return [];
  const prefixes = new Set<string>();
  for (const word of pnWords(key)) {
    const chars = [...word]; // code points, so a prefix never splits a surrogate pair
    for (let k = 1; k <= chars.length; k++) prefixes.add(chars.slice(0, k).join(''));
  }
  return [...prefixes].sort();
}

/** The whole person name as received, groups joined with '=' (PS3.5 §6.2.1), for display columns. */
export function personNameText(pn: PersonNameValue | null): string | null {
  if (pn === undefined || pn === null) return null;
  if (typeof pn === 'string') return pn === '' ? null : pn;
  const text = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
  return text === '' ? null : text;
}
