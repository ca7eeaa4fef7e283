/**
 * The two standard renderings of an instance's first frame (STANDARD_RENDITIONS: the `/thumbnail`
 * and the parameterless `/rendered` of PS3.18 §10.4.1.1), made ahead of time by the `derive` job and
 * cached under renditionVariant() names, plus the quality figures of photographs (qa.ts).
 *
 * Every image goes through renderFrame's own steps (framePipeline, then encodeRendering), so what is
 * cached is what the routes would render, with one exception and one shortcut:
 * - Plain 8-bit JPEG Baseline (1.2.840.10008.1.2.4.50, YBR_FULL_422 or MONOCHROME2; see
 *   {@link isPlainBaselineJpeg}): the rendered rendition IS the stored bitstream, neither decoded nor
 *   re-encoded. Every decoder (sharp, which renderFrame uses, and browsers) shows it as the same
 *   image renderFrame would encode, without the second generation of JPEG loss. Its quality is the
 *   stored one, not the nominal q90 in the cache name.
 * - Photographs ({@link isPhotograph}): one decode to the QA analysis grid (long side 1024,
 *   shrink-on-load for JPEG) feeds both the QA figures and the thumbnail.
 *
 * The thumbnail is always a JPEG, quality 80, fitting inside 256×256 and never enlarged, like the
 * route's, and byte-identical to it except for photographs: made from the analysis grid, its
 * resampling path differs and pixels can differ by a few levels, never the size or kind.
 */
import sharp from 'sharp';
import { STANDARD_RENDITIONS } from '../dicom/renditions.js';
import {
  TS, encodeRendering, framePipeline, getFrames, isPhotograph, renderError, sopClassOf,
  type FrameSource, type Part10File,
} from '../dicom/index.js';
import { adobeTransformOf, parseJpeg, type JpegSegment, type JpegStructure } from './jpeg.js';
import { decodeToAnalysisGrid, measureImageQa, type ImageQa, type QaOptions } from './qa.js';

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

export interface DeriveOptions extends QaOptions {
  /** The instance's SOP Class UID when the caller knows it; read from the data set otherwise. */
  sopClassUID?: string;
}

const THUMBNAIL = STANDARD_RENDITIONS.thumbnail;
const RENDERED = STANDARD_RENDITIONS.rendered;

/**
 * Makes the standard renditions of frame 1 of a stored instance (bytes, or the file already read),
 * and QA figures for photographs.
 * @throws LucidaError as renderFrame: NOT_FOUND (no pixel data), NOT_ACCEPTABLE (not renderable,
 *   too large), UNSUPPORTED_TRANSFER_SYNTAX, INVALID_DICOM (unreadable file or frame).
 */
export async function deriveStandardRenditions(part10: Uint8Array | Part10File, opts: DeriveOptions = {}): Promise<StandardRenditions> {
  const frames = getFrames(part10);
  const frame = frames.frame(1);
  const pipeline = framePipeline(frames, 1);
  const renderedIsStoredFrame = isStoredJpegRenderable(frames, frame);
  const photo = isPhotograph(opts.sopClassUID ?? sopClassOf(frames.file) ?? '', frames.numberOfFrames);
  try {
    const rendered = renderedIsStoredFrame ? frame : encodeRendering(pipeline.open(), RENDERED);
    if (!photo) {
      const [full, thumbnail] = await Promise.all([rendered, encodeRendering(pipeline.open(), THUMBNAIL)]);
      return { rendered: full, thumbnail, renderedIsStoredFrame };
    }
    const analysed = (async () => {
      const grid = await decodeToAnalysisGrid(pipeline.open(), frames.columns, frames.rows, pipeline.channels === 1);
      let small = sharp(grid.pixels, { raw: { width: grid.width, height: grid.height, channels: grid.channels } });
      // Without this sharp writes greyscale raw input as three identical channels.
      if (grid.channels === 1) small = small.toColourspace('b-w');
      return Promise.all([
        encodeRendering(small, THUMBNAIL),
        measureImageQa({ ...grid, sourceWidth: frames.columns, sourceHeight: frames.rows }, opts),
      ]);
    })();
    const [full, [thumbnail, qa]] = await Promise.all([rendered, analysed]);
    return { rendered: full, thumbnail, qa, renderedIsStoredFrame };
  } catch (e) {
    throw renderError(e, 1);
  }
}

/**
 * Frame 1 of a stored instance (bytes, or the file already read) when it can be served as the default
 * rendering as it is (a plain Baseline JPEG, see isStoredJpegRenderable); undefined when it must be
 * rendered.
 */
export function storedFrameAsRendered(part10: Uint8Array | Part10File): Buffer | undefined {
  const frames = getFrames(part10);
  const frame = frames.frame(1);
  return isStoredJpegRenderable(frames, frame) ? frame : undefined;
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

/** Marker segments a plain Baseline header may hold: APP0 (JFIF), DQT, DHT, DRI, SOF0, SOS. */
const PLAIN_SEGMENTS = new Set([0xe0, 0xdb, 0xc4, 0xdd, 0xc0, 0xda]);
const SOF0 = 0xc0;

/**
 * True when `jpeg` is one complete 8-bit Baseline DCT image (ISO/IEC 10918-1 process 1, SOF0; see
 * parseJpeg for what complete means) of exactly these dimensions and components, whose segments are
 * only APP0 (JFIF), APP14 Adobe declaring YCbCr (which decoders also assume without it), DQT, DHT,
 * DRI, SOF0 and SOS, with nothing after EOI but zero padding (PS3.5 §A.4 pads fragments to even
 * length). Anything else means a decoder might show it differently from renderFrame or that it
 * carries metadata renderFrame strips: APP1 (Exif orientation, which browsers apply; XMP), APP2 (an
 * ICC profile, which sharp converts to sRGB), APP14 declaring RGB, other APPn, COM, other SOFs.
 */
export function isPlainBaselineJpeg(jpeg: Buffer, expected: { rows: number; columns: number; components: number }): boolean {
  let s: JpegStructure;
  try {
    s = parseJpeg(jpeg);
  } catch {
    return false;
  }
  const { frame } = s;
  if (frame.marker !== SOF0 || frame.precision !== 8 || frame.height !== expected.rows || frame.width !== expected.columns
    || frame.components.length !== expected.components) return false;
  // Adobe transform 1 is YCbCr; for one component the flag has no effect.
  const isYcc = (seg: JpegSegment) => {
    const transform = adobeTransformOf(jpeg, seg);
    return transform !== undefined && (expected.components === 1 || transform === 1);
  };
  if (!s.segments.every((seg) => PLAIN_SEGMENTS.has(seg.marker) || isYcc(seg)) || s.lateMetadata.length > 0) return false;
  for (let i = s.end; i < jpeg.length; i++) if (jpeg[i] !== 0) return false;
  return true;
}
