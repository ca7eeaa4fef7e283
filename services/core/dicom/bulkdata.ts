/**
 * Bulk data retrieval (PS3.18 §10.4.1.1.5, WADO-RS /bulkdata): finds the element a relative BulkDataURI
 * token from parse.ts names ("7FE00010", "00540016/0/00181078") and returns its value.
 *
 * - Values come back in little-endian byte order (swapped when the instance is Explicit VR Big Endian),
 *   the encoding PS3.18 §8.7.3.3.2 gives bulk data.
 * - Native Pixel Data: the whole value (all frames).
 * - Encapsulated Pixel Data: for a single-frame instance, that frame's compressed bitstream (all its
 *   fragments concatenated) with `transferSyntaxUID` set; for a multi-frame instance NOT_ACCEPTABLE,
 *   because the fragments are not one object: clients must use /frames/{n}.
 * - The returned Buffer is a view into `bytes` when no conversion is needed: copy it if you keep it
 *   after releasing the file.
 */
import { LucidaError } from '../errors.js';
import { littleEndianValue } from './dicom-json.js';
import { getFrames } from './frames.js';
import { asPart10File } from './parse.js';
import type { DicomDataSet, DicomElement, Part10File } from './reader.js';

export interface BulkData {
  data: Buffer;
  vr: string;
  /** Set for encapsulated pixel data: the transfer syntax of `data`. */
  transferSyntaxUID?: string;
}

const PATH_SEGMENT_TAG = /^[0-9A-Fa-f]{8}$/;
const PATH_SEGMENT_INDEX = /^(0|[1-9][0-9]{0,8})$/;

/**
 * Returns the value the relative bulk data path `path` designates.
 * @throws LucidaError NOT_FOUND when the path is malformed or names no element with a value (sequences
 *   have no bulk value); NOT_ACCEPTABLE for multi-frame encapsulated Pixel Data; INVALID_DICOM when the
 *   bytes are not readable DICOM.
 */
export function extractBulkData(bytes: Uint8Array | Part10File, path: string): BulkData {
  const file = asPart10File(bytes);
  const segments = path.split('/');
  const notFound = () => new LucidaError('NOT_FOUND', `no bulk data at "${path.slice(0, 120)}"`);
  if (segments.length % 2 !== 1) throw notFound();
  let ds: DicomDataSet = file.dataset;
  let el: DicomElement | undefined;
  for (let i = 0; i < segments.length; i += 2) {
    if (!PATH_SEGMENT_TAG.test(segments[i])) throw notFound();
    el = ds.elements.get(Number.parseInt(segments[i], 16) >>> 0);
    if (!el) throw notFound();
    if (i + 1 < segments.length) {
      if (!PATH_SEGMENT_INDEX.test(segments[i + 1]) || !el.items) throw notFound();
      const item = el.items[Number(segments[i + 1])];
      if (!item) throw notFound();
      ds = item;
    }
  }
  if (!el || el.items) throw notFound();
  if (el.fragments) {
    if (ds !== file.dataset) {
      // Encapsulated pixel data inside an item (e.g. an icon image): one frame by definition.
      return { data: Buffer.concat(el.fragments.map((f) => file.bytes.subarray(f.offset, f.offset + f.length))), vr: 'OB', transferSyntaxUID: file.transferSyntaxUID };
    }
    const frames = getFrames(file);
    if (frames.numberOfFrames !== 1) {
      throw new LucidaError('NOT_ACCEPTABLE', `encapsulated Pixel Data of ${frames.numberOfFrames} frames: retrieve it frame by frame with /frames/{n}`);
    }
    return { data: frames.frame(1), vr: 'OB', transferSyntaxUID: file.transferSyntaxUID };
  }
  return { data: littleEndianValue(file.bytes, el, ds.littleEndian), vr: el.vr };
}

