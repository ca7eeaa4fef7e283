/**
 * EXIF (CIPA DC-008) → DICOM, in the spirit of PS3.17 Annex NNNN ("Mapping of EXIF to DICOM"):
 * capture date and time, camera make/model/firmware (General Equipment, PS3.3 C.7.5.1), lens (VL
 * Photographic Equipment, C.8.12.10) and exposure (VL Photographic Acquisition, C.8.12.11).
 *
 * Privacy by construction: the reader never asks exifr for the GPS IFD, maker notes or user comments,
 * and the mapping below only knows technical tags. Camera owner (0xA430), body serial (0xA431), lens
 * serial (0xA435), Artist and Copyright are never copied, although DICOM has attributes for some of
 * them (PS3.15 Annex E lists them for removal). Orientation is not mapped (Annex NNNN leaves it out):
 * the converter applies it to the pixels instead.
 */
import exifr from 'exifr';
import { readHeifExif } from './heif.js';
import type { NaturalDataset, PhotoFormat } from './types.js';

export interface ExifInfo {
  /** Naturalized DICOM attributes derived from EXIF (empty when the image has none). */
  dataset: NaturalDataset;
  /** EXIF Orientation (1–8), when present and valid. */
  orientation?: number;
  /** True when EXIF is present but could not be parsed: orientation is then unknown. */
  unreadable: boolean;
}

type Tags = Record<number, unknown>;

/** Binary enumerations of C.8.12.11 whose values equal EXIF's; a value outside the set is not copied. */
const ENUMERATED: [tag: number, keyword: string, allowed: number[]][] = [
  [0x8822, 'ExposureProgram', [0, 1, 2, 3, 4, 5, 6, 7, 8]],
  [0x8830, 'SensitivityType', [0, 1, 2, 3, 4, 5, 6, 7]],
  [0x9207, 'MeteringMode', [0, 1, 2, 3, 4, 5, 6, 255]],
  [0x9208, 'LightSource', [0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 255]],
  [0xa217, 'SensingMethod', [1, 2, 3, 4, 5, 7, 8]],
  [0xa300, 'FileSource', [0, 1, 2, 3]],
  [0xa301, 'SceneType', [1]],
  [0xa401, 'CustomRendered', [0, 1]],
  [0xa402, 'ExposureMode', [0, 1, 2]],
  [0xa403, 'WhiteBalance', [0, 1]],
  [0xa406, 'SceneCaptureType', [0, 1, 2, 3]],
  [0xa407, 'GainControl', [0, 1, 2, 3, 4]],
  [0xa408, 'Contrast', [0, 1, 2]],
  [0xa409, 'Saturation', [0, 1, 2]],
  [0xa40a, 'Sharpness', [0, 1, 2]],
  [0xa40c, 'SubjectDistanceRange', [0, 1, 2, 3]],
];

/** Rational EXIF tags → DS attributes of C.8.12.11. */
const DECIMAL: [tag: number, keyword: string][] = [
  [0x829a, 'ExposureTimeInSeconds'],
  [0x829d, 'FNumber'],
  [0x9201, 'ShutterSpeedValue'],
  [0x9202, 'ApertureValue'],
  [0x9203, 'BrightnessValue'],
  [0x9204, 'ExposureBiasValue'],
  [0x9205, 'MaxApertureValue'],
  [0x9206, 'SubjectDistance'],
  [0x920a, 'FocalLength'],
  [0xa404, 'DigitalZoomRatio'],
];

/** Integer EXIF tags → IS attributes of C.8.12.11. */
const INTEGER: [tag: number, keyword: string][] = [
  [0x8827, 'PhotographicSensitivity'],
  [0x8831, 'StandardOutputSensitivity'],
  [0x8832, 'RecommendedExposureIndex'],
  [0x8833, 'ISOSpeed'],
  [0x8834, 'ISOSpeedLatitudeyyy'],
  [0x8835, 'ISOSpeedLatitudezzz'],
  [0xa405, 'FocalLengthIn35mmFilm'],
];

/** The EXIF tags the mapping reads (exifr `pick`, so nothing else is even parsed). */
const IFD0_TAGS = [0x010f, 0x0110, 0x0131, 0x0112];
const EXIF_TAGS = [
  0x9000, 0x9003, 0x9011, 0x9291, 0x9209, 0xa432, 0xa433, 0xa434,
  ...ENUMERATED.map(([t]) => t), ...DECIMAL.map(([t]) => t), ...INTEGER.map(([t]) => t),
];

/**
 * Reads EXIF from a JPEG, TIFF, PNG or HEIC file and maps it to DICOM attributes (all optional).
 * Never throws: unreadable EXIF yields no attributes and `unreadable: true`.
 */
export async function readExif(bytes: Buffer, format?: PhotoFormat): Promise<ExifInfo> {
  let raw: { ifd0?: Tags; exif?: Tags } | undefined;
  try {
    const source = format === 'heic' ? readHeifExif(bytes) : bytes;
    if (!source) return { dataset: {}, unreadable: false };
    raw = await exifr.parse(source, {
      tiff: true, ifd0: { pick: IFD0_TAGS }, exif: { pick: EXIF_TAGS },
      gps: false, ifd1: false, interop: false, makerNote: false, userComment: false,
      xmp: false, icc: false, iptc: false, jfif: false, ihdr: false,
      translateKeys: false, translateValues: false, reviveValues: false, sanitize: true,
      mergeOutput: false, silentErrors: false, chunked: false,
    } as any); // exifr's typings know neither numeric picks nor silentErrors
  } catch {
    // exifr returns undefined for files without EXIF; it throws only for damaged EXIF.
    return { dataset: {}, unreadable: true };
  }
  return mapExif(raw?.ifd0 ?? {}, raw?.exif ?? {});
}

/** Maps already-read EXIF tags (numeric keys) to DICOM. Exported for tests. */
export function mapExif(ifd0: Tags, exif: Tags): ExifInfo {
  const ds: NaturalDataset = {};
  const lo = (v: unknown) => text(v, 64)?.replace(/\\/g, '/');
  setIf(ds, 'Manufacturer', lo(ifd0[0x010f]));
  setIf(ds, 'ManufacturerModelName', lo(ifd0[0x0110]));
  setIf(ds, 'SoftwareVersions', lo(ifd0[0x0131]));
  Object.assign(ds, dates(exif[0x9003], exif[0x9291], exif[0x9011]));

  setIf(ds, 'EXIFVersion', exifVersion(exif[0x9000]));
  for (const [tag, keyword] of DECIMAL) setIf(ds, keyword, formatDS(num(exif[tag])));
  for (const [tag, keyword] of INTEGER) setIf(ds, keyword, formatIS(num(exif[tag])));
  for (const [tag, keyword, allowed] of ENUMERATED) {
    const v = num(exif[tag]);
    if (v !== undefined && allowed.includes(v)) ds[keyword] = v;
  }
  Object.assign(ds, flash(num(exif[0x9209])));
  const lens = exif[0xa432];
  if (Array.isArray(lens) && lens.length === 4) {
    // LensSpecification: min/max focal length, min F at each; 0/0 (unknown) makes a non-finite value.
    const values = lens.map((v) => formatDS(num(v)));
    if (values.every((v) => v !== undefined)) ds.LensSpecification = values;
  }
  setIf(ds, 'LensMake', text(exif[0xa433], 1024));
  setIf(ds, 'LensModel', text(exif[0xa434], 1024));

  const o = num(ifd0[0x0112]);
  return { dataset: ds, ...(o !== undefined && o >= 1 && o <= 8 ? { orientation: o } : {}), unreadable: false };
}

function setIf(ds: NaturalDataset, keyword: string, value: unknown): void {
  if (value !== undefined) ds[keyword] = value;
}

/** First number of a value (exifr gives rationals as numbers, some tags as arrays or byte arrays). */
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (Array.isArray(v) || v instanceof Uint8Array) return num(v[0]);
  return undefined;
}

/** Printable text without NULs or control characters, at most `max` characters; undefined if empty. */
function text(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, max).trim();
  return s === '' ? undefined : s;
}

/** ExifVersion is 4 ASCII digits (UNDEFINED type), e.g. "0232". */
function exifVersion(v: unknown): string | undefined {
  const s = v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : typeof v === 'string' ? v : undefined;
  return s && /^\d{4}$/.test(s) ? s : undefined;
}

/**
 * DS (PS3.5 §6.2): at most 16 characters. Uses the shortest exact decimal when it fits, else the most
 * significant digits that do (exponent form when needed, which DS allows).
 */
export function formatDS(n: number | undefined): string | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  const plain = String(n);
  if (plain.length <= 16) return plain;
  for (let p = 15; p >= 1; p--) {
    // Plain notation first; exponent form for large magnitudes, where String() never uses it below 1e21.
    for (const s of [String(Number(n.toPrecision(p))), n.toExponential(p - 1)]) if (s.length <= 16) return s;
  }
  return undefined;
}

/** IS (PS3.5 §6.2): an integer in −2^31 … 2^31−1. */
function formatIS(n: number | undefined): string | undefined {
  if (n === undefined || !Number.isInteger(n) || n < -(2 ** 31) || n > 2 ** 31 - 1) return undefined;
  return String(n);
}

/**
 * EXIF Flash (0x9209) is a bit field; C.8.12.11 splits it into five attributes with the same codes:
 * bit 0 fired, bits 1–2 return light, bits 3–4 mode, bit 5 no flash function, bit 6 red-eye.
 */
function flash(v: number | undefined): NaturalDataset {
  if (v === undefined || !Number.isInteger(v) || v < 0 || v > 0x7f) return {};
  const ret = (v >> 1) & 3;
  return {
    FlashFiringStatus: v & 1,
    ...(ret !== 1 ? { FlashReturnStatus: ret } : {}), // 1 is reserved
    FlashMode: (v >> 3) & 3,
    FlashFunctionPresent: (v >> 5) & 1,
    FlashRedEyeMode: (v >> 6) & 1,
  };
}

/**
 * DateTimeOriginal "YYYY:MM:DD HH:MM:SS" (+ SubSecTimeOriginal, OffsetTimeOriginal) → ContentDate (DA),
 * ContentTime (TM) and AcquisitionDateTime (DT, with the UTC offset when EXIF gives one: PS3.5 §6.2).
 * Blank or impossible dates ("0000:00:00 00:00:00", which cameras write when the clock is unset) give none.
 */
function dates(original: unknown, subsec: unknown, offset: unknown): NaturalDataset {
  if (typeof original !== 'string') return {};
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(original.replace(/\0/g, '').trim());
  if (!m) return {};
  const [, y, mo, d, h, mi, s] = m;
  if (+y < 1900 || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 59) return {};
  const sub = typeof subsec === 'string' ? subsec.replace(/\0/g, '').trim() : '';
  const fraction = /^\d{1,6}$/.test(sub) ? `.${sub}` : '';
  const tz = typeof offset === 'string' ? /^([+-])(\d{2}):(\d{2})$/.exec(offset.trim()) : null;
  const zone = tz && +tz[2] <= 14 && +tz[3] < 60 ? `${tz[1]}${tz[2]}${tz[3]}` : '';
  return {
    ContentDate: `${y}${mo}${d}`,
    ContentTime: `${h}${mi}${s}${fraction}`,
    AcquisitionDateTime: `${y}${mo}${d}${h}${mi}${s}${fraction}${zone}`,
  };
}
