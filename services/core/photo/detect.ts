/**
 * Format sniffing and header-only dimensions, so the API can refuse a decompression bomb (a PNG that
 * declares 60000 × 60000) before queueing it and the converter can check limits before decoding.
 * Nothing here decodes pixels or allocates in proportion to the image size.
 */
import { LucidaError } from '../errors.js';
import { isIsoBmff, readHeifHeader } from './heif.js';
import { parseJpegHeader } from './jpeg.js';
import type { PhotoProbe } from './types.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** PNG allows widths and heights up to 2^31 − 1 (PNG §11.2.2). */
const PNG_MAX_DIMENSION = 0x7fffffff;

const unsupported = () =>
  new LucidaError('UNSUPPORTED_IMAGE', 'not a supported image: send JPEG, PNG, TIFF or HEIC');

/**
 * Identifies the format from its signature and reads the stored width and height from the header.
 * The dimensions are those of the coded image, before any EXIF or HEIF rotation (the pixel count,
 * which is what limits are about, is the same).
 * @throws LucidaError UNSUPPORTED_IMAGE when the bytes are not JPEG, PNG, TIFF or HEIC (AVIF included);
 *   INVALID_IMAGE when the file is empty or its header is truncated or garbled.
 */
export function probePhoto(bytes: Buffer): PhotoProbe {
  if (bytes.length === 0) throw new LucidaError('INVALID_IMAGE', 'the file is empty');
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    const { frame } = parseJpegHeader(bytes);
    if (frame.height === 0) {
      throw new LucidaError('UNSUPPORTED_IMAGE', 'JPEG images whose height is set by a DNL marker are not supported');
    }
    return checked({ format: 'jpeg', width: frame.width, height: frame.height });
  }
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return checked({ format: 'png', ...readPngSize(bytes) });
  if (isTiff(bytes)) {
    const { width, height } = readTiffHeader(bytes);
    return checked({ format: 'tiff', width, height });
  }
  if (isIsoBmff(bytes)) {
    const { width, height } = readHeifHeader(bytes);
    return checked({ format: 'heic', width, height });
  }
  throw unsupported();
}

function checked(p: PhotoProbe): PhotoProbe {
  if (p.width < 1 || p.height < 1) throw new LucidaError('INVALID_IMAGE', `${p.format.toUpperCase()}: the header declares an empty image`);
  return p;
}

/** IHDR, which PNG requires to be the first chunk (PNG §11.2.2). */
function readPngSize(buf: Buffer): { width: number; height: number } {
  if (buf.length < 8 + 8 + 13) throw new LucidaError('INVALID_IMAGE', 'PNG: the file ends inside the header (truncated)');
  if (buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new LucidaError('INVALID_IMAGE', 'PNG: the first chunk is not a valid IHDR');
  }
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const depth = buf[24];
  const colour = buf[25];
  const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (width > PNG_MAX_DIMENSION || height > PNG_MAX_DIMENSION || !depths[colour]?.includes(depth)) {
    throw new LucidaError('INVALID_IMAGE', 'PNG: the header declares impossible dimensions, bit depth or colour type');
  }
  return { width, height };
}

const isTiff = (b: Buffer) =>
  b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a));

export interface TiffHeader {
  width: number;
  height: number;
  /** Compression (259) of the first image: 1 none, 5 LZW, 7 JPEG, 8 Deflate... (TIFF 6.0 §8). */
  compression: number;
}

/**
 * Reads ImageWidth (256), ImageLength (257) and Compression (259) from the first IFD (TIFF 6.0 §2),
 * the image libvips decodes.
 * @throws LucidaError INVALID_IMAGE when the IFD is out of bounds or lacks the dimensions.
 */
export function readTiffHeader(buf: Buffer): TiffHeader {
  const damaged = (what: string) => new LucidaError('INVALID_IMAGE', `TIFF: ${what}`);
  if (!isTiff(buf) || buf.length < 8) throw damaged('the file ends inside the header (truncated)');
  const le = buf[0] === 0x49;
  const u16 = (p: number) => (le ? buf.readUInt16LE(p) : buf.readUInt16BE(p));
  const u32 = (p: number) => (le ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
  const ifd = u32(4);
  if (ifd < 8 || ifd + 2 > buf.length) throw damaged('the first image directory is outside the file (truncated)');
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > buf.length) throw damaged('the first image directory runs past the end of the file (truncated)');
  const values = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = u16(e);
    if (tag !== 256 && tag !== 257 && tag !== 259) continue;
    const type = u16(e + 2);
    if (u32(e + 4) < 1) continue;
    // SHORT (3) and LONG (4) values of count 1 sit left-justified in the value field.
    if (type === 3) values.set(tag, u16(e + 8));
    else if (type === 4) values.set(tag, u32(e + 8));
  }
  const width = values.get(256);
  const height = values.get(257);
  if (width === undefined || height === undefined) throw damaged('the first image has no width or height');
  return { width, height, compression: values.get(259) ?? 1 };
}
