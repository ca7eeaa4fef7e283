/**
 * HEIF container (ISO/IEC 23008-12, on ISO-BMFF ISO/IEC 14496-12) header reading: brands, the primary
 * item's coding type, size ('ispe'), rotation/mirroring ('irot'/'imir') and ICC profile ('colr').
 * Reads boxes only; decoding is heic-decode's job (libheif in WebAssembly).
 */
import { LucidaError } from '../errors.js';

/** Brands that announce HEVC-coded HEIF images or sequences (ISO/IEC 23008-12 Annex B). */
const HEVC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
/** Structural brands: the codec must be read from the primary item. */
const GENERIC_BRANDS = new Set(['mif1', 'msf1', 'mif2', 'miaf']);
/** AV1 Image File Format brands: HEIF containers, but AVIF is not a supported upload format. */
const AVIF_BRANDS = new Set(['avif', 'avis', 'avio']);

export interface HeifHeader {
  width: number;
  height: number;
  /** Anticlockwise rotation in degrees from 'irot' (0, 90, 180, 270). */
  rotation: number;
  /** 'imir' present (mirroring applied by decoders). */
  mirrored: boolean;
  /** ICC profile from a 'colr' box of type 'prof' or 'rICC'. */
  icc?: Buffer;
}

interface Box {
  type: string;
  /** First byte of the payload. */
  start: number;
  end: number;
}

function invalid(detail: string): never {
  throw new LucidaError('INVALID_IMAGE', `HEIC: ${detail}`);
}

/** True when `buf` starts with an ISO-BMFF 'ftyp' box. */
export function isIsoBmff(buf: Buffer): boolean {
  return buf.length >= 12 && buf.toString('latin1', 4, 8) === 'ftyp';
}

function* boxes(buf: Buffer, start: number, end: number): Generator<Box> {
  let p = start;
  while (p + 8 <= end) {
    let size = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    let header = 8;
    if (size === 1) {
      if (p + 16 > end) invalid('box header truncated');
      const large = buf.readBigUInt64BE(p + 8);
      if (large > BigInt(end - p)) invalid(`box '${type}' runs past its container (truncated)`);
      size = Number(large);
      header = 16;
    } else if (size === 0) {
      size = end - p;
    }
    if (size < header || p + size > end) invalid(`box '${type}' runs past its container (truncated)`);
    yield { type, start: p + header, end: p + size };
    p += size;
  }
}

const child = (buf: Buffer, parent: Box, type: string, skip = 0) => {
  for (const b of boxes(buf, parent.start + skip, parent.end)) if (b.type === type) return b;
  return undefined;
};

/** The brands of the 'ftyp' box: major first, then the compatible ones. */
function heifBrands(buf: Buffer): string[] {
  const ftyp = boxes(buf, 0, buf.length).next().value as Box | undefined;
  if (!ftyp || ftyp.type !== 'ftyp' || ftyp.end - ftyp.start < 8) invalid('damaged file type box');
  const brands = [buf.toString('latin1', ftyp.start, ftyp.start + 4)];
  for (let p = ftyp.start + 8; p + 4 <= ftyp.end; p += 4) brands.push(buf.toString('latin1', p, p + 4));
  return brands;
}

/**
 * Reads the primary image's header of an HEIC file.
 * @throws LucidaError UNSUPPORTED_IMAGE for other ISO-BMFF files (AVIF, MP4/MOV video, CR3 raw...),
 *   INVALID_IMAGE when the boxes are truncated or the primary image cannot be found.
 */
export function readHeifHeader(buf: Buffer): HeifHeader {
  const brands = heifBrands(buf);
  const hevc = brands.some((b) => HEVC_BRANDS.has(b));
  const generic = brands.some((b) => GENERIC_BRANDS.has(b));
  if (!hevc && brands.some((b) => AVIF_BRANDS.has(b))) {
    throw new LucidaError('UNSUPPORTED_IMAGE', 'AVIF images are not supported: send JPEG, PNG, TIFF or HEIC');
  }
  if (!hevc && !generic) {
    throw new LucidaError('UNSUPPORTED_IMAGE', `not a HEIC image (ISO-BMFF brand '${brands[0].replace(/[^\x20-\x7e]/g, '?')}')`);
  }
  let meta: Box | undefined;
  for (const b of boxes(buf, 0, buf.length)) if (b.type === 'meta') meta = b;
  if (!meta) invalid('no metadata box');
  const META_FULLBOX = 4; // version + flags
  const pitm = child(buf, meta, 'pitm', META_FULLBOX);
  const iinf = child(buf, meta, 'iinf', META_FULLBOX);
  const iprp = child(buf, meta, 'iprp', META_FULLBOX);
  if (!pitm || !iinf || !iprp) invalid('primary item information missing');
  const primary = buf[pitm.start] === 0 ? buf.readUInt16BE(pitm.start + 4) : buf.readUInt32BE(pitm.start + 4);
  const itemType = primaryItemType(buf, iinf, primary);
  if (itemType !== 'hvc1' && itemType !== 'grid') {
    const what = itemType === 'av01' ? 'AVIF images are' : `HEIF images coded as '${itemType.replace(/[^\x20-\x7e]/g, '?')}' are`;
    throw new LucidaError('UNSUPPORTED_IMAGE', `${what} not supported: send JPEG, PNG, TIFF or HEIC`);
  }
  const props = primaryProperties(buf, iprp, primary);
  const ispe = props.find((b) => b.type === 'ispe');
  if (!ispe || ispe.end - ispe.start < 12) invalid('primary image has no size');
  const irot = props.find((b) => b.type === 'irot');
  const colr = props.find((b) => b.type === 'colr' && ['prof', 'rICC'].includes(buf.toString('latin1', b.start, b.start + 4)));
  return {
    width: buf.readUInt32BE(ispe.start + 4),
    height: buf.readUInt32BE(ispe.start + 8),
    rotation: irot && irot.end > irot.start ? (buf[irot.start] & 0x03) * 90 : 0,
    mirrored: props.some((b) => b.type === 'imir'),
    ...(colr ? { icc: Buffer.from(buf.subarray(colr.start + 4, colr.end)) } : {}),
  };
}

/**
 * The TIFF-structured EXIF data (from its "II*\0"/"MM\0*" header on) of the 'Exif' item, if any.
 * Read here rather than by exifr, whose HEIF reader ignores 'iloc' base offsets (libheif writes them).
 * ISO/IEC 23008-12 Annex A.2.1: the item starts with a 32-bit offset to the TIFF header.
 */
export function readHeifExif(buf: Buffer): Buffer | undefined {
  let meta: Box | undefined;
  for (const b of boxes(buf, 0, buf.length)) if (b.type === 'meta') meta = b;
  if (!meta) return undefined;
  const iinf = child(buf, meta, 'iinf', 4);
  const iloc = child(buf, meta, 'iloc', 4);
  if (!iinf || !iloc) return undefined;
  const id = itemIdOfType(buf, iinf, 'Exif');
  if (id === undefined) return undefined;
  const data = itemData(buf, meta, iloc, id);
  if (!data || data.length < 4) return undefined;
  let start = 4 + data.readUInt32BE(0);
  // Some writers put the APP1 identifier first and an offset of 0.
  if (data.toString('latin1', start, start + 6) === 'Exif\0\0') start += 6;
  return start < data.length ? data.subarray(start) : undefined;
}

/** The first item of `type` in 'iinf'. */
function itemIdOfType(buf: Buffer, iinf: Box, type: string): number | undefined {
  const skip = 4 + (buf[iinf.start] === 0 ? 2 : 4);
  for (const infe of boxes(buf, iinf.start + skip, iinf.end)) {
    if (infe.type !== 'infe' || infe.end - infe.start < 12 || buf[infe.start] < 2) continue;
    const wide = buf[infe.start] === 3;
    const typeAt = infe.start + 4 + (wide ? 4 : 2) + 2;
    if (typeAt + 4 <= infe.end && buf.toString('latin1', typeAt, typeAt + 4) === type) {
      return wide ? buf.readUInt32BE(infe.start + 4) : buf.readUInt16BE(infe.start + 4);
    }
  }
  return undefined;
}

/**
 * An item's bytes from 'iloc' (ISO/IEC 14496-12 §8.11.3): extents in the file (construction method 0)
 * or in 'idat' (1), relative to the base offset.
 */
function itemData(buf: Buffer, meta: Box, iloc: Box, wanted: number): Buffer | undefined {
  const version = buf[iloc.start];
  let p = iloc.start + 4;
  const uint = (size: number): number => {
    if (p + size > iloc.end) invalid('item locations truncated');
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + buf[p + i];
    p += size;
    return v;
  };
  const sizes = uint(2);
  const [offsetSize, lengthSize, baseSize, indexSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15, version >= 1 ? sizes & 15 : 0];
  const count = uint(version < 2 ? 2 : 4);
  for (let i = 0; i < count; i++) {
    const id = uint(version < 2 ? 2 : 4);
    const method = version >= 1 ? uint(2) & 15 : 0;
    uint(2); // data_reference_index
    const base = uint(baseSize);
    const extents = uint(2);
    const parts: Buffer[] = [];
    for (let e = 0; e < extents; e++) {
      uint(indexSize);
      const offset = base + uint(offsetSize);
      const length = uint(lengthSize);
      if (id !== wanted) continue;
      const idat = method === 1 ? child(buf, meta, 'idat', 4) : undefined;
      const origin = method === 0 ? 0 : idat ? idat.start : -1;
      const limit = method === 0 ? buf.length : idat ? idat.end : -1;
      if (origin < 0 || length === 0 || origin + offset + length > limit) return undefined;
      parts.push(buf.subarray(origin + offset, origin + offset + length));
    }
    if (id === wanted) return Buffer.concat(parts);
  }
  return undefined;
}

/** item_type of the primary item from 'iinf'/'infe' (ISO/IEC 14496-12 §8.11.6, infe version ≥ 2). */
function primaryItemType(buf: Buffer, iinf: Box, primary: number): string {
  const skip = 4 + (buf[iinf.start] === 0 ? 2 : 4); // FullBox header, entry_count
  for (const infe of boxes(buf, iinf.start + skip, iinf.end)) {
    if (infe.type !== 'infe' || infe.end - infe.start < 12) continue;
    const version = buf[infe.start];
    if (version < 2) continue;
    const id = version === 2 ? buf.readUInt16BE(infe.start + 4) : buf.readUInt32BE(infe.start + 4);
    const typeAt = infe.start + 4 + (version === 2 ? 2 : 4) + 2;
    if (id === primary && typeAt + 4 <= infe.end) return buf.toString('latin1', typeAt, typeAt + 4);
  }
  return invalid('primary item not described');
}

/** The property boxes associated with the primary item ('ipco' + 'ipma', ISO/IEC 23008-12 §9.3). */
function primaryProperties(buf: Buffer, iprp: Box, primary: number): Box[] {
  const ipco = child(buf, iprp, 'ipco');
  if (!ipco) return invalid('no item properties');
  const all = [...boxes(buf, ipco.start, ipco.end)];
  const out: Box[] = [];
  for (const ipma of boxes(buf, iprp.start, iprp.end)) {
    if (ipma.type !== 'ipma') continue;
    const version = buf[ipma.start];
    const wide = (buf[ipma.start + 3] & 1) === 1;
    let p = ipma.start + 4;
    const need = (n: number) => { if (p + n > ipma.end) invalid('item property associations truncated'); };
    need(4);
    const entries = buf.readUInt32BE(p);
    p += 4;
    for (let e = 0; e < entries; e++) {
      need(version < 1 ? 3 : 5);
      const id = version < 1 ? buf.readUInt16BE(p) : buf.readUInt32BE(p);
      p += version < 1 ? 2 : 4;
      const n = buf[p++];
      need(n * (wide ? 2 : 1));
      for (let i = 0; i < n; i++) {
        const index = wide ? buf.readUInt16BE(p) & 0x7fff : buf[p] & 0x7f;
        p += wide ? 2 : 1;
        if (id === primary && index > 0 && index <= all.length) out.push(all[index - 1]);
      }
    }
  }
  return out;
}
