/**
 * The photo converter: camera JPEG / PNG / TIFF / HEIC + clinical context → VL Photographic Image
 * (PS3.3 A.32.4) Part 10 bytes. No HTTP, SQL or queue here; see convert.ts for the rules.
 */
export { probePhoto } from './detect.js';
export { convertPhoto } from './convert.js';
export type { ConvertLimits, ConvertedPhoto, PhotoContext, PhotoProbe } from './types.js';
/** The entropy-coded data of a JPEG: tests compare it between a camera file and the stored frame. */
export { jpegEntropyCodedData } from './jpeg.js';
// Derived renditions and QA figures live beside the converter (renditions.ts, qa.ts; not part of it).
export { deriveStandardRenditions, storedFrameAsRendered } from './renditions.js';
export type { DeriveOptions, StandardRenditions } from './renditions.js';
