/**
 * Contracts of the photo converter (services/core/photo): camera JPEG / PNG / TIFF / HEIC bytes plus
 * the clinical context → one VL Photographic Image (PS3.3 A.32.4) as Part 10 bytes, ready for
 * ingestInstance(). The context is built by services/core/capture from either the capture API or
 * STOW-RS DICOM JSON; everything that comes from the image itself is added here.
 */

/** dcmjs-naturalized attributes: `{ PatientName: 'SMITH^JANE', AnatomicRegionSequence: [{...}] }`. */
export type NaturalDataset = Record<string, unknown>;

export type PhotoFormat = 'jpeg' | 'png' | 'tiff' | 'heic';

/** What a cheap look at the file's header tells, without decoding pixels. */
export interface PhotoProbe {
  format: PhotoFormat;
  width: number;
  height: number;
}

export interface PhotoContext {
  /**
   * Patient, study, series, instance and clinical attributes, never image-derived ones. Carries the
   * UIDs (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID), numbers, demographics, codes
   * (AnatomicRegionSequence, ViewCodeSequence), ImageLaterality, RecognizableVisualFeatures,
   * OperatorsName, InstitutionName, StationName, ImageComments... The converter copies them as given.
   */
  dataset: NaturalDataset;
  /**
   * When the capture was received: InstanceCreationDate/Time, and ContentDate/Time when the image has
   * no EXIF DateTimeOriginal. Fixed per capture so that a retried conversion writes identical bytes.
   */
  createdAt: Date;
}

export interface ConvertLimits {
  /** Largest width × height accepted (decompression-bomb guard), checked before any decoding. */
  maxPixels: number;
}

export interface ConvertedPhoto {
  /** The Part 10 file (VL Photographic Image Storage). */
  part10: Buffer;
  sourceFormat: PhotoFormat;
  /**
   * `wrapped`: the camera's JPEG entropy-coded data unchanged (Baseline, metadata segments removed);
   * `reencoded`: decoded (orientation applied, progressive or HEIC) and encoded as Baseline JPEG;
   * `lossless`: native pixels (PNG, TIFF), Explicit VR Little Endian.
   */
  encoding: 'wrapped' | 'reencoded' | 'lossless';
  transferSyntaxUID: string;
  columns: number;
  rows: number;
}
