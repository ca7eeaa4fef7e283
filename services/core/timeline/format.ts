/**
 * DICOM values as the timeline's JSON shows them: dates and times in ISO 8601 form, person names
 * split into family and given names, code sequence items as {code, scheme, meaning}. Input is what
 * the index stores (normalize.ts forms) or DICOM JSON (PS3.18 F.2). Pure functions.
 */
import { firstPersonName, firstString, firstValue, type DicomJson, type PersonNameValue } from '../dicom/index.js';
import type { CodeJson, PersonNameJson } from './types.js';

/** Attributes the timeline reads from an instance's DICOM JSON (they have no index column). */
export const PHOTO_TAGS = {
  Manufacturer: '00080070',
  InstitutionName: '00080080',
  StationName: '00081010',
  OperatorsName: '00081070',
  ManufacturerModelName: '00081090',
  AnatomicRegionSequence: '00082218',
  ImageLaterality: '00200062',
  ViewCodeSequence: '00540220',
} as const;

const CODE = { CodeValue: '00080100', CodingSchemeDesignator: '00080102', CodeMeaning: '00080104', LongCodeValue: '00080119', URNCodeValue: '00080120' };

/** 'YYYYMMDD' → 'YYYY-MM-DD'; null for anything else. */
export function isoDate(da: string | null | undefined): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da ?? '');
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
}

/** A stored time 'HHMMSS.FFFFFF' (or 'HHMMSS') → 'HH:MM:SS' (to the second); null for anything else. */
export function isoTime(tm: string | null | undefined): string | null {
  const m = /^(\d{2})(\d{2})(\d{2})(?:\.\d+)?$/.exec(tm ?? '');
  return m ? `${m[1]}:${m[2]}:${m[3]}` : null;
}

/**
 * A stored local date-time 'YYYYMMDDHHMMSS.FFFFFF' → 'YYYY-MM-DDTHH:MM:SS' (local time, no offset:
 * DICOM values are written in the local time of the place of capture); a date alone 'YYYYMMDD' →
 * 'YYYY-MM-DD'; null for anything else.
 */
export function isoLocalDateTime(v: string | null | undefined): string | null {
  if (!v) return null;
  if (v.length === 8) return isoDate(v);
  const date = isoDate(v.slice(0, 8));
  const time = isoTime(v.slice(8));
  return date && time ? `${date}T${time}` : null;
}

/**
 * A person name (PS3.5 §6.2.1.2) for display: the Alphabetic group's family name, and its given and
 * middle names as `given` ('Smith^Jane^Ann' → family Smith, given [Jane, Ann], text "Smith, Jane Ann").
 * Accepts a DICOM JSON PN value or the stored 'Alphabetic=Ideographic=Phonetic' text. Null when there
 * is no Alphabetic name.
 */
export function personNameJson(pn: PersonNameValue | null): PersonNameJson | null {
  if (pn === undefined || pn === null) return null;
  const alphabetic = typeof pn === 'string' ? pn.split('=')[0] : pn.Alphabetic;
  if (!alphabetic || alphabetic.trim() === '') return null;
  const [family = '', first = '', middle = ''] = alphabetic.split('^').map((c) => c.trim());
  const given = [first, ...middle.split(/\s+/)].filter((g) => g !== '');
  const text = family && given.length ? `${family}, ${given.join(' ')}` : family || given.join(' ');
  return { family, given, text };
}

/** The first item of a code sequence as {code, scheme, meaning}; null when absent or without a code. */
export function codeJson(json: DicomJson, sequenceTag: string): CodeJson | null {
  const item = firstValue(json, sequenceTag);
  if (item === null || typeof item !== 'object') return null;
  const ds = item as DicomJson;
  // PS3.3 8.8: one of Code Value, Long Code Value or URN Code Value carries the code.
  const code = firstString(ds, CODE.CodeValue) ?? firstString(ds, CODE.LongCodeValue) ?? firstString(ds, CODE.URNCodeValue);
  if (code === undefined) return null;
  return { code, scheme: firstString(ds, CODE.CodingSchemeDesignator) ?? '', meaning: firstString(ds, CODE.CodeMeaning) ?? '' };
}

/** A text attribute's first value, trimmed; null when absent or blank. */
export function text(json: DicomJson, tag: string): string | null {
  return firstString(json, tag)?.trim() || null;
}

/** A PN attribute's first value as display text ("Family, Given"). */
export function personText(json: DicomJson, tag: string): string | null {
  return personNameJson(firstPersonName(json, tag))?.text ?? null;
}

/** One of the given codes (CS values), or null. */
export function oneOf<T extends string>(value: string | null | undefined, allowed: readonly T[]): T | null {
  const v = value?.trim().toUpperCase();
  return v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : null;
}
