/**
 * Element tree → DICOM JSON (PS3.18 Annex F.2).
 * - Keys are 8 upper-case hex digits; group lengths (gggg,0000) and Data Set Trailing Padding are left out.
 * - Strings lose their padding; multi-valued strings become arrays, empty components `null` (F.2.5).
 *   A NUL inside a value (damage: NUL is only padding) becomes U+FFFD, which JSON stores can hold.
 * - DS/IS become JSON numbers (F.2.3); a value that is not a valid DS/IS stays a string, so a
 *   non-conformant instance is still stored and shown rather than rejected.
 * - PN values are objects with Alphabetic/Ideographic/Phonetic groups (F.2.2).
 * - AT values are 8-hex-digit strings. FL/FD NaN and infinities are the strings "NaN"/"inf"/"-inf".
 * - Binary VRs are InlineBinary (base64, little endian) below the bulk data threshold and a BulkDataURI
 *   at or above it; large values of the other VRs PS3.18 lets be bulk data (numbers, LT/ST/UT/UC) too.
 *   Pixel Data (and Float/Double Float Pixel Data) is always a BulkDataURI.
 * - BulkDataURI values are *relative* element paths: "7FE00010" at the top level, "00540016/0/00181078"
 *   for an element in item 0 of a sequence. The web layer resolves them against the instance URL;
 *   bulkdata.ts finds the bytes again from them.
 */
import type { DicomJson, DicomJsonAttribute } from './json.types.js';
import { CHARSET_VRS, charsetDecoder, type TextDecodeFn } from './charset.js';
import type { DicomDataSet, DicomElement } from './reader.js';
import { BINARY_VRS, BULK_ELIGIBLE_VRS, swapToLittleEndian, tagHex } from './vr.js';

export interface DicomJsonOptions {
  /** Values of at least this many bytes become BulkDataURIs (PS3.18 F.2.6). Default 1024. */
  bulkDataThreshold?: number;
}

const TAG_SPECIFIC_CHARACTER_SET = 0x00080005;
const PIXEL_DATA_TAGS = new Set([0x7fe00008, 0x7fe00009, 0x7fe00010]);
const TAG_TRAILING_PADDING = 0xfffcfffc;

/** VRs that never hold more than one value, so "\" is an ordinary character (PS3.5 Table 6.2-1). */
const SINGLE_VALUED_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
/** VRs whose leading spaces are insignificant, in addition to trailing ones. */
const TRIM_BOTH = new Set(['AE', 'CS', 'DS', 'IS', 'LO', 'SH', 'AS', 'UI']);
const DS_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const IS_PATTERN = /^[+-]?\d+$/;

interface Context {
  bytes: Buffer;
  threshold: number;
  warnings: string[];
}

/**
 * Converts a data set to DICOM JSON, appending tolerated irregularities to `warnings`. Sequence items
 * inherit the Specific Character Set unless they declare their own (PS3.5 §6.1.2.5.1).
 */
export function dataSetToJson(
  ds: DicomDataSet, bytes: Buffer, options: DicomJsonOptions = {}, warnings: string[] = [],
): DicomJson {
  const ctx: Context = { bytes, threshold: options.bulkDataThreshold ?? 1024, warnings };
  return convert(ctx, ds, '', undefined);
}

function convert(ctx: Context, ds: DicomDataSet, path: string, inherited: TextDecodeFn | undefined): DicomJson {
  const out: DicomJson = {};
  let decode = inherited;
  const cs = ds.elements.get(TAG_SPECIFIC_CHARACTER_SET);
  if (cs || !decode) {
    const terms = cs && cs.length ? ctx.bytes.toString('latin1', cs.offset, cs.offset + cs.length).split('\\') : [];
    decode = charsetDecoder(terms, (m) => ctx.warnings.push(m));
  }
  for (const el of ds.elements.values()) {
    if ((el.tag & 0xffff) === 0 || el.tag >>> 16 === 0x0002 || el.tag === TAG_TRAILING_PADDING) continue;
    const key = tagHex(el.tag);
    out[key] = attribute(ctx, ds, el, path ? `${path}/${key}` : key, decode);
  }
  return out;
}

function attribute(ctx: Context, ds: DicomDataSet, el: DicomElement, path: string, decode: TextDecodeFn): DicomJsonAttribute {
  const { vr } = el;
  if (el.items) {
    // A UN sequence read as implicit VR is reported as the SQ it is.
    if (el.items.length === 0) return { vr: 'SQ' };
    return { vr: 'SQ', Value: el.items.map((item, i) => convert(ctx, item, `${path}/${i}`, decode)) };
  }
  if (PIXEL_DATA_TAGS.has(el.tag) || el.fragments) {
    return el.length === 0 && !el.fragments ? { vr } : { vr, BulkDataURI: path };
  }
  if (el.length === 0) return { vr };
  if (BINARY_VRS.has(vr)) {
    if (el.length >= ctx.threshold) return { vr, BulkDataURI: path };
    return { vr, InlineBinary: littleEndianValue(ctx.bytes, el, ds.littleEndian).toString('base64') };
  }
  if (el.length >= ctx.threshold && BULK_ELIGIBLE_VRS.has(vr)) return { vr, BulkDataURI: path };
  const Value = values(ctx, el, ds.littleEndian, decode);
  return Value.length ? { vr, Value } : { vr };
}

/** The value bytes in little-endian order (a view when no swap is needed). */
export function littleEndianValue(bytes: Buffer, el: DicomElement, littleEndian: boolean): Buffer {
  const view = bytes.subarray(el.offset, el.offset + el.length);
  return littleEndian ? view : swapToLittleEndian(view, el.vr);
}

function values(ctx: Context, el: DicomElement, le: boolean, decode: TextDecodeFn): unknown[] {
  const { bytes } = ctx;
  const { offset, length, vr } = el;
  switch (vr) {
    case 'US': return numbers(length, 2, (i) => (le ? bytes.readUInt16LE(offset + i) : bytes.readUInt16BE(offset + i)));
    case 'SS': return numbers(length, 2, (i) => (le ? bytes.readInt16LE(offset + i) : bytes.readInt16BE(offset + i)));
    case 'UL': return numbers(length, 4, (i) => (le ? bytes.readUInt32LE(offset + i) : bytes.readUInt32BE(offset + i)));
    case 'SL': return numbers(length, 4, (i) => (le ? bytes.readInt32LE(offset + i) : bytes.readInt32BE(offset + i)));
    case 'FL': return numbers(length, 4, (i) => float(le ? bytes.readFloatLE(offset + i) : bytes.readFloatBE(offset + i)));
    case 'FD': return numbers(length, 8, (i) => float(le ? bytes.readDoubleLE(offset + i) : bytes.readDoubleBE(offset + i)));
    case 'SV': return numbers(length, 8, (i) => big(le ? bytes.readBigInt64LE(offset + i) : bytes.readBigInt64BE(offset + i)));
    case 'UV': return numbers(length, 8, (i) => big(le ? bytes.readBigUInt64LE(offset + i) : bytes.readBigUInt64BE(offset + i)));
    case 'AT': return numbers(length, 4, (i) => {
      const g = le ? bytes.readUInt16LE(offset + i) : bytes.readUInt16BE(offset + i);
      const e = le ? bytes.readUInt16LE(offset + i + 2) : bytes.readUInt16BE(offset + i + 2);
      return tagHex(((g << 16) | e) >>> 0);
    });
    default: return strings(ctx, el, decode);
  }
}

function numbers(length: number, size: number, read: (at: number) => unknown): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i + size <= length; i += size) out.push(read(i));
  return out;
}

function float(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf';
}

function big(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
}

function strings(ctx: Context, el: DicomElement, decode: TextDecodeFn): unknown[] {
  const { vr } = el;
  const end = el.offset + el.length;
  const text = CHARSET_VRS.has(vr) ? decode(ctx.bytes, el.offset, end) : ctx.bytes.toString('latin1', el.offset, end);
  const trimmed = text.replace(/[\0 ]+$/, '');
  if (trimmed === '') return [];
  const parts = SINGLE_VALUED_TEXT.has(vr) ? [trimmed] : trimmed.split('\\');
  return parts.map((raw) => {
    const unpadded = raw.replace(/[\0 ]+$/, '');
    let v = TRIM_BOTH.has(vr) ? unpadded.trim() : unpadded;
    if (v === '') return null;
    if (v.includes('\0')) v = withoutNul(ctx, el, v);
    switch (vr) {
      case 'PN': return personName(v);
      case 'DS': return DS_PATTERN.test(v) && Number.isFinite(Number(v)) ? Number(v) : keepInvalid(ctx, el, v);
      case 'IS': return IS_PATTERN.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : keepInvalid(ctx, el, v);
      default: return v;
    }
  });
}

/**
 * NUL is only ever padding (PS3.5 §6.2): one inside a value is damage. It cannot be stored either
 * (Postgres text and jsonb refuse U+0000), so it is shown as U+FFFD, with a warning.
 */
function withoutNul(ctx: Context, el: DicomElement, v: string): string {
  ctx.warnings.push(`NUL characters in ${tagHex(el.tag)} replaced by U+FFFD`);
  return v.replace(/\0/g, '\ufffd');
}

function keepInvalid(ctx: Context, el: DicomElement, v: string): string {
  ctx.warnings.push(`invalid ${el.vr} value in ${tagHex(el.tag)} kept as a string`);
  return v;
}

function personName(v: string): Record<string, string> | null {
  const [alphabetic, ideographic, phonetic] = v.split('=').map((g) => g.replace(/ +$/, ''));
  const pn: Record<string, string> = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return Object.keys(pn).length ? pn : null;
}
