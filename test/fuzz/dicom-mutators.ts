/**
 * Mutated DICOM Part 10 files for STOW-RS. A case starts from a valid seed (dicom-seeds.ts) with
 * fresh UIDs and applies a few mutations:
 * - structure-aware, from the seed's element map: element, sequence and item lengths (off by one,
 *   doubled, undefined, huge), VR swaps (to other VRs, to long/short header forms, to garbage),
 *   duplicated, deleted and re-tagged elements, values overwritten (so well-formed files with absurd
 *   values reach the stored path), deeply nested sequences inserted, encapsulated fragments broken,
 *   the transfer syntax swapped, the file meta information damaged;
 * - byte-level: bit flips, interesting bytes, insertions, deletions, duplicated or zeroed runs,
 *   truncation, trailing garbage;
 * and a few whole-file generators (deep nesting, a deflate bomb, thousands of tiny elements, empty).
 * About one case in ten is left valid, so instances are stored and later retrieved.
 */
import { deflateRawSync } from 'node:zlib';
import { rawPart10, type RawElement } from '../fixtures/dicom-raw.js';
import { INTERESTING_U32, nastyString, type Rng } from './random.js';
import { deflateDataset, fixedUid, withUids, type ElementSpan, type Seed } from './dicom-seeds.js';

export interface DicomCase {
  bytes: Buffer;
  /** What was done, for the report (replay with the seed and index). */
  description: string;
  /** Left unmutated: the archive stores it, unless it shares a study or series with another case. */
  valid: boolean;
  /** Uses a study or series UID other cases use too (which may belong to another patient or study). */
  shared?: boolean;
  sopInstanceUID?: string;
}

const VRS = ['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV'];
const TRANSFER_SYNTAXES = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.201', '1.2.3.4', '', 'not.a.uid', '1.2.840.10008.1.2.1\0\0\0\0'];
/** Tags whose values drive decoding and indexing: where absurd values hurt most. */
const HOT_TAGS = new Set([0x00080005, 0x00080016, 0x00080020, 0x00080030, 0x0008002a, 0x00100010, 0x00100030, 0x00200011,
  0x00200013, 0x00280002, 0x00280004, 0x00280006, 0x00280008, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280102,
  0x00280103, 0x00281050, 0x00281051, 0x00281052, 0x00281053, 0x7fe00010]);
const ITEM_TAGS = [0xfffee000, 0xfffee00d, 0xfffee0dd];

/** A replacement of bytes [start, end) of the original buffer. */
interface Patch { start: number; end: number; bytes: Buffer; what: string }

/** Study UIDs several cases share, so instances meet existing studies (other patient, other series). */
export interface SharedUids { studies: string[]; series: string[]; sops: string[] }

export function dicomCase(rng: Rng, seeds: Seed[], shared: SharedUids): DicomCase {
  const special = rng.chance(0.06);
  if (special) return specialCase(rng);
  const seed = rng.pick(seeds);
  const sharedStudy = rng.chance(0.2);
  const sharedSeries = rng.chance(0.1);
  // A SOP Instance UID other cases send too: duplicates, identical re-sends and races between requests.
  const sharedSop = rng.chance(0.03);
  const uids = {
    sop: sharedSop ? rng.pick(shared.sops) : fixedUid(rng),
    study: sharedStudy ? rng.pick(shared.studies) : fixedUid(rng),
    series: sharedSeries ? rng.pick(shared.series) : fixedUid(rng),
  };
  const base = withUids(seed, uids);
  const tag = sharedStudy || sharedSeries || sharedSop ? ' (shared UIDs)' : '';
  if (rng.chance(0.1)) {
    return { bytes: finish(seed, base), description: `${seed.name}${tag}: valid`, valid: true, shared: sharedStudy || sharedSeries || sharedSop, sopInstanceUID: uids.sop };
  }
  const what: string[] = [];
  let bytes = base;
  const structural = rng.chance(0.75);
  if (structural) {
    const patches: Patch[] = [];
    for (let n = rng.small(4); n > 0; n--) patches.push(structuralPatch(rng, seed, base));
    bytes = applyPatches(base, patches);
    what.push(...patches.map((p) => p.what));
  }
  // Deflated seeds: mutate the inflated data set, then deflate; sometimes damage the compressed stream too.
  bytes = finish(seed, bytes);
  if (!structural || rng.chance(0.25)) {
    for (let n = rng.small(4); n > 0; n--) {
      const r = byteMutation(rng, bytes);
      bytes = r.bytes;
      what.push(r.what);
    }
  }
  return { bytes, description: `${seed.name}${tag}: ${what.join(', ')}`, valid: false, sopInstanceUID: uids.sop };
}

/** A valid instance with fresh UIDs (the archive must store it). */
export function validDicom(rng: Rng, seeds: Seed[]): DicomCase {
  const seed = rng.pick(seeds);
  const uids = { sop: fixedUid(rng), study: fixedUid(rng), series: fixedUid(rng) };
  return { bytes: finish(seed, withUids(seed, uids)), description: `${seed.name}: valid`, valid: true, sopInstanceUID: uids.sop };
}

function finish(seed: Seed, bytes: Buffer): Buffer {
  return seed.inflated ? deflateDataset(bytes, seed.datasetOffset) : bytes;
}

function applyPatches(base: Buffer, patches: Patch[]): Buffer {
  // From the end backwards, so earlier offsets stay valid; a patch overlapping a later one is dropped.
  const sorted = [...patches].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = base;
  let floor = Infinity;
  for (const p of sorted) {
    if (p.end > floor) continue;
    out = Buffer.concat([out.subarray(0, p.start), p.bytes, out.subarray(p.end)]);
    floor = p.start;
  }
  return out;
}

const hex = (tag: number) => tag.toString(16).padStart(8, '0');

function lengthBytes(el: ElementSpan, value: number): Buffer {
  const b = Buffer.alloc(el.lengthSize);
  if (el.lengthSize === 2) {
    if (el.littleEndian) b.writeUInt16LE(value & 0xffff);
    else b.writeUInt16BE(value & 0xffff);
  } else if (el.littleEndian) {
    b.writeUInt32LE(value >>> 0);
  } else {
    b.writeUInt32BE(value >>> 0);
  }
  return b;
}

function tagBytes(tag: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) { b.writeUInt16LE(tag >>> 16, 0); b.writeUInt16LE(tag & 0xffff, 2); } else { b.writeUInt16BE(tag >>> 16, 0); b.writeUInt16BE(tag & 0xffff, 2); }
  return b;
}

function pickElement(rng: Rng, seed: Seed): ElementSpan {
  const hot = seed.elements.filter((e) => HOT_TAGS.has(e.tag) || e.vr === 'SQ' || e.undefinedLength);
  return rng.chance(0.5) && hot.length ? rng.pick(hot) : rng.pick(seed.elements);
}

function structuralPatch(rng: Rng, seed: Seed, base: Buffer): Patch {
  const el = pickElement(rng, seed);
  const label = `${hex(el.tag)}${el.depth ? `@${el.depth}` : ''}`;
  const kind = rng.weighted<string>([
    [5, 'length'], [2, 'undefined-length'], [3, 'vr'], [2, 'duplicate'], [2, 'delete'], [2, 'retag'], [5, 'value'],
    [2, 'insert-sequence'], [2, 'fragments'], [2, 'transfer-syntax'], [2, 'meta'], [1, 'truncate-element'],
  ]);
  switch (kind) {
    case 'length': {
      const len = rng.weighted<() => number>([
        [3, () => rng.pick(INTERESTING_U32)],
        [3, () => el.valueLength + rng.pick([-2, -1, 1, 2, 3])],
        [1, () => el.valueLength * 2],
        [1, () => base.length - el.valueStart + rng.int(-4, 8)],
        [1, () => rng.u32()],
      ])();
      return { start: el.lengthAt, end: el.lengthAt + el.lengthSize, bytes: lengthBytes(el, len), what: `length ${label}=${len >>> 0}` };
    }
    case 'undefined-length':
      return { start: el.lengthAt, end: el.lengthAt + el.lengthSize, bytes: lengthBytes(el, 0xffffffff), what: `undefined-length ${label}` };
    case 'vr': {
      if (!el.explicitVR) return valuePatch(rng, el, label);
      const vr = rng.chance(0.8) ? rng.pick(VRS) : rng.bytes(2).toString('latin1');
      return { start: el.headerStart + 4, end: el.headerStart + 6, bytes: Buffer.from(vr, 'latin1'), what: `vr ${label} ${el.vr}->${JSON.stringify(vr)}` };
    }
    case 'duplicate': {
      const copy = base.subarray(el.headerStart, el.end);
      const at = rng.chance(0.6) ? el.end : rng.pick(seed.elements).headerStart;
      return { start: at, end: at, bytes: Buffer.from(copy), what: `duplicate ${label}` };
    }
    case 'delete':
      return { start: el.headerStart, end: el.end, bytes: Buffer.alloc(0), what: `delete ${label}` };
    case 'retag': {
      const tag = rng.weighted<() => number>([
        [2, () => rng.pick(ITEM_TAGS)], [1, () => 0x00020010], [1, () => 0x7fe00010], [1, () => 0x00080018],
        [1, () => 0x00000000], [1, () => 0xffffffff], [2, () => rng.u32()], [1, () => (el.tag & 0xffff0000) | rng.int(0, 0xffff)],
      ])();
      return { start: el.headerStart, end: el.headerStart + 4, bytes: tagBytes(tag, el.littleEndian), what: `retag ${label}->${hex(tag)}` };
    }
    case 'value':
      return valuePatch(rng, el, label);
    case 'insert-sequence': {
      const top = seed.elements.filter((e) => e.depth === 0);
      const at = rng.pick(top);
      const seq = nestedSequence(rng, at.explicitVR, at.littleEndian);
      return { start: at.headerStart, end: at.headerStart, bytes: seq.bytes, what: `insert-sequence before ${hex(at.tag)} (${seq.what})` };
    }
    case 'fragments': {
      const px = seed.elements.find((e) => e.fragmentHeaders);
      if (!px) return valuePatch(rng, el, label);
      const h = rng.pick(px.fragmentHeaders!);
      const what = rng.pick(['length', 'tag', 'remove-delimiter', 'empty-fragments', 'offset-table'] as const);
      if (what === 'length') {
        const len = rng.pick(INTERESTING_U32);
        const b = Buffer.alloc(4);
        b.writeUInt32LE(len >>> 0);
        return { start: h + 4, end: h + 8, bytes: b, what: `fragment length @${h}=${len}` };
      }
      if (what === 'tag') return { start: h, end: h + 4, bytes: tagBytes(rng.pick([0xfffee0dd, 0xfffee00d, 0x7fe00010]), true), what: `fragment tag @${h}` };
      if (what === 'remove-delimiter') return { start: px.end - 8, end: px.end, bytes: Buffer.alloc(0), what: 'remove pixel data delimiter' };
      if (what === 'empty-fragments') {
        const item = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
        return { start: px.end - 8, end: px.end - 8, bytes: Buffer.concat(Array(rng.int(1, 300)).fill(item)), what: 'empty fragments' };
      }
      const table = Buffer.alloc(4 * rng.int(1, 4));
      for (let i = 0; i < table.length; i += 4) table.writeUInt32LE(rng.pick(INTERESTING_U32), i);
      const bot = px.fragmentHeaders![0];
      const header = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
      header.writeUInt32LE(table.length, 4);
      const oldLength = base.readUInt32LE(bot + 4);
      return { start: bot, end: bot + 8 + oldLength, bytes: Buffer.concat([header, table]), what: 'offset table entries' };
    }
    case 'transfer-syntax': {
      const ts = rng.pick(TRANSFER_SYNTAXES);
      const value = Buffer.from(ts.length % 2 ? `${ts}\0` : ts, 'latin1');
      const { valueStart, valueLength } = seed.transferSyntax;
      const len = Buffer.alloc(2);
      len.writeUInt16LE(value.length);
      return { start: valueStart - 2, end: valueStart + valueLength, bytes: Buffer.concat([len, value]), what: `transfer-syntax ${JSON.stringify(ts)}` };
    }
    case 'meta': {
      const what = rng.pick(['no-dicm', 'group-length', 'media-uid', 'meta-vr', 'meta-length', 'short-preamble'] as const);
      if (what === 'no-dicm') return { start: 128, end: 132, bytes: Buffer.from(rng.pick(['DICN', 'dicm', '\0\0\0\0']), 'latin1'), what };
      if (what === 'short-preamble') return { start: 0, end: rng.int(1, 128), bytes: Buffer.alloc(0), what };
      if (what === 'group-length') {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(rng.pick(INTERESTING_U32));
        return { start: 140, end: 144, bytes: b, what };
      }
      if (what === 'meta-vr') return { start: 136, end: 138, bytes: Buffer.from(rng.pick(['SQ', 'OB', 'XX', '\0\0']), 'latin1'), what };
      if (what === 'meta-length') {
        const b = Buffer.alloc(2);
        b.writeUInt16LE(rng.pick([0, 1, 0xffff, 0x8000]));
        return { start: seed.transferSyntax.valueStart - 2, end: seed.transferSyntax.valueStart, bytes: b, what };
      }
      // MediaStorageSOPInstanceUID differing from SOPInstanceUID by one digit.
      const sop = base.indexOf(Buffer.from('2.25.', 'latin1'), 132);
      return { start: sop + 10, end: sop + 11, bytes: Buffer.from(String(rng.int(0, 9))), what };
    }
    default: {
      const cut = rng.int(el.headerStart, Math.max(el.headerStart, el.end - 1));
      return { start: cut, end: base.length, bytes: Buffer.alloc(0), what: `truncate inside ${label} at ${cut}` };
    }
  }
}

/** Overwrites an element's value: same length (structure intact), or another length with the length field fixed. */
function valuePatch(rng: Rng, el: ElementSpan, label: string): Patch {
  const sameLength = el.valueLength > 0 && (el.depth > 0 || rng.chance(0.5));
  if (el.undefinedLength || (sameLength && el.valueLength > 0)) {
    const n = el.valueLength;
    const fill = rng.weighted<() => Buffer>([
      [2, () => rng.bytes(n)],
      [2, () => Buffer.alloc(n, rng.pick([0x00, 0xff, 0x20, 0x5c, 0x2a, 0x3f]))],
      [2, () => Buffer.from(nastyString(rng).padEnd(n, ' ').slice(0, n), 'latin1').subarray(0, n)],
      [2, () => { const b = rng.bytes(n); if (n >= 2) b.writeUInt16LE(rng.pick([0, 1, 0x7fff, 0x8000, 0xffff]) & 0xffff, 0); return b; }],
    ])();
    const bytes = Buffer.alloc(n);
    fill.copy(bytes);
    return { start: el.valueStart, end: el.valueStart + n, bytes, what: `value ${label} (${n} bytes)` };
  }
  let value = rng.weighted<() => Buffer>([
    [3, () => Buffer.from(nastyString(rng), 'utf8')],
    [2, () => rng.bytes(rng.int(0, 64))],
    [1, () => Buffer.from(Array.from({ length: rng.int(2, 200) }, () => nastyString(rng).slice(0, 20)).join('\\'), 'utf8')],
  ])();
  if (value.length % 2) value = Buffer.concat([value, Buffer.from(' ')]);
  if (el.lengthSize === 2 && value.length > 0xfffe) value = value.subarray(0, 0xfffe);
  const header = Buffer.alloc(el.lengthSize);
  if (el.lengthSize === 2) {
    if (el.littleEndian) header.writeUInt16LE(value.length);
    else header.writeUInt16BE(value.length);
  } else if (el.littleEndian) {
    header.writeUInt32LE(value.length);
  } else {
    header.writeUInt32BE(value.length);
  }
  // Length field and value replaced together (for a long-VR header the 2 bytes in between are kept).
  const between = el.valueStart - (el.lengthAt + el.lengthSize);
  return {
    start: el.lengthAt, end: el.valueStart + el.valueLength,
    bytes: Buffer.concat([header, Buffer.alloc(between), value]), what: `value ${label} resized to ${value.length}`,
  };
}

/** A sequence element nested `depth` deep, lengths defined, undefined or mixed; sometimes a UN sequence. */
function nestedSequence(rng: Rng, explicit: boolean, le: boolean): { bytes: Buffer; what: string } {
  const depth = rng.weighted<number>([[4, rng.int(1, 5)], [2, rng.int(20, 40)], [1, rng.int(100, 400)]]);
  const mode = rng.pick(['defined', 'undefined', 'mixed'] as const);
  const un = rng.chance(0.2);
  let inner: RawElement[] = [{ tag: 0x00080100, vr: 'SH', value: 'LEAF' }];
  for (let d = 0; d < depth; d++) {
    const undefinedLength = mode === 'undefined' || (mode === 'mixed' && rng.chance(0.5));
    inner = [{ tag: 0x00082218, vr: 'SQ', undefinedLength, items: Array.from({ length: d < 8 && rng.chance(0.2) ? 2 : 1 }, () => inner) }];
  }
  const seq: RawElement = { ...inner[0], tag: rng.pick([0x00082218, 0x00400275, 0x00091012]), vr: un ? 'UN' : 'SQ', undefinedLength: un || inner[0].undefinedLength };
  // Encode the one element through rawPart10 and cut it out of the file it builds.
  const file = rawPart10({ transferSyntaxUID: le ? (explicit ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2') : '1.2.840.10008.1.2.2', elements: [seq] });
  const metaEnd = 132 + 12 + file.readUInt32LE(140);
  return { bytes: file.subarray(metaEnd), what: `${un ? 'UN ' : ''}depth ${depth}, ${mode} lengths` };
}

function byteMutation(rng: Rng, bytes: Buffer): { bytes: Buffer; what: string } {
  if (bytes.length === 0) return { bytes: rng.bytes(rng.int(1, 300)), what: 'garbage for an empty file' };
  const at = (slack = 0) => rng.int(0, Math.max(0, bytes.length - 1 + slack));
  // Most of a file is pixel data; aim half the byte mutations at the first 512 bytes (meta and headers).
  const head = () => (rng.chance(0.5) ? rng.int(0, Math.min(bytes.length, 512) - 1) : at());
  const kind = rng.pick(['flip', 'set', 'insert', 'delete', 'duplicate', 'zero', 'truncate', 'append'] as const);
  const out = Buffer.from(bytes);
  switch (kind) {
    case 'flip': {
      const n = rng.int(1, 8);
      for (let i = 0; i < n; i++) { const p = head(); out[p] ^= 1 << rng.int(0, 7); }
      return { bytes: out, what: `flip ${n} bits` };
    }
    case 'set': {
      const p = head();
      out[p] = rng.pick([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]);
      return { bytes: out, what: `set byte ${p}` };
    }
    case 'insert': {
      const p = head();
      return { bytes: Buffer.concat([bytes.subarray(0, p), rng.bytes(rng.int(1, 64)), bytes.subarray(p)]), what: `insert at ${p}` };
    }
    case 'delete': {
      const p = head();
      return { bytes: Buffer.concat([bytes.subarray(0, p), bytes.subarray(p + rng.int(1, 64))]), what: `delete at ${p}` };
    }
    case 'duplicate': {
      const p = head();
      const run = bytes.subarray(p, p + rng.int(1, 256));
      return { bytes: Buffer.concat([bytes.subarray(0, p), run, bytes.subarray(p)]), what: `duplicate run at ${p}` };
    }
    case 'zero': {
      const p = head();
      out.fill(0, p, Math.min(out.length, p + rng.int(1, 64)));
      return { bytes: out, what: `zero run at ${p}` };
    }
    case 'truncate': {
      const p = at();
      return { bytes: bytes.subarray(0, p), what: `truncate to ${p}` };
    }
    default:
      return { bytes: Buffer.concat([bytes, rng.bytes(rng.int(1, 300))]), what: 'append garbage' };
  }
}

const BIG_BOMB_BYTES = 512 * 1024 * 1024;
let bigBombCache: Buffer | undefined;
/** Deflated zeros, made once per run (a second or two of CPU). */
function bigBomb(): Buffer {
  bigBombCache ??= deflateRawSync(Buffer.alloc(BIG_BOMB_BYTES), { level: 1 });
  return bigBombCache;
}

/** Whole files that are not mutations of a seed. */
function specialCase(rng: Rng): DicomCase {
  const uids = { sop: fixedUid(rng), study: fixedUid(rng), series: fixedUid(rng) };
  const identity: RawElement[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' }, { tag: 0x00080018, vr: 'UI', value: uids.sop },
    { tag: 0x0020000d, vr: 'UI', value: uids.study }, { tag: 0x0020000e, vr: 'UI', value: uids.series },
  ];
  const kind = rng.pick(['empty', 'preamble-only', 'deep', 'deflate-bomb', 'many-elements', 'huge-declared'] as const);
  const preamble = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]);
  switch (kind) {
    case 'empty': return { bytes: Buffer.alloc(0), description: 'special: empty', valid: false };
    case 'preamble-only': return { bytes: rng.chance(0.5) ? preamble : Buffer.alloc(128), description: 'special: preamble only', valid: false };
    case 'deep': {
      const seq = nestedSequence(rng, true, true);
      const file = rawPart10({ transferSyntaxUID: '1.2.840.10008.1.2.1', elements: identity });
      return { bytes: Buffer.concat([file, seq.bytes]), description: `special: deep sequence ${seq.what}`, valid: false, sopInstanceUID: uids.sop };
    }
    case 'deflate-bomb': {
      // Zeros (elements of tag 0000,0000 and VR "\0\0"): a few MB, or 512 MB from half a megabyte.
      const big = rng.chance(0.3);
      const size = big ? BIG_BOMB_BYTES : rng.int(4, 48) * 1024 * 1024;
      const file = rawPart10({ transferSyntaxUID: '1.2.840.10008.1.2.1.99', elements: [] });
      return { bytes: Buffer.concat([file, big ? bigBomb() : deflateRawSync(Buffer.alloc(size))]), description: `special: deflate bomb of ${size} bytes`, valid: false };
    }
    case 'many-elements': {
      const n = rng.int(5000, 40000);
      const elements: RawElement[] = [...identity];
      for (let i = 0; i < n; i++) elements.push({ tag: (0x00090000 | (0x1000 + (i % 0xf000))) + Math.floor(i / 0xf000) * 0x20000, vr: 'LO', value: 'xx' });
      return { bytes: rawPart10({ transferSyntaxUID: '1.2.840.10008.1.2.1', elements }), description: `special: ${n} private elements`, valid: false, sopInstanceUID: uids.sop };
    }
    default: {
      // An OB whose declared length is far beyond the body: must be refused, not allocated.
      const file = rawPart10({ transferSyntaxUID: '1.2.840.10008.1.2.1', elements: identity });
      const header = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
      header.writeUInt32LE(rng.pick([0x7fffffff, 0xfffffff0, 0x40000000]), 8);
      return { bytes: Buffer.concat([file, header, rng.bytes(64)]), description: 'special: huge declared pixel data length', valid: false, sopInstanceUID: uids.sop };
    }
  }
}
