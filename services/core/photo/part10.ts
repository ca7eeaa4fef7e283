/**
 * Part 10 output for converted photos: dcmjs (writePart10) writes the file meta and every attribute but
 * Pixel Data, and the Pixel Data element (7FE0,0010), the last element of the data set, is appended
 * here so that its megabytes are copied exactly once.
 *
 * Measured (7.5 MB JPEG, 12 MP; Node 20, one core): writePart10 with Pixel Data 70–120 ms; without
 * Pixel Data ≈ 1–5 ms, plus ≈ 2 ms for this append. A 36 MB native RGB frame through dcmjs takes
 * ≈ 300 ms. Both syntaxes written here are Explicit VR Little Endian data sets (PS3.5 §A.2, §A.4).
 */
import { writePart10 } from '../dicom/index.js';
import type { NaturalDataset } from './types.js';

export type PixelDataValue =
  /** One encapsulated frame as one fragment, given as consecutive byte ranges (PS3.5 §A.4). */
  | { fragment: Buffer[]; length: number }
  /** Native 8-bit pixels (OB). */
  | { native: Buffer };

const ITEM = [0xfe, 0xff, 0x00, 0xe0];
const SEQUENCE_DELIMITATION = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** (7FE0,0010) OB with a 32-bit length (PS3.5 §7.1.2: OB has 2 reserved bytes and a 4-byte length). */
function pixelDataHeader(length: number): Buffer {
  const h = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
  h.writeUInt32LE(length >>> 0, 8);
  return h;
}

function item(length: number): Buffer {
  const b = Buffer.from([...ITEM, 0, 0, 0, 0]);
  b.writeUInt32LE(length, 4);
  return b;
}

/**
 * Writes the data set (which must not contain Pixel Data) and appends Pixel Data.
 * Encapsulated: undefined length, an empty Basic Offset Table item, one fragment item padded with a
 * trailing 0x00 to even length, a Sequence Delimitation Item (PS3.5 §A.4). Native: even length, padded
 * with 0x00 (PS3.5 §7.1.1).
 */
export function writePhotoPart10(transferSyntaxUID: string, dataset: NaturalDataset, pixels: PixelDataValue): Buffer {
  const head = writePart10({ TransferSyntaxUID: transferSyntaxUID }, dataset);
  const pad = Buffer.alloc(1);
  if ('native' in pixels) {
    const odd = pixels.native.length % 2;
    const parts = [head, pixelDataHeader(pixels.native.length + odd), pixels.native, ...(odd ? [pad] : [])];
    return Buffer.concat(parts);
  }
  const odd = pixels.length % 2;
  return Buffer.concat([
    head,
    pixelDataHeader(0xffffffff),
    item(0),
    item(pixels.length + odd),
    ...pixels.fragment,
    ...(odd ? [pad] : []),
    SEQUENCE_DELIMITATION,
  ]);
}
