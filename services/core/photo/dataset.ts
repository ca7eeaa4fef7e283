/**
 * The VL Photographic Image data set (PS3.3 A.32.4) around converted pixels: the clinical context as
 * given, EXIF-derived attributes, and the attributes the converter owns (SOP class, image type, Image
 * Pixel module, lossy compression history, ICC profile). Pixel Data itself is appended by
 * writePart10 (dicom/write.ts).
 */
import { SOP_CLASS, localDateTime } from '../dicom/index.js';
import { LucidaError } from '../errors.js';
import { isSrgbProfile } from './icc.js';
import type { NaturalDataset, PhotoContext } from './types.js';

/** How the stored pixels look; everything the Image Pixel module and VL Image module need. */
export interface PixelAttributes {
  rows: number;
  columns: number;
  /** 1 (MONOCHROME2) or 3 (colour). */
  samples: 1 | 3;
  /** JPEG-coded colour is YBR_FULL_422, native colour RGB. */
  jpeg: boolean;
  /**
   * Successive lossy compressions, oldest first (PS3.3 C.7.6.1.1.5: Lossy Image Compression Method
   * (0028,2114) and Ratio (0028,2112) are multi-valued, one value per step). Empty: never lossy.
   */
  lossy: { method: string; ratio?: number }[];
  icc?: Buffer;
  /** Derivation Description (0008,2111): what was done to the pixels, when anything was. */
  derivation?: string;
}

/**
 * Type 2 attributes of the IOD's modules (PS3.3 A.32.4), present even when empty, plus the defaults the
 * context may override: Image Laterality U (always sent; it satisfies the 2C Laterality condition),
 * Burned In Annotation NO, an empty Acquisition Context Sequence. Patient Orientation (0020,0020) is
 * Type 2C in General Image (C.7.6.1), required when there is no Image Orientation (Patient), as for every
 * photograph: sent empty (dciodvfy reports its absence as an error).
 */
const DEFAULTS: NaturalDataset = {
  PatientName: '', PatientID: '', PatientBirthDate: '', PatientSex: '',
  StudyDate: '', StudyTime: '', ReferringPhysicianName: '', StudyID: '', AccessionNumber: '',
  SeriesNumber: '', Manufacturer: '', InstanceNumber: '', PatientOrientation: '',
  ImageLaterality: 'U', BurnedInAnnotation: 'NO', AcquisitionContextSequence: [],
};

/** Attributes describing the stored pixels or the SOP: only the converter sets them. */
const OWNED = new Set([
  'SOPClassUID', 'Modality', 'ImageType', 'SpecificCharacterSet', 'InstanceCreationDate', 'InstanceCreationTime',
  'SamplesPerPixel', 'PhotometricInterpretation', 'PlanarConfiguration', 'Rows', 'Columns', 'BitsAllocated',
  'BitsStored', 'HighBit', 'PixelRepresentation', 'NumberOfFrames', 'PixelData', 'FloatPixelData',
  'DoubleFloatPixelData', 'ExtendedOffsetTable', 'ExtendedOffsetTableLengths', 'SmallestImagePixelValue',
  'LargestImagePixelValue', 'PixelPaddingValue', 'LossyImageCompression', 'LossyImageCompressionRatio',
  'LossyImageCompressionMethod', 'ICCProfile', 'ColorSpace', 'DerivationDescription', '_vrMap', '_meta',
]);

/**
 * Never stored, whoever supplies them: VL Photographic Geolocation (C.8.12.12, all GPS attributes),
 * camera owner and serial numbers, maker notes (PS3.15 Annex E lists them for removal).
 */
const FORBIDDEN = /^(GPS.*|CameraOwnerName|LensSerialNumber|DeviceSerialNumber|MakerNote|DeviceSettingDescription)$/;

const REQUIRED_UIDS = ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID'];


/** The ratio as DS: two decimals are plenty for "approximate" (PS3.3 C.7.6.1.1.5). */
const ratioDS = (r: number) => String(Number(r.toFixed(2)));

/**
 * Builds the data set (without Pixel Data). Precedence, lowest first: Type 2 defaults; the context
 * (minus owned and forbidden attributes); the image's EXIF; the converter's own attributes.
 * ContentDate/Time: EXIF DateTimeOriginal, else the context's, else `createdAt` (PS3.3 C.7.6.1:
 * the time the image pixel data creation started).
 * @throws LucidaError INTERNAL when the context lacks Study/Series/SOP Instance UID (a caller bug: the
 *   capture service assigns them before conversion so that retries are idempotent).
 */
export function buildDataset(context: PhotoContext, exif: NaturalDataset, pixels: PixelAttributes): NaturalDataset {
  const given: NaturalDataset = {};
  for (const [k, v] of Object.entries(context.dataset)) {
    if (v !== undefined && !OWNED.has(k) && !FORBIDDEN.test(k)) given[k] = v;
  }
  // VRs the context pins for its own attributes (dcmjs `_vrMap`) travel with them.
  const vrMap = context.dataset._vrMap as Record<string, string> | undefined;
  if (vrMap) given._vrMap = Object.fromEntries(Object.entries(vrMap).filter(([k]) => k in given));
  for (const uid of REQUIRED_UIDS) {
    if (typeof given[uid] !== 'string' || given[uid] === '') throw new LucidaError('INTERNAL', `photo context lacks ${uid}`);
  }
  const fromExif: NaturalDataset = {};
  for (const [k, v] of Object.entries(exif)) if (!OWNED.has(k) && !FORBIDDEN.test(k)) fromExif[k] = v;
  const created = localDateTime(context.createdAt);
  return {
    ...DEFAULTS,
    ContentDate: created.date,
    ContentTime: created.time,
    ...given,
    ...fromExif,
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SOP_CLASS.VLPhotographicImage,
    Modality: 'XC',
    // Camera captures are ORIGINAL\PRIMARY (PS3.3 C.8.12.1, C.7.6.1.1.2); applying orientation or changing the
    // encoding is not an edit of the picture, so re-encoded images keep it.
    ImageType: ['ORIGINAL', 'PRIMARY'],
    InstanceCreationDate: created.date,
    InstanceCreationTime: created.time,
    ...imagePixel(pixels),
  };
}

/** Image Pixel (C.7.6.3), VL Image (C.8.12.1), ICC Profile (C.11.15) and lossy compression history. */
function imagePixel(p: PixelAttributes): NaturalDataset {
  const colour = p.samples === 3;
  // VL Image (PS3.3 C.8.12.1) allows YBR_FULL_422 for lossy colour, whatever the JPEG's chroma sampling;
  // decoders take the sampling factors from the bitstream (PS3.5 §8.2.1).
  const photometric = !colour ? 'MONOCHROME2' : p.jpeg ? 'YBR_FULL_422' : 'RGB';
  const ds: NaturalDataset = {
    SamplesPerPixel: p.samples,
    PhotometricInterpretation: photometric,
    ...(colour ? { PlanarConfiguration: 0 } : {}),
    Rows: p.rows,
    Columns: p.columns,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    LossyImageCompression: p.lossy.length > 0 ? '01' : '00',
  };
  if (p.lossy.length > 0) {
    ds.LossyImageCompressionMethod = p.lossy.map((l) => l.method);
    // Ratios only when every step has one, so values stay paired with methods.
    if (p.lossy.every((l) => l.ratio !== undefined)) ds.LossyImageCompressionRatio = p.lossy.map((l) => ratioDS(l.ratio!));
  }
  if (p.icc) {
    ds.ICCProfile = p.icc;
    if (isSrgbProfile(p.icc)) ds.ColorSpace = 'SRGB';
  }
  if (p.derivation) ds.DerivationDescription = p.derivation;
  return ds;
}
