/**
 * Part 10 file reader (PS3.10 §7, PS3.5 §7): walks the file meta information and the data set and
 * returns an element tree that records, for every element, its VR and where its value lies in the
 * buffer. Values are decoded lazily by the callers (parse, frames, bulkdata, transcode), so reading a
 * 450 KB photograph costs a few dozen element headers, not a copy of its pixels.
 *
 * Why not dcmjs or dicom-parser (both measured once during development, figures in parse.ts; parse.test.ts
 * "performance" bounds this reader only, and dicom-parser is not a dependency):
 * - dcmjs `DicomMessage.readFile` decodes and copies every value (pixel data included) into JS objects:
 *   ~10x slower than this reader on a 450 KB JPEG photograph, and it keeps no byte offsets, which
 *   frames and bulk data retrieval need.
 * - dicom-parser 1.8.21 is fast and keeps offsets, but reads OV/SV/UV with 16-bit lengths (so the
 *   Extended Offset Table (7FE0,0001) OV, PS3.5 §A.4, derails it), silently clamps truncated values
 *   to the end of the buffer, drops the items of private sequences in implicit VR, and throws strings.
 *   Lucida must reject truncated uploads and serve frames through the Extended Offset Table.
 * This reader is strict where corruption would otherwise go unnoticed (every length is checked against
 * its container, delimiters must be where they belong, nesting depth is bounded) and throws only
 * `LucidaError('INVALID_DICOM')`.
 */
import { inflateRawSync, inflateSync } from 'node:zlib';
import { LucidaError } from '../errors.js';
import { TS } from './uids.js';
import { LONG_LENGTH_VRS, VALID_VRS, implicitVr, tagLabel } from './vr.js';

/** A value stretch inside the buffer. */
export interface ByteRange { offset: number; length: number }

/** One data element. `offset`/`length` locate its value in {@link Part10File.bytes}. */
export interface DicomElement {
  /** (group << 16 | element), unsigned. */
  tag: number;
  vr: string;
  offset: number;
  /** Value length in bytes; for undefined-length elements, the bytes up to (not including) the delimiter. */
  length: number;
  undefinedLength: boolean;
  /** Items of a sequence (SQ, or UN of undefined length read as implicit VR per PS3.5 §6.2.2). */
  items?: DicomDataSet[];
  /** Encapsulated pixel data (PS3.5 §A.4): the Basic Offset Table item's value, then the fragments. */
  offsetTable?: ByteRange;
  fragments?: ByteRange[];
  /** Byte offset of the first fragment's item tag: the origin of Basic/Extended Offset Table values. */
  fragmentsOrigin?: number;
}

/** A data set (the top level or one sequence item). */
export interface DicomDataSet {
  elements: Map<number, DicomElement>;
  /** Byte order and VR encoding of the values in this data set. */
  littleEndian: boolean;
  explicitVR: boolean;
}

export interface Part10File {
  /** The bytes every offset refers to: the input, or for deflated files meta + inflated data set. */
  bytes: Buffer;
  meta: DicomDataSet;
  dataset: DicomDataSet;
  transferSyntaxUID: string;
  /** Offset of the first data set byte in {@link bytes}. */
  datasetOffset: number;
}

export interface ReadOptions {
  /**
   * Refuse deflated data sets that inflate beyond this many bytes (deflate bomb guard). Default: 64 MiB,
   * or 100 times the deflated size when that is more, at most 1 GiB (see {@link defaultInflateLimit}).
   */
  maxInflatedBytes?: number;
}

const TAG_ITEM = 0xfffee000;
const TAG_ITEM_DELIMITATION = 0xfffee00d;
const TAG_SEQUENCE_DELIMITATION = 0xfffee0dd;
const TAG_PIXEL_DATA = 0x7fe00010;
const TAG_PIXEL_REPRESENTATION = 0x00280103;
const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 32;

function invalid(reason: string): never {
  throw new LucidaError('INVALID_DICOM', reason);
}

/** Reading context shared by the recursive descent. */
class Reader {
  pixelRepresentation = 0;
  constructor(readonly buf: Buffer) {}

  u16(pos: number, le: boolean): number {
    return le ? this.buf.readUInt16LE(pos) : this.buf.readUInt16BE(pos);
  }

  u32(pos: number, le: boolean): number {
    return le ? this.buf.readUInt32LE(pos) : this.buf.readUInt32BE(pos);
  }

  tag(pos: number, le: boolean): number {
    return ((this.u16(pos, le) << 16) | this.u16(pos + 2, le)) >>> 0;
  }

  /**
   * Reads elements from `pos` up to `end`. In an undefined-length item (`delimited`), stops after the
   * Item Delimitation Item and returns the position after it; otherwise the data set must end exactly
   * at `end`.
   */
  readDataSet(ds: DicomDataSet, pos: number, end: number, delimited: boolean, depth: number): number {
    const { littleEndian: le, explicitVR } = ds;
    const buf = this.buf;
    while (pos < end) {
      if (pos + 8 > end) invalid(`truncated data element header at byte ${pos}`);
      const tag = this.tag(pos, le);
      if (tag >>> 16 === 0xfffe) {
        if (tag === TAG_ITEM_DELIMITATION && delimited) return pos + 8;
        invalid(`unexpected ${tagLabel(tag)} at byte ${pos}`);
      }
      let vr: string;
      let length: number;
      let valueOffset: number;
      if (explicitVR) {
        vr = String.fromCharCode(buf[pos + 4], buf[pos + 5]);
        if (!VALID_VRS.has(vr)) invalid(`invalid VR "${printable(vr)}" for element ${tagLabel(tag)} at byte ${pos}`);
        if (LONG_LENGTH_VRS.has(vr)) {
          if (pos + 12 > end) invalid(`truncated data element header at byte ${pos}`);
          length = this.u32(pos + 8, le);
          valueOffset = pos + 12;
        } else {
          length = this.u16(pos + 6, le);
          valueOffset = pos + 8;
        }
      } else {
        vr = implicitVr(tag, this.pixelRepresentation);
        length = this.u32(pos + 4, le);
        valueOffset = pos + 8;
      }
      const el: DicomElement = { tag, vr, offset: valueOffset, length, undefinedLength: length === UNDEFINED };
      if (el.undefinedLength) {
        el.length = 0;
        if (tag === TAG_PIXEL_DATA) {
          el.vr = 'OB'; // PS3.5 §A.4: encapsulated Pixel Data is OB whatever the dictionary says
          pos = this.readFragments(el, valueOffset, end, le);
        } else if (vr === 'SQ') {
          pos = this.readSequence(el, valueOffset, end, true, { littleEndian: le, explicitVR }, depth);
        } else if (vr === 'UN') {
          // UN of undefined length holds a sequence encoded in Implicit VR Little Endian (PS3.5 §6.2.2).
          el.vr = 'SQ';
          pos = this.readSequence(el, valueOffset, end, true, { littleEndian: true, explicitVR: false }, depth);
        } else {
          invalid(`undefined length on ${vr} element ${tagLabel(tag)}`);
        }
      } else {
        const valueEnd = valueOffset + length;
        if (valueEnd > end) invalid(`element ${tagLabel(tag)} (length ${length}) runs past the end of its ${depth ? 'item' : 'data set'}: file truncated?`);
        if (vr === 'SQ') {
          this.readSequence(el, valueOffset, valueEnd, false, { littleEndian: le, explicitVR }, depth);
        } else if (vr === 'UN' && le && explicitVR) {
          // A standard attribute a previous hop did not know (PS3.5 §6.2.2): restore its VR.
          const known = implicitVr(tag, this.pixelRepresentation);
          if (known === 'SQ') {
            const saved = this.pixelRepresentation;
            try {
              this.readSequence(el, valueOffset, valueEnd, false, { littleEndian: true, explicitVR: false }, depth);
              el.vr = 'SQ';
            } catch (e) {
              if (!(e instanceof LucidaError)) throw e;
              el.items = undefined; // not implicit VR items after all: keep the bytes as they came
              this.pixelRepresentation = saved;
            }
          } else if (known !== 'UN' && !(tag >>> 16 & 1)) {
            el.vr = known;
          }
        }
        if (tag === TAG_PIXEL_REPRESENTATION && length >= 2) this.pixelRepresentation = this.u16(valueOffset, le);
        pos = valueEnd;
      }
      ds.elements.set(tag, el);
    }
    if (delimited) invalid('sequence item without Item Delimitation Item: file truncated?');
    return pos;
  }

  /** Reads the items of a sequence; returns the position after it. */
  readSequence(
    el: DicomElement, pos: number, end: number, delimited: boolean,
    encoding: { littleEndian: boolean; explicitVR: boolean }, depth: number,
  ): number {
    if (depth >= MAX_DEPTH) invalid(`sequences nested deeper than ${MAX_DEPTH} levels`);
    const items: DicomDataSet[] = [];
    el.items = items;
    const start = pos;
    const le = encoding.littleEndian;
    while (pos < end) {
      if (pos + 8 > end) invalid(`truncated item header in ${tagLabel(el.tag)}`);
      const tag = this.tag(pos, le);
      const length = this.u32(pos + 4, le);
      if (tag === TAG_SEQUENCE_DELIMITATION && delimited) {
        el.length = pos - start;
        return pos + 8;
      }
      if (tag !== TAG_ITEM) invalid(`expected an item in ${tagLabel(el.tag)}, found ${tagLabel(tag)} at byte ${pos}`);
      const item: DicomDataSet = { elements: new Map(), ...encoding };
      const saved = this.pixelRepresentation;
      if (length === UNDEFINED) {
        pos = this.readDataSet(item, pos + 8, end, true, depth + 1);
      } else {
        const itemEnd = pos + 8 + length;
        if (itemEnd > end) invalid(`item of ${tagLabel(el.tag)} runs past its sequence: file truncated?`);
        this.readDataSet(item, pos + 8, itemEnd, false, depth + 1);
        pos = itemEnd;
      }
      this.pixelRepresentation = saved;
      items.push(item);
    }
    if (delimited) invalid(`sequence ${tagLabel(el.tag)} without Sequence Delimitation Item: file truncated?`);
    return pos;
  }

  /** Reads encapsulated pixel data items (PS3.5 §A.4); returns the position after the delimiter. */
  readFragments(el: DicomElement, pos: number, end: number, le: boolean): number {
    const fragments: ByteRange[] = [];
    el.fragments = fragments;
    let first = true;
    const start = pos;
    while (pos + 8 <= end) {
      const tag = this.tag(pos, le);
      const length = this.u32(pos + 4, le);
      if (tag === TAG_SEQUENCE_DELIMITATION) {
        if (first) invalid('encapsulated Pixel Data lacks the Basic Offset Table item');
        el.length = pos - start;
        return pos + 8;
      }
      if (tag !== TAG_ITEM) invalid(`expected a fragment item in Pixel Data, found ${tagLabel(tag)} at byte ${pos}`);
      if (length === UNDEFINED || pos + 8 + length > end) invalid('Pixel Data fragment runs past the end of the file: truncated?');
      if (first) {
        el.offsetTable = { offset: pos + 8, length };
        el.fragmentsOrigin = pos + 8 + length;
        first = false;
      } else {
        fragments.push({ offset: pos + 8, length });
      }
      pos += 8 + length;
    }
    invalid('encapsulated Pixel Data without Sequence Delimitation Item: file truncated?');
  }
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

/** Reads the meta information group (always Explicit VR Little Endian, PS3.10 §7.1). */
function readMeta(reader: Reader): { meta: DicomDataSet; end: number } {
  const buf = reader.buf;
  const meta: DicomDataSet = { elements: new Map(), littleEndian: true, explicitVR: true };
  let pos = 132;
  // Read element by element while the group is 0002 rather than trusting the group length, which
  // some writers get wrong; a dataset element never belongs to group 0002.
  while (pos + 8 <= buf.length && buf.readUInt16LE(pos) === 0x0002) {
    const tag = reader.tag(pos, true);
    const vr = String.fromCharCode(buf[pos + 4], buf[pos + 5]);
    if (!VALID_VRS.has(vr) || vr === 'SQ') invalid(`invalid VR "${printable(vr)}" in file meta information ${tagLabel(tag)}`);
    let length: number;
    let valueOffset: number;
    if (LONG_LENGTH_VRS.has(vr)) {
      if (pos + 12 > buf.length) invalid('file meta information truncated');
      length = buf.readUInt32LE(pos + 8);
      valueOffset = pos + 12;
    } else {
      length = buf.readUInt16LE(pos + 6);
      valueOffset = pos + 8;
    }
    if (length === UNDEFINED || valueOffset + length > buf.length) invalid('file meta information truncated');
    meta.elements.set(tag, { tag, vr, offset: valueOffset, length, undefinedLength: false });
    pos = valueOffset + length;
  }
  return { meta, end: pos };
}

/** Reads a string value (ASCII), stripping trailing NUL and space padding. */
export function readAscii(bytes: Buffer, el: DicomElement | undefined): string | undefined {
  if (!el || el.length === 0) return undefined;
  return bytes.toString('latin1', el.offset, el.offset + el.length).replace(/[\0 ]+$/, '').replace(/^ +/, '');
}

/**
 * Real data sets deflate by a few times (pixel data) up to a few dozen (text, empty background); a
 * deflate bomb by about 1000 (zeros). Found by the fuzz test: with a flat 1 GiB limit, a 1 MB upload
 * held the event loop for seconds while it inflated to 1 GiB (and was copied once more), and a few at
 * once could exhaust memory.
 */
export function defaultInflateLimit(deflatedBytes: number): number {
  return Math.min(1 << 30, Math.max(64 * 1024 * 1024, 100 * deflatedBytes));
}

function inflate(buf: Buffer, at: number, maxOutputLength: number): Buffer {
  const deflated = buf.subarray(at);
  try {
    return inflateRawSync(deflated, { maxOutputLength });
  } catch (rawError) {
    // A few writers wrap the stream in a zlib header despite PS3.5 §A.5; accept that too.
    try {
      return inflateSync(deflated, { maxOutputLength });
    } catch {
      const msg = (rawError as Error).message ?? '';
      if (/maxOutputLength|buffer/i.test(msg)) invalid('deflated data set inflates beyond the size limit');
      invalid(`deflated data set cannot be inflated: ${msg}`);
    }
  }
}

/**
 * Reads a DICOM Part 10 file into an element tree. Throws `LucidaError('INVALID_DICOM')` for anything
 * that is not a well-formed Part 10 file: no "DICM" prefix, missing Transfer Syntax UID, truncation,
 * lengths that overrun their container, misplaced delimiters, invalid VRs.
 */
export function readPart10(input: Uint8Array, opts: ReadOptions = {}): Part10File {
  let buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < 132 || buf.readUInt32BE(128) !== 0x4449434d /* "DICM" */) {
    invalid('not a DICOM Part 10 file: no "DICM" prefix at byte 128');
  }
  let reader = new Reader(buf);
  const { meta, end: datasetOffset } = readMeta(reader);
  const transferSyntaxUID = readAscii(buf, meta.elements.get(0x00020010));
  if (!transferSyntaxUID) invalid('file meta information lacks Transfer Syntax UID (0002,0010)');
  if (transferSyntaxUID === TS.DeflatedExplicitVRLittleEndian) {
    const inflated = inflate(buf, datasetOffset, opts.maxInflatedBytes ?? defaultInflateLimit(buf.length - datasetOffset));
    buf = Buffer.concat([buf.subarray(0, datasetOffset), inflated]);
    reader = new Reader(buf);
  }
  const dataset: DicomDataSet = {
    elements: new Map(),
    littleEndian: transferSyntaxUID !== TS.ExplicitVRBigEndian,
    explicitVR: transferSyntaxUID !== TS.ImplicitVRLittleEndian,
  };
  try {
    reader.readDataSet(dataset, datasetOffset, buf.length, false, 0);
  } catch (e) {
    if (e instanceof LucidaError) throw e;
    // Buffer reads are bounds-checked above; anything else is a bug surfaced as a clean rejection.
    invalid(`unreadable data set: ${(e as Error).message}`);
  }
  return { bytes: buf, meta, dataset, transferSyntaxUID, datasetOffset };
}
