/**
 * Readers of single values out of a DICOM JSON data set (PS3.18 Annex F.2), lenient by design:
 * a value of the wrong type reads as absent rather than throwing, so that an instance with a
 * non-conformant attribute is still indexed and shown.
 */
import type { DicomJson } from './json.types.js';

/** A PN value as DICOM JSON carries it (PS3.18 F.2.2), or the raw 'A=I=P' string. */
export type PersonNameValue = { Alphabetic?: string; Ideographic?: string; Phonetic?: string } | string | undefined;

/** The first value of an attribute, whatever its type; undefined when absent or empty. */
export function firstValue(json: DicomJson, tag: string): unknown {
  const values = json[tag]?.Value;
  return Array.isArray(values) && values.length > 0 ? values[0] : undefined;
}

/** The first value of a string attribute (numbers are stringified); undefined when absent/empty. */
export function firstString(json: DicomJson, tag: string): string | undefined {
  const v = firstValue(json, tag);
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** The first value of a numeric attribute (IS/DS may arrive as strings); undefined when not a number. */
export function firstNumber(json: DicomJson, tag: string): number | undefined {
  const v = firstValue(json, tag);
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The first value as a Postgres `integer` (32-bit); undefined if not an integer in range. */
export function firstInteger(json: DicomJson, tag: string): number | undefined {
  const n = firstNumber(json, tag);
  return n !== undefined && Number.isInteger(n) && Math.abs(n) <= 2_147_483_647 ? n : undefined;
}

/** The first value of a PN attribute as DICOM JSON carries it; undefined when absent. */
export function firstPersonName(json: DicomJson, tag: string): PersonNameValue {
  const v = firstValue(json, tag);
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return v as { Alphabetic?: string };
  return undefined;
}
