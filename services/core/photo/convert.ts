/**
 * Camera image + clinical context → VL Photographic Image (PS3.3 A.32.4) Part 10 bytes.
 *
 * Three ways, chosen per image:
 * - wrapped: a Baseline (SOF0) 8-bit JPEG with 1 or 3 YCbCr components that needs no rotation keeps
 *   its entropy-coded data byte for byte (JPEG Baseline transfer syntax, PS3.5 §A.4.1), metadata
 *   segments removed (jpeg.ts). No generation loss, ≈ 10 ms for 12 MP.
 * - reencoded: anything lossy that cannot be wrapped (EXIF orientation ≠ 1, since viewers ignore EXIF
 *   inside DICOM; progressive or other JPEG processes, which map only to retired syntaxes; 12-bit;
 *   RGB- or CMYK-coded JPEG; HEIC) is decoded upright and encoded as Baseline JPEG (pixels.ts REENCODE).
 * - lossless: PNG and TIFF become native 8-bit samples, Explicit VR Little Endian.
 *
 * Same bytes + same context ⇒ same output bytes: nothing depends on the clock or randomness (UIDs and
 * createdAt come from the context), so a retried conversion is idempotent.
 */
import { TS, writePart10, type PixelDataValue } from '../dicom/index.js';
import { LucidaError } from '../errors.js';
import { buildDataset, type PixelAttributes } from './dataset.js';
import { probePhoto, readTiffHeader } from './detect.js';
import { readExif, type ExifInfo } from './exif.js';
import { readHeifHeader } from './heif.js';
import { parseJpeg, strippedJpegParts, type JpegStructure } from './jpeg.js';
import { REENCODE, encodeBaselineJpeg, encodeNative, openHeic, openOriented, type DecodeOptions } from './pixels.js';
import type { ConvertLimits, ConvertedPhoto, PhotoContext, PhotoFormat } from './types.js';

/** Pixels ready to store, and how they came to be. */
interface StoredPixels {
  encoding: ConvertedPhoto['encoding'];
  transferSyntaxUID: string;
  attributes: PixelAttributes;
  value: PixelDataValue;
}

const LABEL: Record<PhotoFormat, string> = { jpeg: 'JPEG', png: 'PNG', tiff: 'TIFF', heic: 'HEIC' };
const JPEG_METHOD = 'ISO_10918_1';
/** HEVC (PS3.3 C.7.6.1.1.5.1 Defined Terms for Lossy Image Compression Method). */
const HEVC_METHOD = 'ISO_23008_2';
const REENCODED_AS = `baseline JPEG (quality ${REENCODE.quality}, ${REENCODE.chromaSubsampling})`;

/**
 * Converts an uploaded photograph to a VL Photographic Image.
 * @throws LucidaError UNSUPPORTED_IMAGE (not JPEG/PNG/TIFF/HEIC, or a variant that cannot be decoded),
 *   INVALID_IMAGE (empty, truncated, corrupt), IMAGE_TOO_LARGE (more than `limits.maxPixels` pixels,
 *   checked from the header before anything is decoded).
 */
export async function convertPhoto(bytes: Buffer, context: PhotoContext, limits: ConvertLimits): Promise<ConvertedPhoto> {
  const probe = probePhoto(bytes);
  if (probe.width * probe.height > limits.maxPixels) {
    throw new LucidaError('IMAGE_TOO_LARGE', `the image is ${probe.width} × ${probe.height} pixels; at most ${limits.maxPixels} pixels are accepted`);
  }
  const opts: DecodeOptions = { maxPixels: limits.maxPixels, label: LABEL[probe.format] };
  const exif = await readExif(bytes, probe.format);
  let stored: StoredPixels;
  switch (probe.format) {
    case 'jpeg': stored = await fromJpeg(bytes, exif, opts); break;
    case 'heic': stored = await fromHeic(bytes, opts); break;
    default: stored = await fromLossless(bytes, probe.format, opts);
  }
  const dataset = buildDataset(context, exif.dataset, stored.attributes);
  return {
    // Pixel Data is appended by the writer, its megabytes copied once (see writePart10).
    part10: writePart10({ TransferSyntaxUID: stored.transferSyntaxUID }, dataset, { pixelData: stored.value }),
    sourceFormat: probe.format,
    encoding: stored.encoding,
    transferSyntaxUID: stored.transferSyntaxUID,
    columns: stored.attributes.columns,
    rows: stored.attributes.rows,
  };
}

/** Why a JPEG cannot be wrapped as it is, or undefined when it can. */
function whyNotWrappable(s: JpegStructure, exif: ExifInfo): string | undefined {
  const { frame } = s;
  const n = frame.components.length;
  if (frame.process !== 'baseline') return `${frame.process} JPEG`;
  if (frame.precision !== 8) return `${frame.precision}-bit JPEG`;
  if (n === 4) return 'CMYK JPEG';
  if (n !== 1 && n !== 3) return `${n}-component JPEG`;
  // Adobe transform 0, or component ids 'R','G','B' without APP14: RGB-coded, not YBR_FULL_422.
  const rgbIds = frame.components.map((c) => c.id).join() === '82,71,66';
  if (n === 3 && (s.adobeTransform === 0 || (s.adobeTransform === undefined && rgbIds))) return 'RGB-coded JPEG';
  if (exif.unreadable) return 'JPEG with unreadable EXIF';
  if ((exif.orientation ?? 1) !== 1) return 'baseline JPEG';
  return undefined;
}

async function fromJpeg(bytes: Buffer, exif: ExifInfo, opts: DecodeOptions): Promise<StoredPixels> {
  const s = parseJpeg(bytes);
  const stripped = strippedJpegParts(bytes, s);
  const { frame } = s;
  const samples = frame.components.length;
  const sourceRatio = (frame.width * frame.height * samples * Math.ceil(frame.precision / 8)) / stripped.length;
  const reason = whyNotWrappable(s, exif);
  if (reason === undefined) {
    return {
      encoding: 'wrapped',
      transferSyntaxUID: TS.JPEGBaseline8Bit,
      value: { fragments: [stripped.parts] },
      attributes: {
        rows: frame.height, columns: frame.width, samples: samples as 1 | 3, jpeg: true,
        lossy: [{ method: JPEG_METHOD, ratio: sourceRatio }],
        ...(stripped.icc ? { icc: stripped.icc } : {}),
      },
    };
  }
  const { pipeline, image } = await openOriented(bytes, opts);
  const earlier = frame.process === 'lossless' ? [] : [{ method: JPEG_METHOD, ratio: sourceRatio }];
  return reencoded(pipeline, image.channels, image.icc, earlier, [...image.steps, `re-encoded from ${reason} as ${REENCODED_AS}`], opts);
}

async function fromHeic(bytes: Buffer, opts: DecodeOptions): Promise<StoredPixels> {
  const header = readHeifHeader(bytes);
  const pipeline = await openHeic(bytes, opts);
  const steps: string[] = [];
  // HEIF's own transformations are authoritative; EXIF orientation in a HEIF file is informative only
  // (ISO/IEC 23008-12 §6.5.1: the transformative properties apply), so it is not applied again.
  if (header.rotation) steps.push(`HEIF rotation ${header.rotation}° applied`);
  if (header.mirrored) steps.push('HEIF mirroring applied');
  steps.push(`decoded from HEIC (HEVC) and encoded as ${REENCODED_AS}`);
  const ratio = (header.width * header.height * 3) / bytes.length;
  return reencoded(pipeline, 3, header.icc, [{ method: HEVC_METHOD, ratio }], steps, opts);
}

async function reencoded(
  pipeline: Parameters<typeof encodeBaselineJpeg>[0], channels: 1 | 3, icc: Buffer | undefined,
  earlier: PixelAttributes['lossy'], steps: string[], opts: DecodeOptions,
): Promise<StoredPixels> {
  const out = await encodeBaselineJpeg(pipeline, opts.label);
  // Our own output goes through the same checks and stripping as a camera file would.
  const s = parseJpeg(out.jpeg);
  if (s.frame.process !== 'baseline' || s.frame.components.length !== channels) {
    throw new LucidaError('INTERNAL', 'the JPEG encoder did not produce the expected baseline JPEG');
  }
  const stripped = strippedJpegParts(out.jpeg, s);
  return {
    encoding: 'reencoded',
    transferSyntaxUID: TS.JPEGBaseline8Bit,
    value: { fragments: [stripped.parts] },
    attributes: {
      rows: s.frame.height, columns: s.frame.width, samples: channels, jpeg: true,
      lossy: [...earlier, { method: JPEG_METHOD, ratio: (s.frame.width * s.frame.height * channels) / stripped.length }],
      ...(icc ? { icc } : {}),
      derivation: steps.join('; '),
    },
  };
}

async function fromLossless(bytes: Buffer, format: PhotoFormat, opts: DecodeOptions): Promise<StoredPixels> {
  const { pipeline, image } = await openOriented(bytes, opts);
  const out = await encodeNative(pipeline, opts.label);
  if (out.channels !== image.channels) throw new LucidaError('INVALID_IMAGE', `the ${opts.label} image has an unsupported channel layout`);
  // A JPEG-compressed TIFF (Compression 6 or 7, TIFF 6.0 §22 and TTN2) has already lost information.
  const jpegTiff = format === 'tiff' && [6, 7].includes(readTiffHeader(bytes).compression);
  return {
    encoding: 'lossless',
    transferSyntaxUID: TS.ExplicitVRLittleEndian,
    value: { native: out.pixels },
    attributes: {
      rows: out.height, columns: out.width, samples: image.channels, jpeg: false,
      lossy: jpegTiff ? [{ method: JPEG_METHOD }] : [],
      ...(image.icc ? { icc: image.icc } : {}),
      ...(image.steps.length ? { derivation: image.steps.join('; ') } : {}),
    },
  };
}
