/**
 * JPEG (ITU-T T.81 | ISO/IEC 10918-1) marker-segment parser and metadata stripper.
 *
 * Camera JPEGs are wrapped in DICOM without re-encoding (PS3.5 §8.2.1, §A.4.1), so everything the
 * converter needs to know about the bitstream comes from here: the frame header (SOFn), the colour
 * transform (APP14 Adobe), whether the data is complete (EOI after the entropy-coded data, restart
 * markers all present), and the segments that carry metadata (APPn, COM) to drop before wrapping:
 * EXIF with GPS and thumbnails, XMP, IPTC, maker notes, MPF. Entropy-coded data is never touched.
 *
 * Nothing here decodes pixels; a 12 MP file is scanned in a few milliseconds (one `indexOf(0xFF)` per
 * marker or stuffed byte).
 */
import { LucidaError } from '../errors.js';

/** Coding process of the frame, from the SOFn marker (T.81 Table B.1). */
export type JpegProcess = 'baseline' | 'extended' | 'progressive' | 'lossless' | 'hierarchical';

export interface JpegComponent {
  id: number;
  /** Horizontal and vertical sampling factors. */
  h: number;
  v: number;
  /** Quantization table selector. */
  tq: number;
}

export interface JpegFrame {
  /** The SOFn marker byte (0xC0 = SOF0 baseline, 0xC1 extended, 0xC2 progressive, ...). */
  marker: number;
  process: JpegProcess;
  /** Arithmetic rather than Huffman entropy coding (SOF9–SOF15). */
  arithmetic: boolean;
  /** Sample precision in bits (8 or 12 for DCT processes). */
  precision: number;
  width: number;
  /** 0 when the height is defined later by a DNL marker (T.81 §B.2.5). */
  height: number;
  components: JpegComponent[];
}

/** One marker segment: `offset` is its 0xFF byte, `end` the byte after it. */
export interface JpegSegment {
  marker: number;
  offset: number;
  end: number;
}

export interface JpegHeader {
  frame: JpegFrame;
  /** Chroma subsampling of 3-component frames, e.g. '4:2:0'; '' for other component counts. */
  subsampling: string;
  /** APP14 "Adobe" transform flag (0 none: RGB/CMYK, 1 YCbCr, 2 YCCK), when the segment is present. */
  adobeTransform?: number;
  /** Marker segments from SOI (exclusive) up to and including the first SOS, in file order. */
  segments: JpegSegment[];
  /** Offset of the first byte after the first SOS header: where entropy-coded data starts. */
  entropyStart: number;
}

export interface JpegStructure extends JpegHeader {
  /** Offset just past the EOI marker; bytes after it (MPF images, vendor trailers) are not part of the image. */
  end: number;
  /** APPn and COM segments found between scans (after the first SOS). */
  lateMetadata: JpegSegment[];
  /** Number of scans (SOS segments). */
  scans: number;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const DQT = 0xdb;
const DRI = 0xdd;
const APP0 = 0xe0;
const APP2 = 0xe2;
const APP14 = 0xee;
const COM = 0xfe;

function invalid(detail: string): never {
  throw new LucidaError('INVALID_IMAGE', `JPEG: ${detail}`);
}

/** SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const isApp = (m: number) => m >= 0xe0 && m <= 0xef;
/** Markers without a length field (T.81 Table B.1): TEM, RSTn, SOI, EOI. */
const isStandalone = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd9);

/** SOF0 baseline; SOF1/9 extended; SOF2/10 progressive; SOF3/11 lossless; SOF5–7, 13–15 differential. */
function processOf(marker: number): JpegProcess {
  if (marker & 0x04) return 'hierarchical';
  return (['baseline', 'extended', 'progressive', 'lossless'] as const)[marker & 0x03]; // only SOF0 has 0
}

const hasId = (buf: Buffer, seg: JpegSegment, id: string) =>
  seg.end - seg.offset >= 4 + id.length && buf.toString('latin1', seg.offset + 4, seg.offset + 4 + id.length) === id;

/** True for APP0 "JFIF\0". */
const isJfif = (buf: Buffer, seg: JpegSegment) => seg.marker === APP0 && hasId(buf, seg, 'JFIF\0');
/** True for APP14 "Adobe". */
const isAdobe = (buf: Buffer, seg: JpegSegment) => seg.marker === APP14 && hasId(buf, seg, 'Adobe');
/** True for APP2 "ICC_PROFILE\0" (ICC.1 Annex B.4). */
const isIcc = (buf: Buffer, seg: JpegSegment) => seg.marker === APP2 && hasId(buf, seg, 'ICC_PROFILE\0');

/**
 * The colour transform flag of an APP14 "Adobe" segment (its last byte: 0 RGB or CMYK, 1 YCbCr,
 * 2 YCCK), or undefined when `seg` is not one.
 */
export function adobeTransformOf(buf: Buffer, seg: JpegSegment): number | undefined {
  return isAdobe(buf, seg) && seg.end - seg.offset >= 16 ? buf[seg.offset + 15] : undefined;
}

/** Reads the marker at `p` (after any 0xFF fill bytes) and the segment it starts. */
function segmentAt(buf: Buffer, p: number): JpegSegment {
  if (p + 1 >= buf.length) invalid('the file ends inside the header (truncated)');
  if (buf[p] !== 0xff) invalid(`expected a marker at byte ${p}`);
  while (buf[p + 1] === 0xff) {
    p++;
    if (p + 1 >= buf.length) invalid('the file ends inside the header (truncated)');
  }
  const marker = buf[p + 1];
  if (isStandalone(marker)) return { marker, offset: p, end: p + 2 };
  if (p + 4 > buf.length) invalid('the file ends inside a marker segment (truncated)');
  const length = buf.readUInt16BE(p + 2);
  if (length < 2) invalid(`marker 0x${marker.toString(16)} has an impossible length`);
  const end = p + 2 + length;
  if (end > buf.length) invalid(`marker segment 0x${marker.toString(16)} runs past the end of the file (truncated)`);
  return { marker, offset: p, end };
}

function parseFrame(buf: Buffer, seg: JpegSegment): JpegFrame {
  const p = seg.offset + 4;
  if (seg.end - p < 6) invalid('frame header too short');
  const n = buf[p + 5];
  if (n === 0 || seg.end - p !== 6 + 3 * n) invalid('frame header length does not match its component count');
  const components: JpegComponent[] = [];
  for (let i = 0; i < n; i++) {
    const c = p + 6 + 3 * i;
    const h = buf[c + 1] >> 4;
    const v = buf[c + 1] & 0x0f;
    if (h < 1 || h > 4 || v < 1 || v > 4) invalid('invalid sampling factors');
    components.push({ id: buf[c], h, v, tq: buf[c + 2] });
  }
  return {
    marker: seg.marker,
    process: processOf(seg.marker),
    arithmetic: seg.marker >= 0xc9,
    precision: buf[p],
    height: buf.readUInt16BE(p + 1),
    width: buf.readUInt16BE(p + 3),
    components,
  };
}

/** '4:4:4', '4:2:2', '4:2:0', '4:4:0', '4:1:1', or the raw factors (e.g. '2x2,1x1,2x1'). */
function subsamplingOf(components: JpegComponent[]): string {
  if (components.length !== 3) return '';
  const [y, cb, cr] = components;
  if (cb.h === cr.h && cb.v === cr.v && y.h % cb.h === 0 && y.v % cb.v === 0) {
    const key = `${y.h / cb.h}x${y.v / cb.v}`;
    const named: Record<string, string> = { '1x1': '4:4:4', '2x1': '4:2:2', '2x2': '4:2:0', '1x2': '4:4:0', '4x1': '4:1:1' };
    if (named[key]) return named[key];
  }
  return components.map((c) => `${c.h}x${c.v}`).join(',');
}

/**
 * Parses the marker segments up to the first SOS: enough for dimensions and the coding process, and
 * cheap whatever the file size (used by the probe).
 * @throws LucidaError INVALID_IMAGE when the bytes are not a JPEG or the header is truncated or garbled.
 */
export function parseJpegHeader(buf: Buffer): JpegHeader {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== SOI) invalid('no start-of-image marker');
  const segments: JpegSegment[] = [];
  let frame: JpegFrame | undefined;
  let adobeTransform: number | undefined;
  const tables = new Set<number>();
  let p = 2;
  for (;;) {
    const seg = segmentAt(buf, p);
    p = seg.end;
    const m = seg.marker;
    if (m === SOI || m === EOI) invalid(m === EOI ? 'no image data before end-of-image' : 'nested start-of-image');
    if (m >= 0xd0 && m <= 0xd7) invalid('restart marker outside entropy-coded data');
    segments.push(seg);
    if (isSof(m)) {
      if (frame) invalid('more than one frame header');
      frame = parseFrame(buf, seg);
    } else if (isAdobe(buf, seg)) {
      adobeTransform = adobeTransformOf(buf, seg) ?? adobeTransform;
    } else if (m === DQT) {
      for (const id of quantizationTables(buf, seg)) tables.add(id);
    } else if (m === SOS) {
      if (!frame) invalid('scan before the frame header');
      if (frame.process !== 'lossless' && frame.components.some((c) => !tables.has(c.tq))) {
        invalid('a quantization table the frame uses is not defined');
      }
      parseScanComponents(buf, seg, frame);
      return { frame, subsampling: subsamplingOf(frame.components), adobeTransform, segments, entropyStart: seg.end };
    }
  }
}

/** Destination ids of the tables a DQT segment defines (T.81 §B.2.4.1: Pq/Tq, then 64 values of 8 or 16 bits). */
function quantizationTables(buf: Buffer, seg: JpegSegment): number[] {
  const ids: number[] = [];
  let p = seg.offset + 4;
  while (p < seg.end) {
    ids.push(buf[p] & 0x0f);
    p += 1 + 64 * (buf[p] >> 4 ? 2 : 1);
  }
  if (p !== seg.end) invalid('quantization table segment has the wrong length');
  return ids;
}

/** Components of a scan (T.81 §B.2.3), checked against the frame. */
function parseScanComponents(buf: Buffer, seg: JpegSegment, frame: JpegFrame): JpegComponent[] {
  const p = seg.offset + 4;
  const n = buf[p];
  if (n < 1 || n > 4 || seg.end - p !== 1 + 2 * n + 3) invalid('scan header length does not match its component count');
  const out: JpegComponent[] = [];
  for (let i = 0; i < n; i++) {
    const c = frame.components.find((fc) => fc.id === buf[p + 1 + 2 * i]);
    if (!c) invalid('scan refers to a component the frame does not have');
    out.push(c);
  }
  return out;
}

/**
 * Minimum coded units in a scan (T.81 §A.2): interleaved scans count MCUs of Hmax×Vmax blocks,
 * single-component scans count that component's 8×8 blocks.
 */
function mcusInScan(frame: JpegFrame, scan: JpegComponent[]): number {
  const hmax = Math.max(...frame.components.map((c) => c.h));
  const vmax = Math.max(...frame.components.map((c) => c.v));
  if (scan.length === 1) {
    const c = scan[0];
    return Math.ceil(Math.ceil((frame.width * c.h) / hmax) / 8) * Math.ceil(Math.ceil((frame.height * c.v) / vmax) / 8);
  }
  return Math.ceil(frame.width / (8 * hmax)) * Math.ceil(frame.height / (8 * vmax));
}

/**
 * Parses the whole bitstream: header, every scan, up to EOI. Detects truncation (no EOI, a segment
 * running past the end) and missing or out-of-order restart markers (T.81 §B.2.1: with a restart
 * interval of Ri, a scan of N MCUs carries exactly ⌈N/Ri⌉−1 RSTm markers, m cycling 0–7), which also
 * catches a file cut short and "repaired" with an EOI.
 * @throws LucidaError INVALID_IMAGE
 */
export function parseJpeg(buf: Buffer): JpegStructure {
  const header = parseJpegHeader(buf);
  const { frame } = header;
  let restartInterval = 0;
  for (const seg of header.segments) if (seg.marker === DRI) restartInterval = readDri(buf, seg);
  // RST counting needs block-based MCUs and a known height (no DNL).
  const checkRestarts = frame.process !== 'lossless' && frame.process !== 'hierarchical' && frame.height > 0;
  const lateMetadata: JpegSegment[] = [];
  let scans = 1;
  let scan = parseScanComponents(buf, header.segments[header.segments.length - 1], frame);
  let scanInterval = restartInterval;
  let restarts = 0;
  const endScan = () => {
    if (checkRestarts && scanInterval > 0) {
      const expected = Math.ceil(mcusInScan(frame, scan) / scanInterval) - 1;
      if (restarts !== expected) invalid(`scan ${scans} has ${restarts} of ${expected} restart markers (truncated or corrupt)`);
    }
  };
  let p = header.entropyStart;
  for (;;) {
    const ff = buf.indexOf(0xff, p);
    if (ff < 0 || ff + 1 >= buf.length) invalid('no end-of-image marker (truncated)');
    const m = buf[ff + 1];
    if (m === 0x00 || m === 0xff) {
      p = ff + 1 + (m === 0x00 ? 1 : 0); // stuffed zero, or a fill byte before a marker
      continue;
    }
    if (m >= 0xd0 && m <= 0xd7) {
      if ((m & 0x07) !== restarts % 8) invalid('restart markers out of sequence (corrupt)');
      restarts++;
      p = ff + 2;
      continue;
    }
    if (m === EOI) {
      endScan();
      return { ...header, end: ff + 2, lateMetadata, scans };
    }
    const seg = segmentAt(buf, ff);
    if (seg.marker === SOI || isSof(seg.marker)) invalid('unexpected marker inside the image data');
    if (isApp(seg.marker) || seg.marker === COM) lateMetadata.push(seg);
    if (seg.marker === DRI) restartInterval = readDri(buf, seg);
    if (seg.marker === SOS) {
      endScan();
      scan = parseScanComponents(buf, seg, frame);
      scanInterval = restartInterval;
      restarts = 0;
      scans++;
    }
    p = seg.end;
  }
}

function readDri(buf: Buffer, seg: JpegSegment): number {
  if (seg.end - seg.offset !== 6) invalid('restart interval segment has the wrong length');
  return buf.readUInt16BE(seg.offset + 4);
}

/**
 * The bytes from just after the first SOS header up to and including EOI, verbatim: the entropy-coded
 * data (plus, in multi-scan files, the later tables and scan headers). Stripping metadata must leave
 * them identical; tests compare them between a camera file and the wrapped frame.
 * @throws LucidaError INVALID_IMAGE when the JPEG is truncated or corrupt.
 */
export function jpegEntropyCodedData(jpeg: Buffer): Buffer {
  const s = parseJpeg(jpeg);
  return jpeg.subarray(s.entropyStart, s.end);
}

/**
 * The stripped bitstream as a list of byte ranges (views into `jpeg`, plus a rewritten JFIF segment),
 * so the Part 10 writer can copy the 5 MB of entropy-coded data once, straight into the file.
 *
 * Kept: SOI; APP0 JFIF rewritten without its thumbnail (JFIF declares YCbCr, i.e. YBR_FULL, for
 * decoders that look for it, PS3.5 §8.2.1 and JFIF 1.02; 18 bytes, no personal data); APP14 Adobe (its
 * transform flag tells decoders whether the components are YCbCr); DQT, DHT, DAC, DRI, SOFn, SOS, DNL
 * and any other non-APP marker segment; the entropy-coded data verbatim; EOI.
 * Dropped: APP1 (EXIF with GPS, thumbnails, maker notes; XMP), APP2 (ICC, returned separately), APP13
 * (IPTC/Photoshop), every other APPn (MPF, vendor data), COM, and anything after EOI (MPF secondary
 * images and vendor trailers, which carry their own EXIF). APPn/COM between scans are dropped too.
 */
export function strippedJpegParts(jpeg: Buffer, s: JpegStructure = parseJpeg(jpeg)): { parts: Buffer[]; length: number; icc?: Buffer } {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  const iccSegments: JpegSegment[] = [];
  for (const seg of s.segments) {
    if (isJfif(jpeg, seg)) {
      if (seg.end - seg.offset >= 18) parts.push(jfifWithoutThumbnail(jpeg, seg));
    } else if (isAdobe(jpeg, seg)) {
      parts.push(jpeg.subarray(seg.offset, seg.end));
    } else if (isApp(seg.marker) || seg.marker === COM) {
      if (isIcc(jpeg, seg)) iccSegments.push(seg);
    } else {
      parts.push(jpeg.subarray(seg.offset, seg.end));
    }
  }
  // Entropy-coded data to EOI, skipping any APPn/COM between scans.
  let from = s.entropyStart;
  for (const seg of s.lateMetadata) {
    parts.push(jpeg.subarray(from, seg.offset));
    from = seg.end;
  }
  parts.push(jpeg.subarray(from, s.end));
  const length = parts.reduce((n, b) => n + b.length, 0);
  return { parts, length, icc: reassembleIcc(jpeg, iccSegments) };
}

/** APP0 JFIF with the same version and density but no thumbnail (Xthumbnail = Ythumbnail = 0). */
function jfifWithoutThumbnail(jpeg: Buffer, seg: JpegSegment): Buffer {
  const out = Buffer.alloc(18);
  jpeg.copy(out, 0, seg.offset, seg.offset + 16); // marker, length, "JFIF\0", version, units, densities
  out.writeUInt16BE(16, 2);
  return out; // bytes 16–17 (thumbnail size) stay 0
}

/**
 * Concatenates APP2 ICC_PROFILE chunks in sequence-number order (ICC.1 Annex B.4: 1-based sequence
 * number, then chunk count). An incomplete or inconsistent set gives no profile rather than a wrong one.
 */
function reassembleIcc(jpeg: Buffer, segments: JpegSegment[]): Buffer | undefined {
  if (segments.length === 0) return undefined;
  const header = 4 + 12 + 2;
  const chunks = new Map<number, Buffer>();
  let count = 0;
  for (const seg of segments) {
    if (seg.end - seg.offset < header) return undefined;
    const seq = jpeg[seg.offset + 16];
    const n = jpeg[seg.offset + 17];
    if (count === 0) count = n;
    if (n !== count || seq < 1 || seq > n || chunks.has(seq)) return undefined;
    chunks.set(seq, jpeg.subarray(seg.offset + header, seg.end));
  }
  if (chunks.size !== count) return undefined;
  const ordered: Buffer[] = [];
  for (let i = 1; i <= count; i++) ordered.push(chunks.get(i)!);
  return Buffer.concat(ordered);
}
