/**
 * Image-quality figures for a clinical photograph, cheap enough to show while the patient is still
 * in the studio: resolution, sharpness and exposure, plus flags telling the photographer what to
 * look at before deciding on a retake. Advisory only: `verdict: 'review'` asks a person to look.
 *
 * Method (all on one downscaled copy, long side {@link QA_ANALYSIS_LONG_SIDE} px):
 * - The image is decoded straight to that size, alpha dropped. For JPEG, sharp's shrink-on-load
 *   decodes at a reduced DCT scale (1/2 for a 12 MP photo: sharp takes 1/4 only from a factor of 5),
 *   so what is left of the cost is mostly entropy decoding, which grows with the file size: ≈ 45 ms
 *   for a 1.8 MB 12 MP JPEG, ≈ 65 ms for 4 MB, on one core of the 2-core dev machine.
 * - Luma Y′ = 0.299 R′ + 0.587 G′ + 0.114 B′ (ITU-R BT.601 on the gamma-encoded 8-bit values: the Y a
 *   JPEG stores and a camera's luminance histogram shows). Greyscale images are their own luma.
 * - Sharpness: the variance of the 4-neighbour Laplacian of luma (the 3×3 kernel 0 1 0 / 1 −4 1 /
 *   0 1 0) over the interior pixels, in luma levels². Measuring every image on the same grid (the long
 *   side resampled to 1024 px) is the size normalisation: the same scene
 *   photographed at 12 MP or 3 MP scores about the same, and thresholds mean the same for every
 *   image. Downscaling also averages away sensor noise, which would otherwise read as detail.
 *   Limitations: it measures fine detail, not focus. It depends on content (a smooth, featureless
 *   subject or low-contrast skin scores low even when in focus; hair, text and texture score high),
 *   on contrast (an underexposed image scores lower), and on noise (heavy noise or JPEG artefacts
 *   raise it). It cannot tell which part of the frame is sharp: a sharp background behind a blurred
 *   lesion passes. Images smaller than the grid are measured at their own size (not
 *   enlarged), so their sharpness is not comparable with larger ones; they are LOW_RESOLUTION anyway.
 * - Exposure: the fraction of pixels whose luma is ≤ {@link SHADOW_CLIP_LEVEL} (crushed shadows) or
 *   ≥ {@link HIGHLIGHT_CLIP_LEVEL} (blown highlights), and the mean luma. Luma, not per channel: a
 *   single saturated channel (e.g. red in strongly erythematous skin) is not counted.
 */
import sharp, { type Sharp } from 'sharp';
import { LucidaError } from '../errors.js';
import { MAX_DECODE_PIXELS } from '../dicom/frames.js';

/** Long side, in pixels, of the copy every figure except the resolution is computed on. */
export const QA_ANALYSIS_LONG_SIDE = 1024;
/** Luma at or below this is a crushed shadow (no detail left; 0–2 allows for JPEG noise around 0). */
export const SHADOW_CLIP_LEVEL = 2;
/** Luma at or above this is a blown highlight (253–255, allowing for JPEG noise around 255). */
export const HIGHLIGHT_CLIP_LEVEL = 253;

/** Limits behind the flags. Departments can override any of them (`opts.thresholds`). */
export interface QaThresholds {
  /** LOW_RESOLUTION below this many megapixels. */
  minMegapixels: number;
  /** BLURRED below this sharpness (variance of the Laplacian on the analysis grid, luma levels²). */
  minSharpness: number;
  /** UNDEREXPOSED when more than this fraction of pixels is crushed (luma ≤ SHADOW_CLIP_LEVEL). */
  maxShadowClipping: number;
  /** OVEREXPOSED when more than this fraction of pixels is blown (luma ≥ HIGHLIGHT_CLIP_LEVEL). */
  maxHighlightClipping: number;
  /** UNDEREXPOSED when the mean luma is below this. */
  minMeanLuminance: number;
  /** OVEREXPOSED when the mean luma is above this. */
  maxMeanLuminance: number;
}

/**
 * Default limits, chosen as follows:
 * - minMegapixels 2: a full-HD clinical display is 2.07 MP; below that a photograph cannot fill the
 *   screen or be zoomed into, and every current camera or phone gives ≥ 8 MP, so < 2 MP means a
 *   screenshot, a crop, a messaging-app copy or a wrong camera setting.
 * - minSharpness 25: flags clear defocus or movement, not slight softness. Measured on the 1024 px
 *   grid with the images of qa.test.ts: a 12 MP scene of sharp-edged shapes on a gradient scores 140,
 *   then 118 / 68 / 17 / 3 after a Gaussian blur of σ = 1 / 2 / 4 / 8 px at 12 MP; a smooth scene
 *   whose only detail is fine sensor-like texture (the makeBenchPhoto recipe) scores 44, then
 *   31 / 13 / 3 / 2. Set low on purpose, so that smooth subjects in focus are rarely flagged:
 *   calibrate on the department's own photographs.
 * - maxShadowClipping / maxHighlightClipping 5 %: specular highlights on skin or moist tissue are
 *   normally well under 1 % of the frame; 5 % is an area large enough to have lost clinical detail.
 *   A deliberately black or blown-white background counts too: raise these where that is the house
 *   style.
 * - minMeanLuminance 40 / maxMeanLuminance 220: about 3 stops under and 2 stops over sRGB middle grey
 *   (18 % reflectance ≈ luma 118), outside the range of a correct exposure even on a dark or light
 *   background.
 */
export const DEFAULT_QA_THRESHOLDS: Readonly<QaThresholds> = Object.freeze({
  minMegapixels: 2,
  minSharpness: 25,
  maxShadowClipping: 0.05,
  maxHighlightClipping: 0.05,
  minMeanLuminance: 40,
  maxMeanLuminance: 220,
});

export type QaFlagCode = 'BLURRED' | 'UNDEREXPOSED' | 'OVEREXPOSED' | 'LOW_RESOLUTION';

/** A finding: `code` is stable (match on it), `message` is for people and may change. */
export interface QaFlag {
  code: QaFlagCode;
  message: string;
}

export interface ImageQa {
  /** Size of the image itself (not of the analysis copy). */
  width: number;
  height: number;
  megapixels: number;
  /** Variance of the Laplacian of luma on the analysis grid (luma levels²); higher is sharper. */
  sharpness: number;
  /** Fractions (0–1) of pixels whose luma is ≤ SHADOW_CLIP_LEVEL / ≥ HIGHLIGHT_CLIP_LEVEL. */
  clipping: { shadows: number; highlights: number };
  /** Mean luma, 0–255. */
  meanLuminance: number;
  /** Size of the copy the figures were computed on. */
  analysed: { width: number; height: number };
  flags: QaFlag[];
  /** `review` when there is any flag. */
  verdict: 'ok' | 'review';
}

/** Decoded 8-bit pixels, interleaved (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). */
export interface RawImage {
  pixels: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /**
   * When `pixels` is already a downscaled copy: the size of the image it was made from, reported as
   * the resolution. Pass a copy with long side {@link QA_ANALYSIS_LONG_SIDE} to skip resampling.
   */
  sourceWidth?: number;
  sourceHeight?: number;
}

export interface QaOptions {
  thresholds?: Partial<QaThresholds>;
}

/**
 * Measures a photograph: `input` is an encoded image sharp can read (JPEG, PNG, TIFF...) or decoded
 * 8-bit pixels.
 * @throws LucidaError INVALID_IMAGE when the image cannot be decoded, IMAGE_TOO_LARGE above
 *   MAX_DECODE_PIXELS (decompression-bomb guard).
 */
export async function measureImageQa(input: Buffer | RawImage, opts: QaOptions = {}): Promise<ImageQa> {
  const thresholds = { ...DEFAULT_QA_THRESHOLDS, ...opts.thresholds };
  let source: { width: number; height: number };
  let grid: RawImage;
  if (Buffer.isBuffer(input)) {
    const decoded = await decodeForAnalysis(input);
    source = decoded.source;
    grid = decoded.grid;
  } else {
    checkRaw(input);
    source = { width: input.sourceWidth ?? input.width, height: input.sourceHeight ?? input.height };
    grid = await toAnalysisGrid(input);
  }
  const figures = measure(grid);
  const megapixels = (source.width * source.height) / 1e6;
  const qa = {
    width: source.width,
    height: source.height,
    megapixels,
    ...figures,
    analysed: { width: grid.width, height: grid.height },
  };
  const flags = flagsFor(qa, thresholds);
  return { ...qa, flags, verdict: flags.length ? 'review' : 'ok' };
}

/**
 * Width and height fitting inside the analysis square: long side QA_ANALYSIS_LONG_SIDE, or the image's
 * own size when smaller (enlarging would only cost time: a 64×48 image took 33 ms instead of < 1).
 */
export function analysisSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, QA_ANALYSIS_LONG_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Decodes an image onto the analysis grid ({@link analysisSize}): 8-bit, alpha dropped, greyscale as
 * one channel. `image` is a sharp pipeline over a `width` × `height` image with no resize of its own;
 * the resize to the grid lets sharp decode JPEGs at a reduced DCT scale (shrink-on-load). sharp's
 * errors are thrown as they are, for the caller to map.
 */
export async function decodeToAnalysisGrid(image: Sharp, width: number, height: number, grey: boolean): Promise<RawImage> {
  // sharp outputs greyscale as three equal channels unless told otherwise.
  if (grey) image = image.toColourspace('b-w');
  if (Math.max(width, height) > QA_ANALYSIS_LONG_SIDE) image = image.resize({ ...analysisSize(width, height), fit: 'fill' });
  const { data, info } = await image.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

async function decodeForAnalysis(encoded: Buffer): Promise<{ source: { width: number; height: number }; grid: RawImage }> {
  try {
    const image = sharp(encoded, { failOn: 'error', limitInputPixels: MAX_DECODE_PIXELS });
    const meta = await image.metadata();
    if (!meta.width || !meta.height) throw new LucidaError('INVALID_IMAGE', 'image has no dimensions');
    const grey = meta.channels === 1 || meta.channels === 2;
    return { source: { width: meta.width, height: meta.height }, grid: await decodeToAnalysisGrid(image, meta.width, meta.height, grey) };
  } catch (e) {
    throw asImageError(e);
  }
}

async function toAnalysisGrid(raw: RawImage): Promise<RawImage> {
  if (Math.max(raw.width, raw.height) <= QA_ANALYSIS_LONG_SIDE) return raw;
  try {
    const image = sharp(raw.pixels, {
      raw: { width: raw.width, height: raw.height, channels: raw.channels },
      limitInputPixels: MAX_DECODE_PIXELS,
    });
    return await decodeToAnalysisGrid(image, raw.width, raw.height, raw.channels <= 2);
  } catch (e) {
    throw asImageError(e);
  }
}

function checkRaw(raw: RawImage): void {
  const { width, height, channels, pixels } = raw;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || ![1, 2, 3, 4].includes(channels)) {
    throw new LucidaError('INVALID_IMAGE', 'raw image needs positive integer width and height and 1–4 channels');
  }
  if (pixels.length < width * height * channels) throw new LucidaError('INVALID_IMAGE', 'raw image is shorter than width × height × channels');
  if (width * height > MAX_DECODE_PIXELS) throw new LucidaError('IMAGE_TOO_LARGE', `image of ${width}×${height} pixels exceeds the limit`);
}

function asImageError(e: unknown): LucidaError {
  if (e instanceof LucidaError) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (/pixel limit/i.test(msg)) return new LucidaError('IMAGE_TOO_LARGE', 'image exceeds the decoding pixel limit');
  return new LucidaError('INVALID_IMAGE', `image cannot be decoded: ${msg}`);
}

/** Luma histogram (clipping, mean) and Laplacian variance of an analysis copy. */
function measure(img: RawImage): Pick<ImageQa, 'sharpness' | 'clipping' | 'meanLuminance'> {
  const { width: w, height: h } = img;
  const n = w * h;
  const hist = new Uint32Array(256);
  const y = luma(img, hist);
  let sum = 0;
  for (let v = 0; v < 256; v++) sum += v * hist[v];
  let crushed = 0;
  for (let v = 0; v <= SHADOW_CLIP_LEVEL; v++) crushed += hist[v];
  let blown = 0;
  for (let v = HIGHLIGHT_CLIP_LEVEL; v < 256; v++) blown += hist[v];
  // The Laplacian over the interior (the kernel needs all four neighbours). |L| ≤ 1020, so the sums
  // stay exact integers in doubles (< 10^12 on the analysis grid).
  let lapSum = 0;
  let lapSq = 0;
  for (let r = 1; r < h - 1; r++) {
    const end = r * w + w - 1;
    for (let i = r * w + 1; i < end; i++) {
      const l = 4 * y[i] - y[i - 1] - y[i + 1] - y[i - w] - y[i + w];
      lapSum += l;
      lapSq += l * l;
    }
  }
  const m = Math.max(0, w - 2) * Math.max(0, h - 2);
  const lapMean = m ? lapSum / m : 0;
  return {
    sharpness: m ? lapSq / m - lapMean * lapMean : 0,
    clipping: { shadows: crushed / n, highlights: blown / n },
    meanLuminance: sum / n,
  };
}

/** BT.601 luma in integer arithmetic (the JPEG YCbCr weights ×256: 77, 150, 29), counted into `hist`. */
function luma(img: RawImage, hist: Uint32Array): Uint8Array {
  const { pixels, channels } = img;
  const n = img.width * img.height;
  if (channels === 1) {
    const grey = pixels.subarray(0, n);
    for (let i = 0; i < n; i++) hist[grey[i]]++;
    return grey;
  }
  if (channels === 2) {
    const grey = new Uint8Array(n);
    for (let i = 0; i < n; i++) hist[(grey[i] = pixels[i * 2])]++;
    return grey;
  }
  const out = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const v = (77 * pixels[p] + 150 * pixels[p + 1] + 29 * pixels[p + 2] + 128) >> 8;
    out[i] = v;
    hist[v]++;
  }
  return out;
}

function flagsFor(qa: Omit<ImageQa, 'flags' | 'verdict'>, t: QaThresholds): QaFlag[] {
  const flags: QaFlag[] = [];
  const pct = (f: number) => `${(f * 100).toFixed(1)} %`;
  if (qa.megapixels < t.minMegapixels) {
    flags.push({ code: 'LOW_RESOLUTION', message: `${qa.width}×${qa.height} is ${qa.megapixels.toFixed(2)} MP, below the ${t.minMegapixels} MP minimum` });
  }
  if (qa.sharpness < t.minSharpness) {
    flags.push({ code: 'BLURRED', message: `little fine detail (sharpness ${qa.sharpness.toFixed(1)}, minimum ${t.minSharpness}): out of focus, camera or subject movement, or a featureless subject` });
  }
  const under: string[] = [];
  if (qa.clipping.shadows > t.maxShadowClipping) under.push(`${pct(qa.clipping.shadows)} of the image is crushed black (limit ${pct(t.maxShadowClipping)})`);
  if (qa.meanLuminance < t.minMeanLuminance) under.push(`mean brightness ${qa.meanLuminance.toFixed(0)} is below ${t.minMeanLuminance}`);
  if (under.length) flags.push({ code: 'UNDEREXPOSED', message: `too dark: ${under.join('; ')}` });
  const over: string[] = [];
  if (qa.clipping.highlights > t.maxHighlightClipping) over.push(`${pct(qa.clipping.highlights)} of the image is blown white (limit ${pct(t.maxHighlightClipping)})`);
  if (qa.meanLuminance > t.maxMeanLuminance) over.push(`mean brightness ${qa.meanLuminance.toFixed(0)} is above ${t.maxMeanLuminance}`);
  if (over.length) flags.push({ code: 'OVEREXPOSED', message: `too bright: ${over.join('; ')}` });
  return flags;
}
