/**
 * DICOM unique identifiers: syntax checks (PS3.5 §9.1), generation (PS3.5 §B.2, UUID-derived "2.25." UIDs)
 * and the transfer syntax UIDs Lucida knows about (PS3.5 §10 and Annex A, PS3.6 Annex A).
 */
import { randomUUID } from 'node:crypto';

/**
 * Implementation Class UID written into the file meta information of every Part 10 file Lucida writes
 * (PS3.7 §D.3.3.2). Generated once from a random UUID (PS3.5 §B.2) and fixed for the life of the product.
 */
export const LUCIDA_IMPLEMENTATION_CLASS_UID = '2.25.303004654702369044960113925763211080699';
/** Implementation Version Name (0002,0013), at most 16 characters of the SH repertoire. */
export const LUCIDA_IMPLEMENTATION_VERSION_NAME = 'LUCIDA_0_1';

/** One component: "0" or a digit string without a leading zero. */
const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

/**
 * True when `s` is a syntactically valid UID (PS3.5 §9.1): at most 64 characters, dot-separated numeric
 * components, no component with a leading zero (except the single digit "0"), no empty component.
 * Trailing NUL padding must have been removed by the caller (the parser does this).
 */
export function isValidUid(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 64 && UID_PATTERN.test(s);
}

/**
 * A new globally unique UID under the "2.25" root: the decimal form of a random (version 4) UUID,
 * as PS3.5 §B.2 allows. Always ≤ 44 characters, so it fits the 64-character limit with room to spare.
 */
export function newUid(): string {
  const hex = randomUUID().replace(/-/g, '');
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** Transfer syntax UIDs (PS3.6 Annex A; retired ones that still appear in archives are not listed). */
export const TS = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  /** PS3.6 keyword JPEGExtended12Bit (processes 2 and 4). */
  JPEGExtended: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  JPEG2000MCLossless: '1.2.840.10008.1.2.4.92',
  JPEG2000MC: '1.2.840.10008.1.2.4.93',
  MPEG2MPML: '1.2.840.10008.1.2.4.100',
  MPEG2MPHL: '1.2.840.10008.1.2.4.101',
  MPEG4HP41: '1.2.840.10008.1.2.4.102',
  MPEG4HP41BD: '1.2.840.10008.1.2.4.103',
  HEVCMP51: '1.2.840.10008.1.2.4.107',
  HEVCM10P51: '1.2.840.10008.1.2.4.108',
  JPEGXLLossless: '1.2.840.10008.1.2.4.110',
  JPEGXLJPEGRecompression: '1.2.840.10008.1.2.4.111',
  JPEGXL: '1.2.840.10008.1.2.4.112',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

export type TransferSyntaxUID = (typeof TS)[keyof typeof TS];

/**
 * The native transfer syntaxes (PS3.5 §A.1–A.5): pixel data not encapsulated, and the syntaxes the
 * codec can write (encode.ts, transcode.ts).
 */
export const NATIVE_TRANSFER_SYNTAXES: ReadonlySet<string> = new Set([
  TS.ImplicitVRLittleEndian,
  TS.ExplicitVRLittleEndian,
  TS.DeflatedExplicitVRLittleEndian,
  TS.ExplicitVRBigEndian,
]);

/**
 * True when Pixel Data is encapsulated (fragments in items, PS3.5 §A.4) under `ts`. Every transfer syntax
 * other than the four native ones encapsulates, including unknown (private) ones, as PS3.5 §A.4 requires
 * of all compressed syntaxes and as 1.2.840.10008.1.2.1.98 does for uncompressed frames.
 */
export function isEncapsulated(ts: string): boolean {
  return !NATIVE_TRANSFER_SYNTAXES.has(ts);
}
