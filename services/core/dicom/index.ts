/**
 * Lucida's DICOM toolkit: the only place that knows the binary encoding (and imports dcmjs).
 * Everything else works with {@link ParsedInstance}, DICOM JSON and Buffers.
 */
export { isValidUid, newUid, TS, NATIVE_TRANSFER_SYNTAXES, isEncapsulated, LUCIDA_IMPLEMENTATION_CLASS_UID, LUCIDA_IMPLEMENTATION_VERSION_NAME } from './uids.js';
export type { TransferSyntaxUID } from './uids.js';
export { SOP_CLASS, PHOTOGRAPH_SOP_CLASSES, isPhotograph, isStorageSopClass, sopClassOf } from './sop-classes.js';
export { parsePart10 } from './parse.js';
export type { ParsedInstance, ParseOptions } from './parse.js';
/** Read once, then pass the Part10File to getFrames/extractFrame/extractBulkData/renderFrame. */
export { readChecked as readPart10 } from './parse.js';
export type { Part10File } from './reader.js';
export { getFrames, extractFrame } from './frames.js';
export type { FrameSource, PixelDescription } from './frames.js';
export { extractBulkData } from './bulkdata.js';
export type { BulkData } from './bulkdata.js';
export { toExplicitVRLittleEndian, decodeFrame, canDecodeToNative } from './transcode.js';
export { renderFrame, framePipeline, encodeRendering, renderError } from './render.js';
export type { FramePipeline, RenderOptions } from './render.js';
export { writePart10 } from './write.js';
export type { PixelDataValue, WriteOptions } from './write.js';
export type { DicomJson, DicomJsonAttribute } from './json.types.js';
export { attributeByTag, resolveAttribute, TAG } from './dictionary.js';
export { isCalendarDate, isDicomDate, localDateTime } from './dates.js';
export { firstValue, firstString, firstNumber, firstInteger, firstPersonName, type PersonNameValue } from './json-values.js';
