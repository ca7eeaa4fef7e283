/**
 * Element tree → Part 10 bytes in a native transfer syntax (Implicit VR LE, Explicit VR LE, Explicit VR
 * Big Endian, Deflated Explicit VR LE; PS3.5 §7 and Annex A). Values are copied byte for byte, swapped
 * per VR when the byte order changes; sequences and items get defined lengths; group lengths are dropped
 * (they would be stale); encapsulated icon images inside items are left out. The file meta information
 * is rebuilt (PS3.10 §7.1) with Lucida's implementation identity. Used by transcode.ts and write.ts,
 * which also builds the Pixel Data it appends from the element writers here (Chunks, writeHeader,
 * writeTag).
 */
import { deflateRawSync } from 'node:zlib';
import { LucidaError } from '../errors.js';
import type { DicomDataSet, DicomElement, Part10File } from './reader.js';
import { readAscii } from './reader.js';
import { LUCIDA_IMPLEMENTATION_CLASS_UID, LUCIDA_IMPLEMENTATION_VERSION_NAME, TS } from './uids.js';
import { LONG_LENGTH_VRS, swapToLittleEndian } from './vr.js';

/** A top-level element to write instead of (or in addition to) the one in the source. */
export interface ReplacementValue {
  vr: string;
  /** The value in little-endian byte order, already padded to even length. */
  value: Buffer;
}

export interface EncodeOptions {
  /** Top-level elements to add or replace, by tag. */
  replace?: ReadonlyMap<number, ReplacementValue>;
  /** Top-level elements to leave out, by tag. */
  remove?: ReadonlySet<number>;
}

/** How a data set is encoded: byte order and whether the VR is written. */
export interface Target { littleEndian: boolean; explicitVR: boolean }

/** Explicit VR Little Endian: the file meta group, and the data set of every encapsulated syntax. */
export const EXPLICIT_VR_LITTLE_ENDIAN: Target = Object.freeze({ littleEndian: true, explicitVR: true });

const NATIVE_TARGETS: Record<string, Target> = {
  [TS.ImplicitVRLittleEndian]: { littleEndian: true, explicitVR: false },
  [TS.ExplicitVRLittleEndian]: { littleEndian: true, explicitVR: true },
  [TS.DeflatedExplicitVRLittleEndian]: { littleEndian: true, explicitVR: true },
  [TS.ExplicitVRBigEndian]: { littleEndian: false, explicitVR: true },
};

const TAG_PIXEL_DATA = 0x7fe00010;
const TAG_BITS_ALLOCATED = 0x00280100;

/** Chunks plus their total length, so parents can write defined lengths without copying. */
export class Chunks {
  readonly parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  append(other: Chunks): void {
    for (const p of other.parts) this.parts.push(p);
    this.length += other.length;
  }
}

/**
 * Re-encodes a read Part 10 file in the native transfer syntax `targetTS`, with new file meta
 * information. The source's pixel data must be native (replace it via `opts.replace` otherwise).
 */
export function encodePart10(file: Part10File, targetTS: string, opts: EncodeOptions = {}): Buffer {
  const target = NATIVE_TARGETS[targetTS];
  if (!target) throw new LucidaError('UNSUPPORTED_TRANSFER_SYNTAX', `cannot encode to transfer syntax ${targetTS}`);
  const pixel = opts.replace?.get(TAG_PIXEL_DATA) ? undefined : file.dataset.elements.get(TAG_PIXEL_DATA);
  if (pixel?.fragments) {
    throw new LucidaError('UNSUPPORTED_TRANSFER_SYNTAX', 'encapsulated pixel data cannot be written in a native transfer syntax');
  }
  const bitsAllocated = readUs(file, TAG_BITS_ALLOCATED, opts.replace) ?? 16;
  const out = preambleAndMeta(file, targetTS);
  const body = new Chunks();
  encodeDataSet(body, file.dataset, file.bytes, target, bitsAllocated, opts);
  if (targetTS === TS.DeflatedExplicitVRLittleEndian) out.push(deflateRawSync(Buffer.concat(body.parts, body.length)));
  else out.append(body);
  // One copy of every chunk (source views, headers, replacement values) into the result.
  return Buffer.concat(out.parts, out.length);
}

function readUs(file: Part10File, tag: number, replace?: ReadonlyMap<number, ReplacementValue>): number | undefined {
  const r = replace?.get(tag);
  if (r) return r.value.length >= 2 ? r.value.readUInt16LE(0) : undefined;
  const el = file.dataset.elements.get(tag);
  if (!el || el.length < 2) return undefined;
  return file.dataset.littleEndian ? file.bytes.readUInt16LE(el.offset) : file.bytes.readUInt16BE(el.offset);
}

/** 128-byte preamble, "DICM", and the file meta group (PS3.10 §7.1), as chunks. */
function preambleAndMeta(file: Part10File, targetTS: string): Chunks {
  const fromMeta = (tag: number) => readAscii(file.bytes, file.meta.elements.get(tag));
  const fromData = (tag: number) => readAscii(file.bytes, file.dataset.elements.get(tag));
  const fixed = new Map<number, ReplacementValue>([
    [0x00020001, { vr: 'OB', value: Buffer.from([0, 1]) }],
    [0x00020002, { vr: 'UI', value: uiValue(fromMeta(0x00020002) ?? fromData(0x00080016) ?? '') }],
    [0x00020003, { vr: 'UI', value: uiValue(fromMeta(0x00020003) ?? fromData(0x00080018) ?? '') }],
    [0x00020010, { vr: 'UI', value: uiValue(targetTS) }],
    [0x00020012, { vr: 'UI', value: uiValue(LUCIDA_IMPLEMENTATION_CLASS_UID) }],
    [0x00020013, { vr: 'SH', value: textValue(LUCIDA_IMPLEMENTATION_VERSION_NAME) }],
  ]);
  const meta = new Chunks();
  const explicitLE = EXPLICIT_VR_LITTLE_ENDIAN;
  const tags = new Set<number>([...fixed.keys()]);
  for (const el of file.meta.elements.values()) if (el.tag !== 0x00020000) tags.add(el.tag);
  for (const tag of [...tags].sort((a, b) => a - b)) {
    const r = fixed.get(tag);
    if (r) {
      writeHeader(meta, tag, r.vr, r.value.length, explicitLE);
      meta.push(r.value);
    } else {
      const el = file.meta.elements.get(tag)!;
      writeHeader(meta, tag, el.vr, el.length, explicitLE);
      meta.push(file.bytes.subarray(el.offset, el.offset + el.length));
    }
  }
  const head = Buffer.alloc(132 + 12);
  head.write('DICM', 128, 'latin1');
  head.writeUInt16LE(0x0002, 132);
  head.writeUInt16LE(0x0000, 134);
  head.write('UL', 136, 'latin1');
  head.writeUInt16LE(4, 138);
  head.writeUInt32LE(meta.length, 140);
  const out = new Chunks();
  out.push(head);
  out.append(meta);
  return out;
}

function encodeDataSet(
  out: Chunks, ds: DicomDataSet, bytes: Buffer, target: Target, bitsAllocated: number, opts: EncodeOptions,
): void {
  const replace = opts.replace ?? new Map<number, ReplacementValue>();
  const tags = new Set<number>(ds.elements.keys());
  for (const t of replace.keys()) tags.add(t);
  for (const tag of [...tags].sort((a, b) => a - b)) {
    if ((tag & 0xffff) === 0 || tag >>> 16 === 0x0002 || opts.remove?.has(tag)) continue;
    const r = replace.get(tag);
    if (r) {
      const vr = tag === TAG_PIXEL_DATA ? pixelVr(bitsAllocated) : r.vr;
      const value = target.littleEndian ? r.value : swapToLittleEndian(r.value, vr);
      writeHeader(out, tag, vr, value.length, target);
      out.push(value);
      continue;
    }
    encodeElement(out, ds.elements.get(tag)!, ds, bytes, target, bitsAllocated);
  }
}

function encodeElement(
  out: Chunks, el: DicomElement, ds: DicomDataSet, bytes: Buffer, target: Target, bitsAllocated: number,
): void {
  // Encapsulated pixel data nested in an item (an Icon Image Sequence thumbnail, Type 3) cannot exist in
  // a native transfer syntax: leave it out rather than write an invalid element.
  if (el.fragments) return;
  if (el.items) {
    const content = new Chunks();
    for (const item of el.items) {
      const itemBody = new Chunks();
      encodeDataSet(itemBody, item, bytes, target, bitsAllocated, {});
      writeTag(content, 0xfffee000, itemBody.length, target.littleEndian);
      content.append(itemBody);
    }
    writeHeader(out, el.tag, 'SQ', content.length, target);
    out.append(content);
    return;
  }
  let vr = el.vr;
  if (el.tag === TAG_PIXEL_DATA) vr = pixelVr(bitsAllocated);
  // A short-length VR whose value no longer fits a 16-bit length must become UN (PS3.5 §6.2.2 Note).
  if (target.explicitVR && !LONG_LENGTH_VRS.has(vr) && el.length > 0xffff) vr = 'UN';
  let value = bytes.subarray(el.offset, el.offset + el.length);
  // Swap by the VR on the big-endian side: it says how the big-endian bytes are grouped.
  if (ds.littleEndian !== target.littleEndian) value = swapToLittleEndian(value, ds.littleEndian ? vr : el.vr);
  writeHeader(out, el.tag, vr, value.length, target);
  out.push(value);
}

function pixelVr(bitsAllocated: number): string {
  return bitsAllocated > 8 ? 'OW' : 'OB';
}

/** A tag and a 32-bit length: an implicit VR element header, or an item or delimitation tag (PS3.5 §7.5). */
export function writeTag(out: Chunks, tag: number, length: number, le: boolean): void {
  const b = Buffer.alloc(8);
  if (le) {
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
    b.writeUInt32LE(length, 4);
  } else {
    b.writeUInt16BE(tag >>> 16, 0);
    b.writeUInt16BE(tag & 0xffff, 2);
    b.writeUInt32BE(length, 4);
  }
  out.push(b);
}

/** An element header (PS3.5 §7.1): tag, VR when explicit, and a 16- or 32-bit length as the VR has. */
export function writeHeader(out: Chunks, tag: number, vr: string, length: number, target: Target): void {
  if (!target.explicitVR) {
    writeTag(out, tag, length, target.littleEndian);
    return;
  }
  const le = target.littleEndian;
  const long = LONG_LENGTH_VRS.has(vr);
  const b = Buffer.alloc(long ? 12 : 8);
  if (le) {
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
  } else {
    b.writeUInt16BE(tag >>> 16, 0);
    b.writeUInt16BE(tag & 0xffff, 2);
  }
  b.write(vr, 4, 'latin1');
  if (long) {
    if (le) b.writeUInt32LE(length, 8);
    else b.writeUInt32BE(length, 8);
  } else if (le) {
    b.writeUInt16LE(length, 6);
  } else {
    b.writeUInt16BE(length, 6);
  }
  out.push(b);
}

/** A UI value padded with NUL to even length (PS3.5 §6.2). */
function uiValue(uid: string): Buffer {
  return Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');
}

/** A text value (ASCII) padded with a space to even length. */
export function textValue(s: string): Buffer {
  return Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
}

/** A US value (one or more numbers), little endian. */
export function usValue(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}
