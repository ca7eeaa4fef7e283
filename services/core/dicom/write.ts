/**
 * Naturalized data set → Part 10 bytes: a thin wrapper over dcmjs (`DicomDict.write`) that fills in the
 * file meta information (PS3.10 §7.1) with Lucida's implementation identity. Used by the test fixtures
 * and by the photo converter.
 *
 * - Naturalized means dcmjs's keyword form: `{ PatientName: 'DOE^JANE', Rows: 64, ... }`; sequences are
 *   arrays of such objects; `_vrMap` may pin a VR (e.g. `{ PixelData: 'OB' }`; by default Pixel Data is
 *   OB for encapsulated or ≤ 8-bit data, OW otherwise).
 * - Binary values (PixelData, OB/OW...) may be Buffers, Uint8Arrays or ArrayBuffers.
 * - Encapsulated transfer syntaxes: `PixelData` is an array with one entry per frame; each frame becomes
 *   exactly one fragment (byte for byte, padded to even length) unless `fragmentMultiframe` is true, in
 *   which case dcmjs splits frames into 20 KiB fragments and fills the Basic Offset Table.
 * - Implicit VR LE, Explicit VR Big Endian and Deflated Explicit VR LE: dcmjs writes Explicit VR LE and
 *   encode.ts re-encodes it.
 * - Write DS/IS values as strings formatted by the caller: dcmjs truncates long DS numbers.
 * - Large Pixel Data can be given as `opts.pixelData` instead: dcmjs writes everything else and the
 *   Pixel Data element is appended here, its bytes copied once. Measured (7.5 MB JPEG, 12 MP; Node 20,
 *   one core): through dcmjs 70–120 ms, appended ≈ 2 ms plus 1–5 ms for the rest of the data set; a
 *   36 MB native RGB frame takes ≈ 300 ms through dcmjs.
 */
import dcmjs from 'dcmjs';
import { LucidaError } from '../errors.js';
import { Chunks, EXPLICIT_VR_LITTLE_ENDIAN, encodePart10, writeHeader, writeTag, type EncodeOptions } from './encode.js';
import { readPart10 } from './reader.js';
import { LUCIDA_IMPLEMENTATION_CLASS_UID, LUCIDA_IMPLEMENTATION_VERSION_NAME, NATIVE_TRANSFER_SYNTAXES, TS, isEncapsulated } from './uids.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;
// dcmjs logs (e.g. DS truncation) through loglevel; Lucida reports problems as errors instead.
dcmjs.log?.setLevel?.('error');

/** Pixel Data (7FE0,0010) that {@link writePart10} appends itself (`opts.pixelData`). */
export type PixelDataValue =
  /**
   * Encapsulated (PS3.5 §A.4), for an encapsulated transfer syntax: one entry per fragment, each given
   * as consecutive byte ranges (e.g. a JPEG with its metadata segments cut out) that are copied once.
   */
  | { fragments: ReadonlyArray<readonly Buffer[]> }
  /** Native pixels in little-endian byte order, for a native transfer syntax: OB when BitsAllocated ≤ 8, else OW. */
  | { native: Buffer };

export interface WriteOptions {
  /** Split each encapsulated frame into 20 KiB fragments with a Basic Offset Table. Default false. */
  fragmentMultiframe?: boolean;
  /**
   * Pixel Data to append after dcmjs has written the rest; `dataset` must not hold PixelData then.
   * Encapsulated: undefined length, an empty Basic Offset Table item, one item per fragment padded with
   * 0x00 to even length, a Sequence Delimitation Item (PS3.5 §A.4). Native: padded with 0x00 to even
   * length (PS3.5 §7.1.1).
   */
  pixelData?: PixelDataValue;
}

const TAG_PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const UNDEFINED_LENGTH = 0xffffffff;
const PAD = Buffer.alloc(1);

/** Native syntaxes other than Explicit VR LE: dcmjs writes Explicit VR LE and encode.ts re-encodes. */
const reencoded = (ts: string) => ts !== TS.ExplicitVRLittleEndian && NATIVE_TRANSFER_SYNTAXES.has(ts);

/**
 * Writes a Part 10 file. `meta` may be empty: Media Storage SOP Class/Instance UID default to the data
 * set's SOP Class/Instance UID, Transfer Syntax UID to Explicit VR Little Endian, and the implementation
 * class UID and version name are always Lucida's.
 */
export function writePart10(meta: Record<string, any>, dataset: Record<string, any>, opts: WriteOptions = {}): Buffer {
  const transferSyntaxUID: string = meta.TransferSyntaxUID ?? TS.ExplicitVRLittleEndian;
  const { pixelData } = opts;
  if (pixelData) checkAppendable(pixelData, dataset, transferSyntaxUID);
  const fullMeta: Record<string, any> = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    ...meta,
    TransferSyntaxUID: reencoded(transferSyntaxUID) ? TS.ExplicitVRLittleEndian : transferSyntaxUID,
    ImplementationClassUID: LUCIDA_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: LUCIDA_IMPLEMENTATION_VERSION_NAME,
  };
  for (const [k, v] of Object.entries(fullMeta)) if (v === undefined) delete fullMeta[k];
  // Pixel Data is "OB or OW" in the dictionary: pick for the caller (PS3.5 §8.2) so dcmjs does not guess.
  let data = dataset;
  if (data.PixelData !== undefined && !data._vrMap?.PixelData) {
    const vr = Array.isArray(data.PixelData) || Number(data.BitsAllocated ?? 8) <= 8 ? 'OB' : 'OW';
    data = { ...data, _vrMap: { ...(data._vrMap ?? {}), PixelData: vr } };
  }
  let written: Buffer;
  try {
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(toArrayBuffers(fullMeta)));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(toArrayBuffers(data));
    // Appended Pixel Data must be the last element (PS3.5 §7.1: elements in ascending tag order).
    if (pixelData && Object.keys(dict.dict).some((tag) => tag.toUpperCase() > '7FE00010')) {
      throw new LucidaError('INTERNAL', 'cannot append Pixel Data after elements that follow it');
    }
    written = Buffer.from(dict.write({ fragmentMultiframe: opts.fragmentMultiframe ?? false }));
  } catch (e) {
    if (e instanceof LucidaError) throw e;
    throw new LucidaError('INTERNAL', `cannot write DICOM: ${(e as Error).message}`);
  }
  const nativeVr = Number(dataset.BitsAllocated ?? 8) <= 8 ? 'OB' : 'OW';
  if (reencoded(transferSyntaxUID)) {
    const encode: EncodeOptions = pixelData && 'native' in pixelData
      ? { replace: new Map([[TAG_PIXEL_DATA, { vr: nativeVr, value: padded(pixelData.native) }]]) }
      : {};
    return encodePart10(readPart10(written), transferSyntaxUID, encode);
  }
  if (!pixelData) return written;
  const out = new Chunks();
  out.push(written);
  appendPixelData(out, pixelData, nativeVr);
  return Buffer.concat(out.parts, out.length);
}

function checkAppendable(pixelData: PixelDataValue, dataset: Record<string, any>, transferSyntaxUID: string): void {
  if (dataset.PixelData !== undefined) throw new LucidaError('INTERNAL', 'Pixel Data given both in the data set and to append');
  const encapsulated = 'fragments' in pixelData;
  if (encapsulated !== isEncapsulated(transferSyntaxUID)) {
    throw new LucidaError('INTERNAL', `${encapsulated ? 'encapsulated' : 'native'} Pixel Data cannot be written in transfer syntax ${transferSyntaxUID}`);
  }
  if (encapsulated && pixelData.fragments.length === 0) throw new LucidaError('INTERNAL', 'encapsulated Pixel Data needs at least one fragment');
}

/**
 * Appends Pixel Data to an Explicit VR Little Endian data set: every encapsulated syntax's encoding,
 * and Explicit VR Little Endian itself (the re-encoded native syntaxes take it as a replacement value).
 */
function appendPixelData(out: Chunks, pixelData: PixelDataValue, nativeVr: string): void {
  const target = EXPLICIT_VR_LITTLE_ENDIAN;
  if ('native' in pixelData) {
    const { native } = pixelData;
    writeHeader(out, TAG_PIXEL_DATA, nativeVr, native.length + (native.length % 2), target);
    out.push(native);
    if (native.length % 2) out.push(PAD);
    return;
  }
  writeHeader(out, TAG_PIXEL_DATA, 'OB', UNDEFINED_LENGTH, target);
  writeTag(out, ITEM, 0, true); // an empty Basic Offset Table
  for (const fragment of pixelData.fragments) {
    const length = fragment.reduce((n, b) => n + b.length, 0);
    writeTag(out, ITEM, length + (length % 2), true);
    for (const part of fragment) out.push(part);
    if (length % 2) out.push(PAD);
  }
  writeTag(out, SEQUENCE_DELIMITATION, 0, true);
}

/** `value` padded with 0x00 to even length (a copy only when odd). */
function padded(value: Buffer): Buffer {
  return value.length % 2 ? Buffer.concat([value, PAD]) : value;
}

/** dcmjs wants ArrayBuffers for binary values; accept Buffers and typed arrays too. */
function toArrayBuffers(value: any): any {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) {
    return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }
  if (Array.isArray(value)) return value.map(toArrayBuffers);
  if (value && typeof value === 'object') {
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === '_vrMap' ? v : toArrayBuffers(v);
    return out;
  }
  return value;
}
