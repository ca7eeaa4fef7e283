/**
 * The JSON the annotation API answers with (GET, and POST's created item): the frame's current
 * calibration and its measurements, each measurement's value computed here from its points and that
 * calibration (geometry.ts), rounded to two decimals.
 */
import { measure, mmPerPixel, round2, type MeasurementUnit } from './geometry.js';
import type { AnnotatedInstance, Annotation, MeasurementKind, Point } from './types.js';

interface CalibrationJson {
  id: string;
  frame: number;
  points: Point[];
  lengthMm: number;
  /** Millimetres per image pixel (six decimals: rounding to two would lose the scale of a large photograph). */
  mmPerPixel: number;
  label: string | null;
  createdBy: string;
  createdAt: string;
}

interface MeasurementJson {
  id: string;
  frame: number;
  kind: MeasurementKind;
  points: Point[];
  label: string | null;
  value: number;
  unit: MeasurementUnit;
  createdBy: string;
  createdAt: string;
}

interface AnnotationsJson {
  sopInstanceUID: string;
  frame: number;
  columns: number;
  rows: number;
  calibration: CalibrationJson | null;
  measurements: MeasurementJson[];
}

export function calibrationJson(a: Annotation): CalibrationJson {
  const lengthMm = a.lengthMm!;
  return {
    id: a.id, frame: a.frame, points: a.points, lengthMm,
    mmPerPixel: Math.round(mmPerPixel({ points: a.points, lengthMm }) * 1e6) / 1e6,
    label: a.label, createdBy: a.createdBy, createdAt: a.createdAt.toISOString(),
  };
}

/** One measurement, its value in mm/mm² when `calibration` is given, px/px² when not. */
export function measurementJson(a: Annotation, calibration: Annotation | undefined): MeasurementJson {
  const kind = a.kind as MeasurementKind;
  const scale = calibration ? mmPerPixel({ points: calibration.points, lengthMm: calibration.lengthMm! }) : undefined;
  const { value, unit } = measure(kind, a.points, scale);
  return {
    id: a.id, frame: a.frame, kind, points: a.points, label: a.label, value: round2(value), unit,
    createdBy: a.createdBy, createdAt: a.createdAt.toISOString(),
  };
}

/** The response to GET: `annotations` are one frame's current ones, oldest first. */
export function annotationsJson(instance: AnnotatedInstance, frame: number, annotations: readonly Annotation[]): AnnotationsJson {
  const calibration = currentCalibration(annotations);
  return {
    sopInstanceUID: instance.sopInstanceUID,
    frame,
    columns: instance.columns,
    rows: instance.rows,
    calibration: calibration ? calibrationJson(calibration) : null,
    measurements: annotations.filter((a) => a.kind !== 'calibration').map((a) => measurementJson(a, calibration)),
  };
}

/** The newest calibration among a frame's current annotations (the store keeps at most one current). */
export function currentCalibration(annotations: readonly Annotation[]): Annotation | undefined {
  return annotations.filter((a) => a.kind === 'calibration').at(-1);
}
