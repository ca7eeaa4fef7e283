/**
 * The two standard renderings of an instance's first frame (STANDARD_RENDITIONS: the `/thumbnail`
 * and the parameterless `/rendered` of PS3.18 §10.4.1.1), made ahead of time by the `derive` job and
 * cached under renditionVariant() names, plus the quality figures of photographs (qa.ts).
 *
 * What is decoded, by kind of frame:
 * - Plain 8-bit JPEG Baseline (1.2.840.10008.1.2.4.50, YBR_FULL_422 or MONOCHROME2; see
 *   {@link isPlainBaselineJpeg}): the rendered rendition IS the stored bitstream, neither decoded nor
 *   re-encoded. Every decoder (sharp, which renderFrame uses, and browsers) shows it as the same
 *   image renderFrame would encode, without the second generation of JPEG loss. Its quality is the
 *   stored one, not the nominal q90 in the cache name. For photographs one shrink-on-load decode
 *   (to the QA analysis grid, long side 1024) feeds both the QA figures and the thumbnail.
 * - Native 8-bit interleaved RGB (e.g. photographs converted from PNG or TIFF): the frame bytes are
 *   the pixels, given to sharp without the per-pixel copy renderFrame makes; the rendered JPEG is the
 *   same bytes renderFrame produces.
 * - Anything else renderFrame can render (greyscale with LUTs, 16-bit, YBR_FULL, JPEG with Exif or
 *   ICC segments...): renderFrame renders the full-size JPEG once and the thumbnail (and QA) come from
 *   that JPEG, decoded with shrink-on-load.
 *
 * The thumbnail is always a JPEG, quality 80, fitting inside 256×256 and never enlarged, like the
 * route's. It is byte-identical to the route's when the thumbnail is made straight from the stored
 * JPEG or RGB pixels (non-photographs); from an intermediate (the QA grid, or the rendered JPEG) the
 * resampling path differs and pixels can differ by a few levels, never the size or kind.
 */
import sharp, { type Sharp } from 'sharp';
import { LucidaError } from '../errors.js';
import { MAX_DECODE_PIXELS } from '../dicom/frames.js';
import { STANDARD_RENDITIONS } from '../dicom/renditions.js';
import { TS, getFrames, parsePart10, readPart10, renderFrame, type FrameSource } from '../dicom/index.js';
import { analysisSize, measureImageQa, QA_ANALYSIS_LONG_SIDE, type ImageQa, type QaOptions } from './qa.js';

export interface StandardRenditions {
  /** STANDARD_RENDITIONS.thumbnail of frame 1. */
  thumbnail: Buffer;
  /** STANDARD_RENDITIONS.rendered of frame 1. */
  rendered: Buffer;
  /**
   * True when `rendered` is the stored frame itself (a plain Baseline JPEG): nothing to cache, the
   * route serves the frame from the instance ({@link storedFrameAsRendered}).
   */
  renderedIsStoredFrame: boolean;
  /** Quality figures, for single-frame photographs only (see {@link isPhotograph}). */
  qa?: ImageQa;
}

const VL = '1.2.840.10008.5.1.4.1.1.77.1';

/**
 * VL still-image storage SOP classes (PS3.4 B.5) whose images are photographs taken through a lens.
 * Left out: the video classes (.1.1, .2.1, .4.1), Stereometric Relationship (no pixels), Ophthalmic
 * Tomography and OCT en face (not photographs), Whole Slide Microscopy (tiled multi-frame).
 */
export const PHOTOGRAPH_SOP_CLASSES: ReadonlySet<string> = new Set([
  `${VL}.1`, // VL Endoscopic Image
  `${VL}.2`, // VL Microscopic Image
  `${VL}.3`, // VL Slide-Coordinates Microscopic Image
  `${VL}.4`, // VL Photographic Image
  `${VL}.5.1`, // Ophthalmic Photography 8 Bit Image
  `${VL}.5.2`, // Ophthalmic Photography 16 Bit Image
  `${VL}.5.5`, // Wide Field Ophthalmic Photography Stereographic Projection Image
  `${VL}.5.6`, // Wide Field Ophthalmic Photography 3D Coordinates Image
  `${VL}.7`, // Dermoscopic Photography Image
]);

/** A single-frame image of one of the {@link PHOTOGRAPH_SOP_CLASSES}. */
export function isPhotograph(sopClassUID: string, numberOfFrames: number): boolean {
  return PHOTOGRAPH_SOP_CLASSES.has(sopClassUID) && numberOfFrames === 1;
}

const THUMBNAIL = STANDARD_RENDITIONS.thumbnail;
const RENDERED = STANDARD_RENDITIONS.rendered;

/**
 * Makes the standard renditions of frame 1 of a stored instance, and QA figures for photographs.
 * @throws LucidaError as renderFrame: NOT_FOUND (no pixel data), NOT_ACCEPTABLE (not renderable,
 *   too large), UNSUPPORTED_TRANSFER_SYNTAX, INVALID_DICOM (unreadable file or frame).
 */
export async function deriveStandardRenditions(part10: Uint8Array, opts: QaOptions = {}): Promise<StandardRenditions> {
  const { sopClassUID } = parsePart10(part10);
  const frames = getFrames(readPart10(part10));
  const frame = frames.frame(1);
  if (frames.rows * frames.columns > MAX_DECODE_PIXELS) {
    throw new LucidaError('NOT_ACCEPTABLE', `frame of ${frames.columns}×${frames.rows} pixels exceeds the rendering limit`);
  }
  const photo = isPhotograph(sopClassUID, frames.numberOfFrames);
  const source = await openSource(frames, frame);
  const renderedIsStoredFrame = source.rendered === frame;
  try {
    if (!photo) {
      const [rendered, thumbnail] = await Promise.all([source.rendered, encodeThumbnail(source.decode(), source.channels)]);
      return { rendered, thumbnail, renderedIsStoredFrame };
    }
    // One decode, to the QA grid (or full size when smaller), for both the QA and the thumbnail.
    let analysis = source.decode();
    // sharp outputs greyscale as three equal channels unless told otherwise.
    if (source.channels === 1) analysis = analysis.toColourspace('b-w');
    if (Math.max(frames.columns, frames.rows) > QA_ANALYSIS_LONG_SIDE) {
      analysis = analysis.resize({ ...analysisSize(frames.columns, frames.rows), fit: 'fill' });
    }
    const { data, info } = await analysis.raw().toBuffer({ resolveWithObject: true });
    const grid = { width: info.width, height: info.height, channels: info.channels as 1 | 3 };
    const thumbnail = encodeThumbnail(sharp(data, { raw: grid }), grid.channels);
    const qa = measureImageQa({ pixels: data, ...grid, sourceWidth: frames.columns, sourceHeight: frames.rows }, opts);
    const [rendered, thumb, figures] = await Promise.all([source.rendered, thumbnail, qa]);
    return { rendered, thumbnail: thumb, qa: figures, renderedIsStoredFrame };
  } catch (e) {
    throw asRenderError(e);
  }
}

/**
 * Frame 1 of a stored instance when it can be served as the default rendering as it is (a plain
 * Baseline JPEG, see isStoredJpegRenderable); undefined when it must be rendered.
 */
export function storedFrameAsRendered(part10: Uint8Array): Buffer | undefined {
  const frames = getFrames(readPart10(part10));
  const frame = frames.frame(1);
  return isStoredJpegRenderable(frames, frame) ? frame : undefined;
}

interface Source {
  /** The full-size rendition (already made, or being encoded). */
  rendered: Buffer | Promise<Buffer>;
  /** A fresh sharp pipeline reading the frame's pixels. */
  decode(): Sharp;
  /** Channels the decoded pixels have: 1 greyscale, 3 colour. */
  channels: 1 | 3;
}

async function openSource(frames: FrameSource, frame: Buffer): Promise<Source> {
  const input = { limitInputPixels: MAX_DECODE_PIXELS, failOn: 'error' as const };
  if (isStoredJpegRenderable(frames, frame)) {
    return { rendered: frame, decode: () => sharp(frame, input), channels: frames.samplesPerPixel as 1 | 3 };
  }
  if (isRgb8(frames)) {
    const raw = { width: frames.columns, height: frames.rows, channels: 3 as const };
    const decode = () => sharp(frame, { raw, limitInputPixels: MAX_DECODE_PIXELS });
    // renderFrame's own pipeline for these pixels (the same encoder call gives the same bytes).
    const rendered = decode().jpeg({ quality: RENDERED.quality }).toBuffer();
    rendered.catch(() => undefined); // awaited later; do not let an early failure go unhandled
    return { rendered, decode, channels: 3 };
  }
  const rendered = await renderFrame(frames.file, 1, RENDERED);
  return { rendered, decode: () => sharp(rendered, input), channels: frames.samplesPerPixel === 1 ? 1 : 3 };
}

/** The route's thumbnail pipeline (renderFrame with STANDARD_RENDITIONS.thumbnail) on `image`. */
function encodeThumbnail(image: Sharp, channels: 1 | 3): Promise<Buffer> {
  // Without this sharp writes greyscale raw input as three identical channels.
  if (channels === 1) image = image.toColourspace('b-w');
  return image
    .resize({ ...THUMBNAIL.viewport, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: THUMBNAIL.quality })
    .toBuffer();
}

/** Native 8-bit RGB, colour-by-pixel: the frame bytes are exactly what renderFrame would encode. */
function isRgb8(f: FrameSource): boolean {
  return !f.encapsulated && f.photometricInterpretation === 'RGB' && f.samplesPerPixel === 3
    && f.bitsAllocated === 8 && f.bitsStored === 8 && f.planarConfiguration === 0;
}

/**
 * True when the stored frame can be served as the rendered image: JPEG Baseline transfer syntax,
 * 8-bit, YBR_FULL_422 colour or MONOCHROME2 greyscale (MONOCHROME1 would need inverting), and a
 * bitstream that is plain Baseline of the declared size ({@link isPlainBaselineJpeg}).
 */
function isStoredJpegRenderable(f: FrameSource, frame: Buffer): boolean {
  if (f.transferSyntaxUID !== TS.JPEGBaseline8Bit || f.bitsAllocated !== 8 || f.bitsStored !== 8) return false;
  const colour = f.samplesPerPixel === 3 && f.photometricInterpretation === 'YBR_FULL_422';
  const grey = f.samplesPerPixel === 1 && f.photometricInterpretation === 'MONOCHROME2';
  return (colour || grey) && isPlainBaselineJpeg(frame, { rows: f.rows, columns: f.columns, components: f.samplesPerPixel });
}

/**
 * True when `jpeg` is one 8-bit Baseline DCT image (ISO/IEC 10918-1 process 1, SOF0) of exactly these
 * dimensions and components, made only of SOI, APP0 (JFIF), APP14 Adobe declaring YCbCr, DQT, DHT,
 * DRI, SOF0, SOS, entropy-coded data with RSTn, and EOI (zero padding after EOI allowed: PS3.5 §A.4
 * pads fragments to even length). Anything else means a decoder might show it differently from
 * renderFrame or that it carries metadata renderFrame strips: APP1 (Exif orientation, which browsers
 * apply; XMP), APP2 (an ICC profile, which sharp converts to sRGB), APP14 declaring RGB, other APPn,
 * COM, other SOFs, DNL.
 */
export function isPlainBaselineJpeg(jpeg: Buffer, expected: { rows: number; columns: number; components: number }): boolean {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return false;
  let pos = 2;
  let frameHeader = false;
  let scans = 0;
  while (pos + 1 < jpeg.length) {
    if (jpeg[pos] !== 0xff) return false;
    let marker = jpeg[pos + 1];
    while (marker === 0xff && pos + 2 < jpeg.length) marker = jpeg[++pos + 1]; // fill bytes
    pos += 2;
    if (marker === 0xd9) {
      for (let i = pos; i < jpeg.length; i++) if (jpeg[i] !== 0) return false;
      return frameHeader && scans > 0;
    }
    if (pos + 2 > jpeg.length) return false;
    const length = jpeg.readUInt16BE(pos);
    if (length < 2 || pos + length > jpeg.length) return false;
    switch (marker) {
      case 0xee: // APP14 Adobe: only its "components are YCbCr" flag, which decoders also assume without it
        if (!isAdobeYcc(jpeg, pos, length, expected.components)) return false;
        break;
      case 0xe0: // APP0 (JFIF)
      case 0xdb: // DQT
      case 0xc4: // DHT
      case 0xdd: // DRI
        break;
      case 0xc0: // SOF0: P, Y, X, Nf
        if (frameHeader || length < 8) return false;
        if (jpeg[pos + 2] !== 8 || jpeg.readUInt16BE(pos + 3) !== expected.rows
          || jpeg.readUInt16BE(pos + 5) !== expected.columns || jpeg[pos + 7] !== expected.components) return false;
        frameHeader = true;
        break;
      case 0xda: // SOS, then entropy-coded data up to the next marker
        if (!frameHeader) return false;
        scans++;
        pos = endOfEntropyCodedData(jpeg, pos + length);
        continue;
      default:
        return false;
    }
    pos += length;
  }
  return false;
}

/**
 * An APP14 "Adobe" segment (the photo converter keeps it) whose transform flag (its last byte) is 1,
 * YCbCr, for three components; any flag for one component, where it has no effect.
 */
function isAdobeYcc(jpeg: Buffer, pos: number, length: number, components: number): boolean {
  if (length < 14 || jpeg.toString('latin1', pos + 2, pos + 7) !== 'Adobe') return false;
  return components === 1 || jpeg[pos + 13] === 1;
}

/** Offset of the first marker after entropy-coded data (0xFF00 is a stuffed byte, RSTn stays inside). */
function endOfEntropyCodedData(jpeg: Buffer, pos: number): number {
  for (;;) {
    const ff = jpeg.indexOf(0xff, pos);
    if (ff < 0 || ff + 1 >= jpeg.length) return jpeg.length;
    const next = jpeg[ff + 1];
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) pos = ff + 2;
    else if (next === 0xff) pos = ff + 1;
    else return ff;
  }
}

function asRenderError(e: unknown): unknown {
  if (e instanceof LucidaError) return e;
  const msg = (e as Error)?.message ?? String(e);
  if (/pixel limit/i.test(msg)) return new LucidaError('NOT_ACCEPTABLE', 'image exceeds the rendering pixel limit');
  return new LucidaError('INVALID_DICOM', `frame 1 cannot be decoded: ${msg}`);
}
