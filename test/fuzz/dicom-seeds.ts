/**
 * Valid Part 10 instances the DICOM fuzzer starts from, one per encoding the archive reads: a JPEG
 * VL Photographic Image, CT in Explicit/Implicit VR Little Endian, Explicit VR Big Endian and Deflated,
 * a multi-frame CT, an RGB Secondary Capture, and byte-built files with nested sequences (defined and
 * undefined lengths), a UN sequence, private tags and encapsulated fragments with an offset table.
 *
 * Their UIDs have a fixed length, so a case can swap in fresh UIDs without moving a single byte
 * (see {@link withUids}): the element map of the seed stays true for every case.
 */
import { deflateRawSync } from 'node:zlib';
import { readPart10, type DicomDataSet } from '../../services/core/dicom/reader.js';
import { LONG_LENGTH_VRS } from '../../services/core/dicom/vr.js';
import { makeCtImage, makeJpeg, makeSecondaryCaptureRgb, makeVlPhoto } from '../fixtures/dicom.js';
import { identityElements, rawPart10, us, type RawElement } from '../fixtures/dicom-raw.js';
import type { Rng } from './random.js';

/** '2.25.' and 39 digits: every fuzz UID has this length, so replacing one moves no byte. */
export const UID_LENGTH = 44;

/** A fixed-length UID from a number sequence (deterministic per case). */
export function fixedUid(rng: Rng): string {
  let digits = String(rng.int(1, 9));
  while (digits.length < UID_LENGTH - 5) digits += String(rng.int(0, 9));
  return `2.25.${digits}`;
}

/** Where an element lies in the (inflated) bytes of its seed. */
export interface ElementSpan {
  tag: number;
  /** The VR as written (explicit VR), or the dictionary's (implicit VR). */
  vr: string;
  headerStart: number;
  /** Offset and size of the length field. */
  lengthAt: number;
  lengthSize: 2 | 4;
  valueStart: number;
  /** Value bytes; for undefined-length elements the content up to the delimiter. */
  valueLength: number;
  /** First byte after the element (after its Sequence Delimitation Item when undefined length). */
  end: number;
  undefinedLength: boolean;
  explicitVR: boolean;
  littleEndian: boolean;
  /** 0 at the top level. */
  depth: number;
  /** Encapsulated Pixel Data: item header offsets of the offset table and fragments. */
  fragmentHeaders?: number[];
}

export interface Seed {
  name: string;
  /** The file as sent (deflated seeds: deflated). */
  bytes: Buffer;
  /** For deflated seeds: meta + inflated data set, which the element map refers to. */
  inflated?: Buffer;
  /** Offset of the first data set byte. */
  datasetOffset: number;
  uids: { sop: string; study: string; series: string };
  elements: ElementSpan[];
  /** Where the Transfer Syntax UID value is, for swapping it. */
  transferSyntax: { valueStart: number; valueLength: number; uid: string };
}

/** Builds every seed. Slow-ish (sharp for the photo): once per test run. */
export async function buildSeeds(rng: Rng): Promise<Seed[]> {
  const ids = () => ({ sopUID: fixedUid(rng), studyUID: fixedUid(rng), seriesUID: fixedUid(rng) });
  const patient = { patientID: 'FUZZ0001', patientName: 'FUZZ^PATIENT', issuer: 'FUZZ' };
  const seeds: Seed[] = [];
  const add = (name: string, bytes: Buffer, u: { sopUID: string; studyUID: string; seriesUID: string }) =>
    seeds.push(mapSeed(name, bytes, { sop: u.sopUID, study: u.studyUID, series: u.seriesUID }));

  let u = ids();
  add('vl-photo', await makeVlPhoto({ ...u, ...patient, jpeg: await makeJpeg(32, 24) }), u);
  for (const ts of ['explicit', 'implicit', 'bigendian', 'deflated'] as const) {
    u = ids();
    add(`ct-${ts}`, await makeCtImage({ ...u, ...patient, rows: 8, columns: 8, transferSyntax: ts }), u);
  }
  u = ids();
  add('ct-multiframe', await makeCtImage({ ...u, ...patient, rows: 8, columns: 8, frames: 3 }), u);
  u = ids();
  add('sc-rgb', await makeSecondaryCaptureRgb({ ...u, ...patient, rows: 8, columns: 8, planarConfiguration: 1 }), u);
  for (const transferSyntaxUID of ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']) {
    u = ids();
    add(`raw-nested-${transferSyntaxUID === '1.2.840.10008.1.2' ? 'implicit' : 'explicit'}`, rawNested(transferSyntaxUID, u), u);
  }
  u = ids();
  add('raw-fragments', rawFragments(u), u);
  return seeds;
}

const text = (tag: number, vr: string, value: string): RawElement => ({ tag, vr, value });

/** Nested sequences of both length kinds, a UN sequence of undefined length, private tags. */
function rawNested(transferSyntaxUID: string, u: { sopUID: string; studyUID: string; seriesUID: string }): Buffer {
  const code = (value: string): RawElement[] => [text(0x00080100, 'SH', value), text(0x00080102, 'SH', 'SCT'), text(0x00080104, 'LO', 'meaning')];
  return rawPart10({
    transferSyntaxUID,
    meta: [text(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.7'), text(0x00020003, 'UI', u.sopUID)],
    elements: [
      ...identityElements({ sop: u.sopUID, study: u.studyUID, series: u.seriesUID }),
      text(0x00080005, 'CS', 'ISO_IR 100'),
      text(0x00080020, 'DA', '20260101'),
      text(0x00080060, 'CS', 'OT'),
      text(0x00100010, 'PN', 'NESTED^FUZZ'),
      text(0x00100020, 'LO', 'FUZZ0002'),
      { tag: 0x00082218, vr: 'SQ', items: [code('70559009'), code('123')] },
      {
        tag: 0x00400275, vr: 'SQ', undefinedLength: true, items: [[
          text(0x00401001, 'SH', 'RP1'),
          { tag: 0x00400008, vr: 'SQ', undefinedLength: true, items: [code('1'), [{ tag: 0x00082218, vr: 'SQ', items: [code('deep')] }]] },
        ]],
      },
      { tag: 0x00091010, vr: 'LO', value: 'PRIVATE CREATOR' },
      { tag: 0x00091011, vr: 'UN', value: Buffer.from('private bytes!') },
      { tag: 0x00540220, vr: 'UN', undefinedLength: true, items: [code('399033003')] },
      text(0x00200013, 'IS', '1'),
      { tag: 0x00280002, vr: 'US', value: us(1) },
      text(0x00280004, 'CS', 'MONOCHROME2'),
      { tag: 0x00280010, vr: 'US', value: us(2) },
      { tag: 0x00280011, vr: 'US', value: us(2) },
      { tag: 0x00280100, vr: 'US', value: us(8) },
      { tag: 0x00280101, vr: 'US', value: us(8) },
      { tag: 0x00280102, vr: 'US', value: us(7) },
      { tag: 0x00280103, vr: 'US', value: us(0) },
      { tag: 0x7fe00010, vr: 'OB', value: Buffer.from([0, 64, 128, 255]) },
    ],
  });
}

/** Encapsulated (JPEG baseline by its transfer syntax) pixel data in two fragments with an offset table. */
function rawFragments(u: { sopUID: string; studyUID: string; seriesUID: string }): Buffer {
  const fragment = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xd9]);
  return rawPart10({
    transferSyntaxUID: '1.2.840.10008.1.2.4.50',
    meta: [text(0x00020003, 'UI', u.sopUID)],
    elements: [
      ...identityElements({ sop: u.sopUID, study: u.studyUID, series: u.seriesUID, sopClass: '1.2.840.10008.5.1.4.1.1.77.1.4' }),
      { tag: 0x00280002, vr: 'US', value: us(3) },
      text(0x00280004, 'CS', 'YBR_FULL_422'),
      { tag: 0x00280008, vr: 'IS', value: '2 ' },
      { tag: 0x00280010, vr: 'US', value: us(4) },
      { tag: 0x00280011, vr: 'US', value: us(4) },
      { tag: 0x00280100, vr: 'US', value: us(8) },
      { tag: 0x7fe00010, vr: 'OB', fragments: [fragment, fragment], offsetTable: [0, fragment.length + 8] },
    ],
  });
}

/** Reads a valid seed and records where each element lies (at every depth). */
function mapSeed(name: string, bytes: Buffer, uids: Seed['uids']): Seed {
  const file = readPart10(bytes);
  const deflated = file.bytes !== bytes && file.bytes.length !== bytes.length;
  const elements: ElementSpan[] = [];
  walk(file.bytes, file.dataset, 0, elements);
  const ts = file.meta.elements.get(0x00020010)!;
  return {
    name, bytes, inflated: deflated ? file.bytes : undefined, datasetOffset: file.datasetOffset, uids, elements,
    transferSyntax: { valueStart: ts.offset, valueLength: ts.length, uid: file.transferSyntaxUID },
  };
}

function walk(buf: Buffer, ds: DicomDataSet, depth: number, out: ElementSpan[]): void {
  const le = ds.littleEndian;
  for (const el of ds.elements.values()) {
    const tagAt = (pos: number) => pos >= 0 && ((le ? buf.readUInt16LE(pos) : buf.readUInt16BE(pos)) << 16 | (le ? buf.readUInt16LE(pos + 2) : buf.readUInt16BE(pos + 2))) >>> 0 === el.tag;
    let headerStart: number;
    let vr = el.vr;
    let lengthSize: 2 | 4 = 4;
    if (ds.explicitVR) {
      const long = el.offset - 12;
      const wireLong = long >= 0 ? buf.toString('latin1', long + 4, long + 6) : '';
      if (tagAt(long) && LONG_LENGTH_VRS.has(wireLong)) {
        headerStart = long;
        vr = wireLong;
      } else {
        headerStart = el.offset - 8;
        vr = buf.toString('latin1', headerStart + 4, headerStart + 6);
        lengthSize = 2;
      }
    } else {
      headerStart = el.offset - 8;
    }
    const lengthAt = headerStart + (lengthSize === 2 ? 6 : ds.explicitVR ? 8 : 4);
    const end = el.offset + el.length + (el.undefinedLength ? 8 : 0);
    out.push({
      tag: el.tag, vr, headerStart, lengthAt, lengthSize, valueStart: el.offset, valueLength: el.length, end,
      undefinedLength: el.undefinedLength, explicitVR: ds.explicitVR, littleEndian: le, depth,
      fragmentHeaders: el.offsetTable ? [el.offsetTable.offset - 8, ...(el.fragments ?? []).map((f) => f.offset - 8)] : undefined,
    });
    for (const item of el.items ?? []) walk(buf, item, depth + 1, out);
  }
}

/** The seed's bytes (inflated for deflated seeds) with the case's UIDs in place of the seed's. */
export function withUids(seed: Seed, uids: Seed['uids']): Buffer {
  const out = Buffer.from(seed.inflated ?? seed.bytes);
  for (const key of ['sop', 'study', 'series'] as const) {
    const from = Buffer.from(seed.uids[key], 'latin1');
    const to = Buffer.from(uids[key], 'latin1');
    for (let i = out.indexOf(from); i >= 0; i = out.indexOf(from, i + to.length)) to.copy(out, i);
  }
  return out;
}

/** Re-deflates the data set of an inflated deflated-syntax file (meta stays as it is). */
export function deflateDataset(bytes: Buffer, datasetOffset: number): Buffer {
  if (bytes.length <= datasetOffset) return bytes;
  return Buffer.concat([bytes.subarray(0, datasetOffset), deflateRawSync(bytes.subarray(datasetOffset))]);
}
