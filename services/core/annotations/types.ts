/**
 * Annotations: the viewer's calibrations and measurements on a photograph, persisted as records linked
 * to the SOP Instance UID (not as DICOM objects: see the README, "Measurements"). The port the API
 * uses is AnnotationRepository; its Postgres adapter is index/postgres-annotations.ts (table
 * annotations, migration 010).
 *
 * Coordinates are image pixel coordinates: x is the column, y the row, from 0 to Columns and 0 to
 * Rows (the top-left corner of the first pixel is (0, 0)); fractions are allowed. Photographs have
 * no Pixel Spacing (PS3.3 C.8.12.1 VL Image does not define it), so lengths are in pixels until the
 * user calibrates a frame by drawing over a ruler and giving its length in millimetres.
 */
export const ANNOTATION_KINDS = ['calibration', 'length', 'ellipse', 'freehand', 'angle'] as const;
export type AnnotationKind = (typeof ANNOTATION_KINDS)[number];
export type MeasurementKind = Exclude<AnnotationKind, 'calibration'>;

/** [x, y]: x = column, y = row, in pixels. */
export type Point = readonly [number, number];

/** What a caller asks to record, once checked (validate.ts). */
export interface AnnotationInput {
  kind: AnnotationKind;
  points: Point[];
  /** Millimetres between the two points: calibrations only. */
  lengthMm?: number;
  label?: string;
  /** 1-based frame number (photographs have one). */
  frame: number;
}

/** An annotation as stored. */
export interface Annotation {
  id: string;
  sopInstanceUID: string;
  frame: number;
  kind: AnnotationKind;
  points: Point[];
  lengthMm: number | null;
  label: string | null;
  createdBy: string;
  createdAt: Date;
}

/**
 * The image an annotation request names: the stored instance (InstanceIndex.findInstances, within
 * the caller's scope) once the route has checked that it has pixels.
 */
export interface AnnotatedInstance {
  patientId: string;
  issuer: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  /** (0028,0010), (0028,0011). */
  rows: number;
  columns: number;
  numberOfFrames: number;
}

/** Who records or removes an annotation (the request's principal). */
export interface AnnotationAuthor { subject: string; clientId?: string }

export interface AnnotationRepository {
  /** The current (not removed) annotations of one frame, oldest first. */
  list(sopInstanceUID: string, frame: number): Promise<Annotation[]>;
  /** Records one; a calibration supersedes the frame's current one (which is marked removed). */
  create(instance: AnnotatedInstance, input: AnnotationInput, by: AnnotationAuthor): Promise<Annotation>;
  /** Marks a current annotation of the instance removed; false when there is none with this id. */
  remove(sopInstanceUID: string, id: string, by: AnnotationAuthor): Promise<boolean>;
}
