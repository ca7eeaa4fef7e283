/**
 * Decoding to upright 8-bit pixels (sharp/libvips; heic-decode for HEVC-coded HEIC, which sharp's
 * prebuilt libvips cannot decode) and encoding them as Baseline JPEG or native samples.
 *
 * Colour: pixel values stay in the source's colour space and its ICC profile travels with them (ICC
 * Profile module, PS3.3 C.11.15), as for wrapped camera JPEGs; libvips would otherwise convert to
 * sRGB, a lossy step. CMYK (and other non-RGB spaces) are the exception: converted to sRGB, with the
 * sRGB profile attached.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { LucidaError } from '../errors.js';
import { HeicDecodeFailure, decodeHeicInWorker, type HeicRgba } from './heic-worker-pool.js';

/** Baseline JPEG settings for re-encoded images. */
export const REENCODE = {
  /** A second generation at this quality is visually lossless for photographs. */
  quality: 95,
  /**
   * No chroma subsampling: skin-tone edges (lesion borders, erythema) keep full colour resolution.
   * Labelled YBR_FULL_422 all the same, as VL Image prescribes for lossy JPEG colour (see dataset.ts).
   */
  chromaSubsampling: '4:4:4',
  /**
   * Standard Huffman tables: optimised ones save ≈ 10 % size but double the encoder's CPU time
   * (12 MP: ≈ 400 ms vs ≈ 200 ms CPU, measured); throughput wins.
   */
  optimiseCoding: false,
} as const;

export interface DecodedImage {
  channels: 1 | 3;
  /** What the decoder changed, for Derivation Description. */
  steps: string[];
  icc?: Buffer;
}

export interface DecodeOptions {
  /** Largest width × height sharp may decode (limitInputPixels). */
  maxPixels: number;
  /** Label for messages ('JPEG', 'PNG', ...). */
  label: string;
}

let srgb: Promise<Buffer> | undefined;

/** libvips's built-in sRGB profile, for images converted to sRGB. */
function srgbProfile(): Promise<Buffer> {
  srgb ??= sharp({ create: { width: 1, height: 1, channels: 3, background: '#000000' } })
    .withIccProfile('srgb').png().toBuffer()
    .then(async (png) => (await sharp(png).metadata()).icc as Buffer);
  return srgb;
}

/** Maps a libvips/sharp failure to the error catalogue; decoder messages carry no patient data. */
function decodeError(label: string, e: unknown): LucidaError {
  const message = String((e as Error)?.message ?? e).split('\n')[0].slice(0, 200);
  if (/pixel limit/i.test(message)) return new LucidaError('IMAGE_TOO_LARGE', `the ${label} image has more pixels than this archive accepts`);
  if (/unsupported image format/i.test(message)) return new LucidaError('UNSUPPORTED_IMAGE', `the ${label} image cannot be read (${message})`);
  return new LucidaError('INVALID_IMAGE', `the ${label} image cannot be decoded (${message})`);
}

/**
 * An upright, alpha-free, 8-bit pipeline over an encoded image (JPEG, PNG, TIFF), with what it will do.
 * Orientation comes from the decoder's reading of EXIF/TIFF orientation, the one `autoOrient` applies.
 */
export async function openOriented(bytes: Buffer, opts: DecodeOptions): Promise<{ pipeline: Sharp; image: DecodedImage }> {
  const base = { failOn: 'error' as const, limitInputPixels: opts.maxPixels };
  let meta: Metadata;
  try {
    meta = await sharp(bytes, base).metadata();
  } catch (e) {
    throw decodeError(opts.label, e);
  }
  const grey = meta.space === 'b-w' || meta.space === 'grey16' || meta.channels === 1 || (meta.channels === 2 && meta.hasAlpha);
  const convert = !grey && meta.space !== 'srgb' && meta.space !== 'rgb16' && meta.space !== 'rgb';
  const steps: string[] = [];
  const orientation = meta.orientation ?? 1;
  if (orientation > 1) steps.push(`${opts.label === 'TIFF' ? 'TIFF' : 'EXIF'} orientation ${orientation} applied`);
  let p = sharp(bytes, { ...base, ignoreIcc: !convert }).autoOrient();
  if (meta.hasAlpha) {
    p = p.flatten({ background: '#ffffff' });
    steps.push('alpha channel flattened onto white');
  }
  if (meta.depth && !['uchar', 'char'].includes(meta.depth)) steps.push(`${depthBits(meta.depth)}-bit samples reduced to 8 bits`);
  if (convert) steps.push(`converted from ${meta.space?.toUpperCase() ?? 'its colour space'} to sRGB`);
  p = p.toColourspace(grey ? 'b-w' : 'srgb');
  const icc = convert ? await srgbProfile() : meta.icc;
  return { pipeline: p, image: { channels: grey ? 1 : 3, steps, ...(icc ? { icc } : {}) } };
}

const depthBits = (depth: string) => ({ ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64 } as Record<string, number>)[depth] ?? 16;

/**
 * Decodes a HEVC-coded HEIC (HEIF transformations applied by libheif) into an RGB sharp pipeline.
 * libheif runs in a worker thread (heic-worker-pool.ts): on this thread it would hold the event loop
 * for seconds.
 */
export async function openHeic(bytes: Buffer, opts: DecodeOptions): Promise<Sharp> {
  let decoded: HeicRgba;
  try {
    decoded = await decodeHeicInWorker(bytes);
  } catch (e) {
    throw heicDecodeError(e);
  }
  const { width, height, data } = decoded;
  const rgba = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return sharp(rgba, { raw: { width, height, channels: 4 }, limitInputPixels: opts.maxPixels })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
}

/** Maps a failed HEIC decode to the error catalogue. */
function heicDecodeError(e: unknown): LucidaError {
  const message = String((e as Error)?.message ?? e).slice(0, 200);
  if (!(e instanceof HeicDecodeFailure)) return new LucidaError('INTERNAL', `HEIC decoding failed (${message})`);
  switch (e.kind) {
    case 'unsupported': return new LucidaError('UNSUPPORTED_IMAGE', 'this HEIF variant is not supported');
    case 'undecodable': return new LucidaError('INVALID_IMAGE', `the HEIC image cannot be decoded (${message})`);
    // Not the file's fault as far as anyone knows (out of memory, say): INTERNAL, so the job is retried.
    case 'stopped': return new LucidaError('INTERNAL', message);
  }
}

/** Encodes a pipeline as Baseline JPEG ({@link REENCODE}), without any metadata segment. */
export async function encodeBaselineJpeg(p: Sharp, label: string): Promise<{ jpeg: Buffer; width: number; height: number; channels: number }> {
  try {
    const { data, info } = await p
      .jpeg({ ...REENCODE, progressive: false, mozjpeg: false, trellisQuantisation: false, overshootDeringing: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw decodeError(label, e);
  }
}

/** Decodes a pipeline to native 8-bit samples, colour-by-pixel. */
export async function encodeNative(p: Sharp, label: string): Promise<{ pixels: Buffer; width: number; height: number; channels: number }> {
  try {
    const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { pixels: data, width: info.width, height: info.height, channels: info.channels };
  } catch (e) {
    throw decodeError(label, e);
  }
}
