/**
 * Rendered frames for WADO-RS /rendered and thumbnails (PS3.18 §9.5, §10.4.1.1.3): one frame to an
 * 8-bit JPEG or PNG with sharp.
 *
 * - JPEG Baseline (and 8-bit JPEG Extended) frames go to sharp as they are (sharp does the YCbCr→RGB
 *   conversion); greyscale ones stay greyscale, MONOCHROME1 is inverted.
 * - Native colour (RGB, 8 or 16 bits; PlanarConfiguration 0 or 1; YBR_FULL converted to RGB).
 * - Native greyscale: Modality LUT (Rescale Slope/Intercept), then VOI LUT from the first Window
 *   Center/Width (PS3.3 C.11.2.1.2: LINEAR, LINEAR_EXACT, SIGMOID), else the frame's min/max; 8-bit
 *   data without rescale or window is shown as stored. Enhanced multi-frame instances take these from
 *   the per-frame or shared functional groups. MONOCHROME1 is inverted.
 * - PALETTE COLOR and native YBR_*_422/420 are NOT_ACCEPTABLE; other compressed syntaxes are
 *   UNSUPPORTED_TRANSFER_SYNTAX. JPEG frames are shown as decoded: no VOI LUT is applied to them.
 * - Frames above MAX_DECODE_PIXELS (100 megapixels, frames.ts) are refused (decompression bomb guard,
 *   also passed to sharp).
 */
import sharp, { type Sharp } from 'sharp';
import { LucidaError } from '../errors.js';
import { MAX_DECODE_PIXELS, assertDecodable, getFrames, type FrameSource } from './frames.js';
import type { DicomDataSet, Part10File } from './reader.js';
import { readAscii } from './reader.js';
import { TS } from './uids.js';

export interface RenderOptions {
  format: 'jpeg' | 'png';
  /** JPEG quality 1–100, default 90. Ignored for PNG. */
  quality?: number;
  /** Fit inside this box keeping the aspect ratio; never enlarges. */
  viewport?: { width: number; height: number };
}

const T = {
  WindowCenter: 0x00281050,
  WindowWidth: 0x00281051,
  RescaleIntercept: 0x00281052,
  RescaleSlope: 0x00281053,
  VOILUTFunction: 0x00281056,
  FrameVOILUTSequence: 0x00289132,
  PixelValueTransformationSequence: 0x00289145,
  SharedFunctionalGroupsSequence: 0x52009229,
  PerFrameFunctionalGroupsSequence: 0x52009230,
} as const;

/**
 * Renders frame `frameNumber` (1-based) of a Part 10 instance.
 * @throws LucidaError NOT_FOUND (no such frame or no pixel data), NOT_ACCEPTABLE (photometric
 *   interpretation not renderable, image too large), UNSUPPORTED_TRANSFER_SYNTAX, BAD_REQUEST (viewport
 *   or quality out of range), INVALID_DICOM (frame cannot be decoded).
 */
export async function renderFrame(bytes: Uint8Array | Part10File, frameNumber: number, opts: RenderOptions): Promise<Buffer> {
  const image = framePipeline(getFrames(bytes), frameNumber).open();
  try {
    return await encodeRendering(image, opts);
  } catch (e) {
    throw renderError(e, frameNumber);
  }
}

/** A frame's pixels ready for sharp: what renderFrame resizes and encodes. */
export interface FramePipeline {
  /** Channels sharp outputs: 1 greyscale, 3 colour. */
  channels: 1 | 3;
  /**
   * A new sharp pipeline reading the frame (call once per output image): JPEG frames decoded by sharp,
   * native frames after the LUTs, greyscale kept as one channel. The native pixels are prepared once,
   * in framePipeline, whatever the number of pipelines opened.
   */
  open(): Sharp;
}

/**
 * Prepares frame `frameNumber` of `frames` for rendering, up to (not including) resizing and encoding.
 * @throws LucidaError NOT_FOUND (no such frame), NOT_ACCEPTABLE (photometric interpretation not
 *   renderable, frame too large), UNSUPPORTED_TRANSFER_SYNTAX.
 */
export function framePipeline(frames: FrameSource, frameNumber: number): FramePipeline {
  const data = frames.frame(frameNumber);
  assertDecodable(frames);
  // libjpeg-turbo in sharp decodes 8-bit sequential DCT JPEG: Baseline, and Extended when 8-bit (process 2).
  const jpeg8 = frames.transferSyntaxUID === TS.JPEGBaseline8Bit
    || (frames.transferSyntaxUID === TS.JPEGExtended && frames.bitsStored <= 8);
  if (jpeg8) {
    const mono = frames.samplesPerPixel === 1;
    const negate = frames.photometricInterpretation === 'MONOCHROME1';
    return {
      channels: mono ? 1 : 3,
      open() {
        let image = sharp(data, { limitInputPixels: MAX_DECODE_PIXELS, failOn: 'error' });
        if (negate) image = image.negate({ alpha: false });
        return mono ? image.toColourspace('b-w') : image;
      },
    };
  }
  if (frames.encapsulated) {
    throw new LucidaError('UNSUPPORTED_TRANSFER_SYNTAX', `cannot render frames in transfer syntax ${frames.transferSyntaxUID}`);
  }
  const raw = frames.samplesPerPixel === 1 ? greyscale(frames, data, frameNumber) : colour(frames, data);
  return {
    channels: raw.channels,
    open() {
      const image = sharp(raw.pixels, {
        raw: { width: frames.columns, height: frames.rows, channels: raw.channels },
        limitInputPixels: MAX_DECODE_PIXELS,
      });
      // Without this sharp writes greyscale as three identical channels.
      return raw.channels === 1 ? image.toColourspace('b-w') : image;
    },
  };
}

/**
 * Fits `image` (from {@link framePipeline}) inside `opts.viewport`, never enlarging, and encodes it
 * as `opts` asks: the last steps of renderFrame.
 * @throws LucidaError BAD_REQUEST for a viewport or quality out of range; sharp's own errors as they
 *   are (see {@link renderError}).
 */
export async function encodeRendering(image: Sharp, opts: RenderOptions): Promise<Buffer> {
  if (opts.viewport) {
    const { width, height } = opts.viewport;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new LucidaError('BAD_REQUEST', 'viewport width and height must be positive integers');
    }
    image = image.resize({ width, height, fit: 'inside', withoutEnlargement: true });
  }
  const quality = Math.round(opts.quality ?? 90);
  if (!(quality >= 1 && quality <= 100)) throw new LucidaError('BAD_REQUEST', 'quality must be between 1 and 100');
  return (opts.format === 'png' ? image.png() : image.jpeg({ quality })).toBuffer();
}

/**
 * A failure while rendering frame `frameNumber` as a LucidaError: LucidaErrors as they are, sharp's
 * pixel limit as NOT_ACCEPTABLE, any other decoding failure as INVALID_DICOM.
 */
export function renderError(e: unknown, frameNumber: number): LucidaError {
  if (e instanceof LucidaError) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (/pixel limit/i.test(msg)) return new LucidaError('NOT_ACCEPTABLE', 'image exceeds the rendering pixel limit');
  return new LucidaError('INVALID_DICOM', `frame ${frameNumber} cannot be decoded: ${msg}`);
}

/** Reads sample `i` of a native frame as a number (stored value, before any LUT). */
function sampleReader(f: FrameSource, data: Buffer): (i: number) => number {
  const { bitsAllocated, bitsStored, pixelRepresentation } = f;
  const signed = pixelRepresentation === 1;
  const shift = 32 - bitsStored;
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  // Bits above High Bit may hold overlays or garbage (PS3.5 §8.1.1): mask them off, then sign-extend.
  const fix = signed ? (v: number) => ((v << shift) >> shift) : (v: number) => (v & mask) >>> 0;
  switch (bitsAllocated) {
    case 8: return (i) => fix(data[i]);
    case 16: return (i) => fix(data.readUInt16LE(i * 2));
    case 32: return (i) => fix(data.readUInt32LE(i * 4));
    default: throw new LucidaError('NOT_ACCEPTABLE', `cannot render BitsAllocated ${bitsAllocated}`);
  }
}

function colour(f: FrameSource, data: Buffer): { pixels: Buffer; channels: 3 } {
  const pi = f.photometricInterpretation;
  if (f.samplesPerPixel !== 3 || !(pi === 'RGB' || pi === 'YBR_FULL')) {
    throw new LucidaError('NOT_ACCEPTABLE', `cannot render native ${pi || 'unknown'} with ${f.samplesPerPixel} samples per pixel`);
  }
  // 8-bit colour-by-pixel RGB is already what sharp reads: no per-pixel copy.
  if (pi === 'RGB' && f.bitsAllocated === 8 && f.bitsStored === 8 && f.pixelRepresentation === 0 && f.planarConfiguration === 0) {
    return { pixels: data, channels: 3 };
  }
  const n = f.rows * f.columns;
  const read = sampleReader(f, data);
  const down = Math.max(0, f.bitsStored - 8);
  const out = Buffer.allocUnsafe(n * 3);
  const planar = f.planarConfiguration === 1;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const v = read(planar ? c * n + p : p * 3 + c) >>> down;
      out[p * 3 + c] = v > 255 ? 255 : v;
    }
  }
  if (pi === 'YBR_FULL') ybrFullToRgb(out);
  return { pixels: out, channels: 3 };
}

/** PS3.3 C.7.6.3.1.2 YBR_FULL → RGB (ITU-R BT.601 full range), in place. */
function ybrFullToRgb(px: Buffer): void {
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < px.length; i += 3) {
    const y = px[i];
    const cb = px[i + 1] - 128;
    const cr = px[i + 2] - 128;
    px[i] = clamp(y + 1.402 * cr);
    px[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    px[i + 2] = clamp(y + 1.772 * cb);
  }
}

interface GreyscaleLuts {
  slope: number;
  intercept: number;
  center?: number;
  width?: number;
  fn: string;
}

function greyscale(f: FrameSource, data: Buffer, frameNumber: number): { pixels: Buffer; channels: 1 } {
  const pi = f.photometricInterpretation;
  if (pi !== 'MONOCHROME1' && pi !== 'MONOCHROME2') {
    throw new LucidaError('NOT_ACCEPTABLE', `cannot render ${pi || 'unknown photometric interpretation'}`);
  }
  const n = f.rows * f.columns;
  const read = sampleReader(f, data);
  const lut = greyscaleLuts(f.file, frameNumber);
  const out = Buffer.allocUnsafe(n);
  const identity = lut.slope === 1 && lut.intercept === 0;
  if (lut.center === undefined && identity && f.bitsStored <= 8 && f.pixelRepresentation === 0) {
    for (let p = 0; p < n; p++) out[p] = read(p);
  } else {
    const modality = (p: number) => read(p) * lut.slope + lut.intercept;
    const voi = voiFunction(lut, n, modality);
    for (let p = 0; p < n; p++) out[p] = voi(modality(p));
  }
  if (pi === 'MONOCHROME1') for (let p = 0; p < n; p++) out[p] = 255 - out[p];
  return { pixels: out, channels: 1 };
}

/**
 * The VOI LUT function mapping modality values to 0–255 (PS3.3 C.11.2.1.2–C.11.2.1.3). Without a
 * window, the frame's range: one pass over the `n` values `modality(p)` for their min and max.
 */
function voiFunction(lut: GreyscaleLuts, n: number, modality: (p: number) => number): (x: number) => number {
  const round = (y: number) => (y <= 0 ? 0 : y >= 255 ? 255 : Math.round(y));
  if (lut.center !== undefined && lut.width !== undefined) {
    const c = lut.center;
    const w = lut.width;
    if (lut.fn === 'SIGMOID' && w > 0) return (x) => round(255 / (1 + Math.exp((-4 * (x - c)) / w)));
    if (lut.fn === 'LINEAR_EXACT' && w > 0) {
      return (x) => (x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : round(((x - c) / w + 0.5) * 255));
    }
    if (w >= 1) {
      // LINEAR (C.11.2.1.2.1): the default.
      const low = c - 0.5 - (w - 1) / 2;
      const high = c - 0.5 + (w - 1) / 2;
      if (w === 1) return (x) => (x <= low ? 0 : 255);
      return (x) => (x <= low ? 0 : x > high ? 255 : round(((x - (c - 0.5)) / (w - 1) + 0.5) * 255));
    }
  }
  let min = Infinity;
  let max = -Infinity;
  for (let p = 0; p < n; p++) {
    const v = modality(p);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) return () => 0;
  const scale = 255 / (max - min);
  return (x) => round((x - min) * scale);
}

function greyscaleLuts(file: Part10File, frameNumber: number): GreyscaleLuts {
  // Enhanced multi-frame IODs carry these in functional groups (PS3.3 C.7.6.16): per-frame wins.
  const groups: DicomDataSet[] = [];
  const perFrame = file.dataset.elements.get(T.PerFrameFunctionalGroupsSequence)?.items?.[frameNumber - 1];
  if (perFrame) groups.push(perFrame);
  const shared = file.dataset.elements.get(T.SharedFunctionalGroupsSequence)?.items?.[0];
  if (shared) groups.push(shared);
  const fromGroups = (macro: number, tag: number) => {
    for (const g of groups) {
      const item = g.elements.get(macro)?.items?.[0];
      const v = item && readFirst(file, item, tag);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const get = (macro: number, tag: number) => fromGroups(macro, tag) ?? readFirst(file, file.dataset, tag);
  const num = (s: string | undefined) => (s !== undefined && s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined);
  const pvt = T.PixelValueTransformationSequence;
  const voi = T.FrameVOILUTSequence;
  const width = num(get(voi, T.WindowWidth));
  const center = num(get(voi, T.WindowCenter));
  return {
    slope: num(get(pvt, T.RescaleSlope)) ?? 1,
    intercept: num(get(pvt, T.RescaleIntercept)) ?? 0,
    center: width !== undefined && width > 0 ? center : undefined,
    width: center !== undefined ? width : undefined,
    fn: (get(voi, T.VOILUTFunction) ?? 'LINEAR').trim().toUpperCase(),
  };
}

/** First value of a string-valued element (DS, CS). */
function readFirst(file: Part10File, ds: DicomDataSet, tag: number): string | undefined {
  const el = ds.elements.get(tag);
  if (!el || el.items) return undefined;
  return readAscii(file.bytes, el)?.split('\\')[0];
}
