/**
 * Lucida's DICOM toolkit: the only place that knows the binary encoding (and imports dcmjs).
 * Everything else works with {@link ParsedInstance}, DICOM JSON and Buffers.
 */
export { isValidUid, newUid, TS, KNOWN_TRANSFER_SYNTAXES, NATIVE_TRANSFER_SYNTAXES, isEncapsulated, LUCIDA_IMPLEMENTATION_CLASS_UID, LUCIDA_IMPLEMENTATION_VERSION_NAME } from './uids.js';
export type { TransferSyntaxUID } from './uids.js';
export { STORAGE_SOP_CLASSES, SOP_CLASS, isStorageSopClass } from './sop-classes.js';
export { parsePart10 } from './parse.js';
export type { ParsedInstance, ParseOptions } from './parse.js';
/** Read once, then pass the Part10File to getFrames/extractFrame/extractBulkData/renderFrame. */
export { readChecked as readPart10 } from './parse.js';
export type { Part10File } from './reader.js';
export { getFrames, extractFrame, numberOfFrames } from './frames.js';
export type { FrameSource, PixelDescription } from './frames.js';
export { extractBulkData } from './bulkdata.js';
export type { BulkData } from './bulkdata.js';
export { toExplicitVRLittleEndian, changeTransferSyntax, decodeFrame, canDecodeToNative } from './transcode.js';
export type { NativeTransferSyntax } from './transcode.js';
export { renderFrame } from './render.js';
export type { RenderOptions } from './render.js';
export { writePart10 } from './write.js';
export type { WriteOptions } from './write.js';
export type { DicomJson, DicomJsonAttribute } from './json.types.js';
export { attributeByTag, resolveAttribute, TAG } from './dictionary.js';
