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
 */
import dcmjs from 'dcmjs';
import { LucidaError } from '../errors.js';
import { encodePart10 } from './encode.js';
import { readPart10 } from './reader.js';
import { LUCIDA_IMPLEMENTATION_CLASS_UID, LUCIDA_IMPLEMENTATION_VERSION_NAME, NATIVE_TRANSFER_SYNTAXES, TS } from './uids.js';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;
// dcmjs logs (e.g. DS truncation) through loglevel; Lucida reports problems as errors instead.
dcmjs.log?.setLevel?.('error');

export interface WriteOptions {
  /** Split each encapsulated frame into 20 KiB fragments with a Basic Offset Table. Default false. */
  fragmentMultiframe?: boolean;
}

/** Native syntaxes other than Explicit VR LE: dcmjs writes Explicit VR LE and encode.ts re-encodes. */
const reencoded = (ts: string) => ts !== TS.ExplicitVRLittleEndian && NATIVE_TRANSFER_SYNTAXES.has(ts);

/**
 * Writes a Part 10 file. `meta` may be empty: Media Storage SOP Class/Instance UID default to the data
 * set's SOP Class/Instance UID, Transfer Syntax UID to Explicit VR Little Endian, and the implementation
 * class UID and version name are always Lucida's.
 */
export function writePart10(meta: Record<string, any>, dataset: Record<string, any>, opts: WriteOptions = {}): Buffer {
  const transferSyntaxUID: string = meta.TransferSyntaxUID ?? TS.ExplicitVRLittleEndian;
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
    written = Buffer.from(dict.write({ fragmentMultiframe: opts.fragmentMultiframe ?? false }));
  } catch (e) {
    throw new LucidaError('INTERNAL', `cannot write DICOM: ${(e as Error).message}`);
  }
  return reencoded(transferSyntaxUID) ? encodePart10(readPart10(written), transferSyntaxUID) : written;
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
