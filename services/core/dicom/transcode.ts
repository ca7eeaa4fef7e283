/**
 * Transfer syntax conversion for retrieval (PS3.18 §8.7.3.5: a client that cannot take the stored syntax
 * gets Explicit VR Little Endian, which every origin server must be able to send).
 *
 * Sources: the four native syntaxes (byte-level re-encoding, see encode.ts, which also writes the
 * other native syntaxes) and JPEG Baseline 8-bit (every frame decoded with sharp). Anything else is
 * UNSUPPORTED_TRANSFER_SYNTAX: Lucida stores what it receives and does not ship other codecs.
 *
 * Decoding a JPEG frame yields RGB (sharp applies the JFIF YCbCr→RGB conversion), so colour instances
 * become PhotometricInterpretation RGB, PlanarConfiguration 0, SamplesPerPixel 3; MONOCHROME2 stays.
 * Lossy Image Compression (0028,2110) becomes "01": the pixels have been through a lossy codec
 * (PS3.3 C.7.6.1.1.5), even though this step adds no loss.
 */
import sharp, { type OutputInfo } from 'sharp';
import { LucidaError } from '../errors.js';
import { encodePart10, textValue, usValue, type EncodeOptions, type ReplacementValue } from './encode.js';
import { MAX_DECODE_PIXELS, assertDecodable, getFrames, type FrameSource } from './frames.js';
import { readChecked } from './parse.js';
import type { Part10File } from './reader.js';
import { NATIVE_TRANSFER_SYNTAXES, TS } from './uids.js';

/**
 * True when the codec can turn pixel data stored in `ts` into native pixel data: the native syntaxes
 * themselves and JPEG Baseline 8-bit. Every other syntax is UNSUPPORTED_TRANSFER_SYNTAX here.
 */
export function canDecodeToNative(ts: string): boolean {
  return NATIVE_TRANSFER_SYNTAXES.has(ts) || ts === TS.JPEGBaseline8Bit;
}

const T = {
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  PlanarConfiguration: 0x00280006,
  LossyImageCompression: 0x00282110,
  PixelData: 0x7fe00010,
} as const;

/**
 * Re-encodes a Part 10 instance as Explicit VR Little Endian (1.2.840.10008.1.2.1) with new file meta
 * information (same SOP Class/Instance UIDs, Lucida's implementation class UID and version name).
 * Returns the input itself when it already is Explicit VR Little Endian.
 * @throws LucidaError UNSUPPORTED_TRANSFER_SYNTAX for compressed syntaxes other than JPEG Baseline;
 *   INVALID_DICOM when the input or one of its JPEG frames cannot be read.
 */
export async function toExplicitVRLittleEndian(bytes: Uint8Array): Promise<Buffer> {
  const target = TS.ExplicitVRLittleEndian;
  const file = readChecked(bytes);
  const source = file.transferSyntaxUID;
  if (source === target) return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (NATIVE_TRANSFER_SYNTAXES.has(source)) return encodePart10(file, target);
  if (source === TS.JPEGBaseline8Bit) return encodePart10(file, target, await decodeJpegFrames(file));
  throw new LucidaError('UNSUPPORTED_TRANSFER_SYNTAX', `cannot decode transfer syntax ${source}`);
}

/** Decodes every JPEG frame to interleaved 8-bit samples; returns the attributes that change. */
async function decodeJpegFrames(file: Part10File): Promise<EncodeOptions> {
  const frames = getFrames(file);
  assertDecodable(frames);
  const mono = frames.samplesPerPixel === 1;
  const channels = mono ? 1 : 3;
  const frameSize = frames.rows * frames.columns * channels;
  const size = frameSize * frames.numberOfFrames;
  // Allocated with its (zero) pad byte to even length (PS3.5 §8.1.1), so the value needs no second copy.
  const pixels = Buffer.alloc(size + (size % 2));
  for (let n = 1; n <= frames.numberOfFrames; n++) {
    (await decodeJpegFrame(frames, n)).copy(pixels, (n - 1) * frameSize);
  }
  const replace = new Map<number, ReplacementValue>([
    [T.SamplesPerPixel, { vr: 'US', value: usValue(channels) }],
    // A greyscale JPEG keeps its MONOCHROME1/MONOCHROME2 interpretation.
    [T.PhotometricInterpretation, { vr: 'CS', value: textValue(mono ? monoInterpretation(frames.photometricInterpretation) : 'RGB') }],
    [T.LossyImageCompression, { vr: 'CS', value: textValue('01') }],
    [T.PixelData, { vr: 'OB', value: pixels }],
  ]);
  if (mono) return { replace, remove: new Set([T.PlanarConfiguration]) };
  replace.set(T.PlanarConfiguration, { vr: 'US', value: usValue(0) });
  return { replace };
}

/** One JPEG frame as interleaved 8-bit samples (RGB, or grey for SamplesPerPixel 1), checked against the data set. */
async function decodeJpegFrame(frames: FrameSource, n: number): Promise<Buffer> {
  const mono = frames.samplesPerPixel === 1;
  const channels = mono ? 1 : 3;
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(frames.frame(n), { limitInputPixels: MAX_DECODE_PIXELS, failOn: 'error' })
      .toColourspace(mono ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new LucidaError('INVALID_DICOM', `JPEG frame ${n} cannot be decoded: ${(e as Error).message}`);
  }
  const { info, data } = decoded;
  if (info.width !== frames.columns || info.height !== frames.rows || info.channels !== channels) {
    throw new LucidaError(
      'INVALID_DICOM',
      `JPEG frame ${n} is ${info.width}×${info.height}×${info.channels}, the data set says ${frames.columns}×${frames.rows}×${channels}`,
    );
  }
  return data;
}

/**
 * Frame `n` of `frames` uncompressed (little-endian, interleaved), as WADO-RS /frames sends it when
 * no compressed transfer syntax is asked for: native frames as they are, JPEG Baseline decoded.
 * @throws LucidaError UNSUPPORTED_TRANSFER_SYNTAX unless canDecodeToNative(frames.transferSyntaxUID);
 *   NOT_ACCEPTABLE above the decoding limit; INVALID_DICOM when the JPEG cannot be decoded.
 */
export async function decodeFrame(frames: FrameSource, n: number): Promise<Buffer> {
  if (!frames.encapsulated) return frames.frame(n);
  if (!canDecodeToNative(frames.transferSyntaxUID)) {
    throw new LucidaError('UNSUPPORTED_TRANSFER_SYNTAX', `cannot decode transfer syntax ${frames.transferSyntaxUID}`);
  }
  assertDecodable(frames);
  return decodeJpegFrame(frames, n);
}

function monoInterpretation(pi: string): string {
  return pi === 'MONOCHROME1' ? 'MONOCHROME1' : 'MONOCHROME2';
}
