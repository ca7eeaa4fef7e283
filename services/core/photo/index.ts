/**
 * The photo converter: camera JPEG / PNG / TIFF / HEIC + clinical context → VL Photographic Image
 * (PS3.3 A.32.4) Part 10 bytes. No HTTP, SQL or queue here; see convert.ts for the rules.
 */
export { probePhoto } from './detect.js';
export { convertPhoto } from './convert.js';
export { stripJpegMetadata, jpegEntropyCodedData, parseJpeg, parseJpegHeader } from './jpeg.js';
export type { JpegFrame, JpegHeader, JpegProcess, JpegStructure, StrippedJpeg } from './jpeg.js';
export { readExif } from './exif.js';
export type { ExifInfo } from './exif.js';
export { REENCODE } from './pixels.js';
export type { ConvertLimits, ConvertedPhoto, NaturalDataset, PhotoContext, PhotoFormat, PhotoProbe } from './types.js';
// Derived renditions and QA figures live beside the converter (renditions.ts, qa.ts; not part of it).
export { deriveStandardRenditions, storedFrameAsRendered } from './renditions.js';
