/**
 * Frame access for WADO-RS /frames and rendering (PS3.18 §8.3.5.1, §10.4).
 *
 * Native pixel data: frame n is the n-th run of Rows × Columns × SamplesPerPixel × BitsAllocated/8 bytes,
 * returned in little-endian byte order (swapped from Explicit VR Big Endian) and reported with transfer
 * syntax Explicit VR Little Endian, the encoding PS3.18 §8.7.3.3.2 gives uncompressed frames whatever the
 * stored syntax. BitsAllocated 1 frames that do not start on a byte boundary cannot be sliced: NOT_ACCEPTABLE.
 *
 * Encapsulated pixel data (PS3.5 §A.4), in order of preference:
 *  1. the Extended Offset Table (7FE0,0001) with its lengths (7FE0,0002): one fragment per frame;
 *  2. a non-empty Basic Offset Table: frame n is the fragments from offset n to offset n+1;
 *  3. as many fragments as frames: one fragment per frame;
 *  4. a single frame: all fragments concatenated;
 *  5. otherwise JPEG/JPEG-LS/JPEG 2000 fragments are grouped at start-of-image markers.
 * The frame keeps the stored transfer syntax (a JPEG bitstream stays a JPEG bitstream).
 */
import { LucidaError } from '../errors.js';
import { asPart10File } from './parse.js';
import type { DicomDataSet, DicomElement, Part10File } from './reader.js';
import { readAscii } from './reader.js';
import { TS, isEncapsulated } from './uids.js';
import { swapToLittleEndian } from './vr.js';

/** The Image Pixel module attributes (PS3.3 C.7.6.3) needed to interpret a frame. */
export interface PixelDescription {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number;
  photometricInterpretation: string;
  /** 0 colour-by-pixel (RGBRGB…), 1 colour-by-plane (RR…GG…BB…). */
  planarConfiguration: number;
  numberOfFrames: number;
}

export interface FrameSource extends PixelDescription {
  /** The stored transfer syntax. */
  transferSyntaxUID: string;
  encapsulated: boolean;
  /** The transfer syntax of the bytes `frame()` returns (Explicit VR LE for native pixel data). */
  frameTransferSyntaxUID: string;
  /** Frame `n` (1-based). Views into the file's buffer when possible. */
  frame(n: number): Buffer;
  /** The read file, for callers that need more attributes. */
  file: Part10File;
}

/** Frames above this many pixels are not decoded or rendered (decompression bomb guard, also given to sharp). */
export const MAX_DECODE_PIXELS = 100_000_000;

const T = {
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
  PixelData: 0x7fe00010,
} as const;

/** Reads the first US value of `tag`, or undefined. */
function readUs(file: Part10File, tag: number, ds: DicomDataSet = file.dataset): number | undefined {
  const el = ds.elements.get(tag);
  if (!el || el.length < 2 || el.items) return undefined;
  return ds.littleEndian ? file.bytes.readUInt16LE(el.offset) : file.bytes.readUInt16BE(el.offset);
}

/** Number of Frames (0028,0008), 1 when absent or not a positive integer. */
function readNumberOfFrames(file: Part10File): number {
  const s = readAscii(file.bytes, file.dataset.elements.get(T.NumberOfFrames));
  const n = s && /^\s*\+?\d+\s*$/.test(s) ? Number.parseInt(s, 10) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : 1;
}

/** Reads the Image Pixel description of a read file. */
function describePixels(file: Part10File): PixelDescription {
  const bitsAllocated = readUs(file, T.BitsAllocated) ?? 0;
  return {
    rows: readUs(file, T.Rows) ?? 0,
    columns: readUs(file, T.Columns) ?? 0,
    samplesPerPixel: readUs(file, T.SamplesPerPixel) ?? 1,
    bitsAllocated,
    bitsStored: readUs(file, T.BitsStored) ?? bitsAllocated,
    highBit: readUs(file, T.HighBit) ?? (readUs(file, T.BitsStored) ?? bitsAllocated) - 1,
    pixelRepresentation: readUs(file, T.PixelRepresentation) ?? 0,
    photometricInterpretation: readAscii(file.bytes, file.dataset.elements.get(T.PhotometricInterpretation)) ?? '',
    planarConfiguration: readUs(file, T.PlanarConfiguration) ?? 0,
    numberOfFrames: readNumberOfFrames(file),
  };
}

/**
 * Opens the frames of a Part 10 file (or an already read one).
 * @throws LucidaError INVALID_DICOM when the bytes are not readable DICOM; NOT_FOUND when the instance
 *   has no Pixel Data.
 */
export function getFrames(source: Uint8Array | Part10File): FrameSource {
  const file = asPart10File(source);
  const pixel = file.dataset.elements.get(T.PixelData);
  if (!pixel) throw new LucidaError('NOT_FOUND', 'instance has no Pixel Data (7FE0,0010)');
  const desc = describePixels(file);
  const encapsulated = isEncapsulated(file.transferSyntaxUID);
  if (encapsulated !== Boolean(pixel.fragments)) {
    throw new LucidaError('INVALID_DICOM', `Pixel Data is ${pixel.fragments ? '' : 'not '}encapsulated, contrary to transfer syntax ${file.transferSyntaxUID}`);
  }
  const frameOf = encapsulated ? encapsulatedFrames(file, pixel, desc) : nativeFrames(file, pixel, desc);
  return {
    ...desc,
    transferSyntaxUID: file.transferSyntaxUID,
    encapsulated,
    frameTransferSyntaxUID: encapsulated ? file.transferSyntaxUID : TS.ExplicitVRLittleEndian,
    frame(n: number): Buffer {
      if (!Number.isInteger(n) || n < 1 || n > desc.numberOfFrames) {
        throw new LucidaError('NOT_FOUND', `frame ${n} does not exist`);
      }
      return frameOf(n);
    },
    file,
  };
}

/** Frame `frameNumber` (1-based) and the transfer syntax its bytes are in. */
export function extractFrame(bytes: Uint8Array | Part10File, frameNumber: number): { data: Buffer; transferSyntaxUID: string } {
  const frames = getFrames(bytes);
  return { data: frames.frame(frameNumber), transferSyntaxUID: frames.frameTransferSyntaxUID };
}

/**
 * Refuses frames above {@link MAX_DECODE_PIXELS} before anything decodes or renders them.
 * @throws LucidaError NOT_ACCEPTABLE
 */
export function assertDecodable(frames: PixelDescription): void {
  if (frames.rows * frames.columns > MAX_DECODE_PIXELS) {
    throw new LucidaError('NOT_ACCEPTABLE', `frame of ${frames.columns}×${frames.rows} pixels exceeds the decoding limit of ${MAX_DECODE_PIXELS} pixels`);
  }
}

function nativeFrames(file: Part10File, pixel: DicomElement, d: PixelDescription): (n: number) => Buffer {
  const frameBits = d.rows * d.columns * d.samplesPerPixel * d.bitsAllocated;
  if (frameBits === 0) throw new LucidaError('INVALID_DICOM', 'Rows, Columns or BitsAllocated missing or zero');
  const stored = file.bytes.subarray(pixel.offset, pixel.offset + pixel.length);
  // Big-endian OW is swapped as one value, once, on first use: frames of odd length or at odd offsets
  // (8-bit data in OW) share 16-bit words with their neighbours, so they cannot be swapped one by one.
  let littleEndian: Buffer | undefined = file.dataset.littleEndian ? stored : undefined;
  return (n) => {
    if (frameBits % 8 !== 0 && d.numberOfFrames > 1) {
      throw new LucidaError('NOT_ACCEPTABLE', 'frames of 1-bit pixel data that do not end on a byte boundary cannot be extracted');
    }
    const size = Math.ceil(frameBits / 8);
    const start = (n - 1) * size;
    if (start + size > pixel.length) {
      throw new LucidaError('INVALID_DICOM', `Pixel Data is shorter than frame ${n} requires`);
    }
    littleEndian ??= swapToLittleEndian(stored, pixel.vr);
    return littleEndian.subarray(start, start + size);
  };
}

const JPEG_FAMILY = new Set<string>([
  TS.JPEGBaseline8Bit, TS.JPEGExtended, TS.JPEGLossless, TS.JPEGLosslessSV1, TS.JPEGLSLossless,
  TS.JPEGLSNearLossless, TS.JPEG2000Lossless, TS.JPEG2000, TS.JPEG2000MCLossless, TS.JPEG2000MC,
  TS.HTJ2KLossless, TS.HTJ2KLosslessRPCL, TS.HTJ2K,
]);

function encapsulatedFrames(file: Part10File, pixel: DicomElement, d: PixelDescription): (n: number) => Buffer {
  const { bytes } = file;
  const fragments = pixel.fragments ?? [];
  const origin = pixel.fragmentsOrigin ?? 0;
  const count = d.numberOfFrames;
  if (fragments.length === 0) {
    return () => {
      throw new LucidaError('INVALID_DICOM', 'encapsulated Pixel Data has no fragments');
    };
  }
  const concat = (from: number, to: number) => {
    const parts = fragments.slice(from, to).map((f) => bytes.subarray(f.offset, f.offset + f.length));
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  };

  const eot = extendedOffsets(file);
  if (eot) {
    return (n) => {
      const item = origin + Number(eot.offsets[n - 1]);
      const length = Number(eot.lengths[n - 1]);
      // The offset must land on a fragment item tag (FFFE,E000) and the frame stay inside Pixel Data.
      if (item + 8 + length > pixel.offset + pixel.length || bytes.readUInt32LE(item) !== 0xe000fffe) {
        throw new LucidaError('INVALID_DICOM', `Extended Offset Table entry for frame ${n} does not point at a fragment`);
      }
      return bytes.subarray(item + 8, item + 8 + length);
    };
  }

  const bot = pixel.offsetTable && pixel.offsetTable.length >= 4 ? basicOffsets(file, pixel) : undefined;
  if (bot && bot.length === count) {
    // Fragment index of each frame's first fragment, from the fragment item offsets.
    const fragmentAt = new Map(fragments.map((f, i) => [f.offset - 8 - origin, i]));
    const firstFragment = bot.map((off) => fragmentAt.get(off) ?? -1);
    if (firstFragment.every((i, k) => i >= 0 && (k === 0 || i > firstFragment[k - 1]))) {
      return (n) => concat(firstFragment[n - 1], n < count ? firstFragment[n] : fragments.length);
    }
  }
  if (fragments.length === count) return (n) => concat(n - 1, n);
  if (count === 1) return () => concat(0, fragments.length);
  if (JPEG_FAMILY.has(file.transferSyntaxUID)) {
    const starts = fragments
      .map((f, i) => (isStartOfImage(bytes, f.offset, f.length) ? i : -1))
      .filter((i) => i >= 0);
    if (starts.length === count && starts[0] === 0) {
      return (n) => concat(starts[n - 1], n < count ? starts[n] : fragments.length);
    }
  }
  return () => {
    throw new LucidaError('NOT_ACCEPTABLE', `cannot locate frames: ${fragments.length} fragments, ${count} frames, no offset table`);
  };
}

/** JPEG SOI (FFD8) or JPEG 2000 SOC+SIZ (FF4F FF51). */
function isStartOfImage(bytes: Buffer, offset: number, length: number): boolean {
  if (length < 2 || bytes[offset] !== 0xff) return false;
  return bytes[offset + 1] === 0xd8 || (bytes[offset + 1] === 0x4f && length >= 4 && bytes[offset + 2] === 0xff && bytes[offset + 3] === 0x51);
}

function basicOffsets(file: Part10File, pixel: DicomElement): number[] {
  const { offset, length } = pixel.offsetTable!;
  const le = file.dataset.littleEndian;
  const out: number[] = [];
  for (let i = 0; i + 4 <= length; i += 4) out.push(le ? file.bytes.readUInt32LE(offset + i) : file.bytes.readUInt32BE(offset + i));
  return out;
}

function extendedOffsets(file: Part10File): { offsets: bigint[]; lengths: bigint[] } | undefined {
  const eot = file.dataset.elements.get(T.ExtendedOffsetTable);
  const eotl = file.dataset.elements.get(T.ExtendedOffsetTableLengths);
  if (!eot || !eotl || eot.length === 0 || eot.length !== eotl.length || eot.length % 8) return undefined;
  const count = eot.length / 8;
  if (count !== readNumberOfFrames(file)) return undefined;
  const read = (el: DicomElement) => {
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) out.push(file.bytes.readBigUInt64LE(el.offset + i * 8));
    return out;
  };
  return { offsets: read(eot), lengths: read(eotl) };
}
