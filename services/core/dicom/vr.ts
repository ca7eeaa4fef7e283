/**
 * Value representation facts (PS3.5 §6.2, §7.1.2) and the implicit-VR lookup the reader and the
 * JSON converter share.
 */
import { attributeByTag } from './dictionary.js';

/** Every VR defined by PS3.5 Table 6.2-1. */
export const VALID_VRS: ReadonlySet<string> = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 §7.1.2). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set([
  'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV',
]);

/** Binary VRs: DICOM JSON carries them as InlineBinary or BulkDataURI, never as Value (PS3.18 F.2.7). */
export const BINARY_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

/** Non-binary VRs that PS3.18 §8.7.3.4 / F.2.6 allow to be replaced by a BulkDataURI when large. */
export const BULK_ELIGIBLE_VRS: ReadonlySet<string> = new Set([
  'DS', 'FD', 'FL', 'IS', 'LT', 'SL', 'SS', 'ST', 'SV', 'UC', 'UL', 'US', 'UT', 'UV',
]);

/** Size in bytes of one value, for VRs whose byte order depends on the transfer syntax (else 1). */
function byteSwapUnit(vr: string): 1 | 2 | 4 | 8 {
  switch (vr) {
    case 'US': case 'SS': case 'OW': case 'AT': return 2;
    case 'UL': case 'SL': case 'FL': case 'OF': case 'OL': return 4;
    case 'FD': case 'OD': case 'SV': case 'UV': case 'OV': return 8;
    default: return 1;
  }
}

/**
 * `value` with each whole `byteSwapUnit(vr)`-byte unit byte-reversed: big-endian bytes become little
 * endian (and, the swap being its own inverse, little-endian bytes big endian). A copy when anything
 * is swapped; `value` itself for byte-order-independent VRs (OB, UN, strings) or values shorter than
 * one unit. A trailing partial unit (a malformed length) is copied as it is.
 */
export function swapToLittleEndian(value: Buffer, vr: string): Buffer {
  const unit = byteSwapUnit(vr);
  if (unit === 1 || value.length < unit) return value;
  const copy = Buffer.from(value);
  const whole = copy.subarray(0, copy.length - (copy.length % unit));
  if (unit === 2) whole.swap16();
  else if (unit === 4) whole.swap32();
  else whole.swap64();
  return copy;
}

/** Formats a numeric tag as the 8 upper-case hex digits DICOM JSON uses. */
export function tagHex(tag: number): string {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** Formats a numeric tag as "(gggg,eeee)" for messages. */
export function tagLabel(tag: number): string {
  const h = tagHex(tag);
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

const implicitCache = new Map<number, string>();

/**
 * The VR of a data element read from an Implicit VR data set (PS3.5 §7.1.3), from the PS3.6 dictionary.
 * Group lengths are UL; private creators LO; other private and unknown elements UN. Ambiguous dictionary
 * VRs resolve as PS3.5 Annex A.1 prescribes for Implicit VR Little Endian: "OB or OW" → OW,
 * "US or OW" (LUT Data) → OW, "US or SS" → by Pixel Representation.
 */
export function implicitVr(tag: number, pixelRepresentation: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return 'UL';
  if (group & 1) return element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  let vr = implicitCache.get(tag);
  if (vr === undefined) {
    vr = lookupDictionaryVr(tag);
    implicitCache.set(tag, vr);
  }
  if (vr === 'xs') return pixelRepresentation === 1 ? 'SS' : 'US';
  return vr;
}

function lookupDictionaryVr(tag: number): string {
  let info = attributeByTag(tagHex(tag));
  const group = tag >>> 16;
  // Repeating groups (PS3.5 §7.6): curves 50xx, overlays 60xx are listed under their first group.
  if (!info && ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) && !(group & 1)) {
    info = attributeByTag(tagHex(((group & 0xff00) << 16 | (tag & 0xffff)) >>> 0));
  }
  if (!info) return 'UN';
  switch (info.vr) {
    case 'ox': case 'lt': return 'OW'; // "OB or OW", "US or OW", "US or SS or OW"
    case 'up': return 'UL';
    case 'xs': return 'xs';
    case 'na': return 'UN';
    default: return VALID_VRS.has(info.vr) ? info.vr : 'UN';
  }
}
