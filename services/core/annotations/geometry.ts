/**
 * The measured value of an annotation, computed from its points (image pixel coordinates, x = column,
 * y = row) and the frame's calibration. Pure functions: the server computes every value it reports,
 * so a measurement reads the same in every viewer and changes with a recalibration.
 *
 * Pixels are taken as square: a ruler drawn in one direction gives one scale (mm per pixel) for both
 * axes. Photographs have no Pixel Spacing (0028,0030) or Pixel Aspect Ratio (0028,0034) to say
 * otherwise, and camera sensors have square photosites.
 */
import type { MeasurementKind, Point } from './types.js';

export type MeasurementUnit = 'mm' | 'mm2' | 'px' | 'px2' | 'deg';

interface MeasuredValue { value: number; unit: MeasurementUnit }

export function distance(a: Point, b: Point): number {
  return Math.hypot(b[0] - a[0], b[1] - a[1]);
}

/**
 * Area of an ellipse given by the ends of its two axes: points 0 and 1 end one axis, 2 and 3 the
 * other (Cornerstone3D's EllipticalROITool keeps its handles as bottom, top, left, right). π·a·b with
 * a and b the half-lengths of the axes.
 */
export function ellipseArea(points: readonly Point[]): number {
  const a = distance(points[0], points[1]) / 2;
  const b = distance(points[2], points[3]) / 2;
  return Math.PI * a * b;
}

/** Area of the closed polygon through the points, in order (the shoelace formula; a simple polygon is assumed). */
export function polygonArea(points: readonly Point[]): number {
  let twice = 0;
  for (let i = 0; i < points.length; i++) {
    const [x1, y1] = points[i];
    const [x2, y2] = points[(i + 1) % points.length];
    twice += x1 * y2 - x2 * y1;
  }
  return Math.abs(twice) / 2;
}

/** The angle at the middle point (the vertex) between the arms to the first and last points, in degrees (0 to 180). */
export function angleDegrees(points: readonly Point[]): number {
  const [a, v, b] = points;
  const u = [a[0] - v[0], a[1] - v[1]];
  const w = [b[0] - v[0], b[1] - v[1]];
  // atan2 of the cross and dot products: accurate near 0° and 180°, where acos of the cosine is not.
  return Math.abs(Math.atan2(u[0] * w[1] - u[1] * w[0], u[0] * w[0] + u[1] * w[1])) * (180 / Math.PI);
}

/**
 * The frame's scale from a calibration: the ruler's length in millimetres over its length in pixels.
 * The points are at least 1 px apart (validate.ts).
 */
export function mmPerPixel(calibration: { points: readonly Point[]; lengthMm: number }): number {
  return calibration.lengthMm / distance(calibration.points[0], calibration.points[1]);
}

/**
 * The value of a measurement: lengths in mm and areas in mm² with a calibration (`scale` mm per
 * pixel), in px and px² without one; angles in degrees either way. Not rounded.
 */
export function measure(kind: MeasurementKind, points: readonly Point[], scale: number | undefined): MeasuredValue {
  switch (kind) {
    case 'length': {
      const px = distance(points[0], points[1]);
      return scale === undefined ? { value: px, unit: 'px' } : { value: px * scale, unit: 'mm' };
    }
    case 'ellipse':
    case 'freehand': {
      const px2 = kind === 'ellipse' ? ellipseArea(points) : polygonArea(points);
      return scale === undefined ? { value: px2, unit: 'px2' } : { value: px2 * scale * scale, unit: 'mm2' };
    }
    case 'angle':
      return { value: angleDegrees(points), unit: 'deg' };
  }
}

/** Rounds a reported value to two decimals (what the response carries; stored points keep full precision). */
export const round2 = (v: number): number => Math.round(v * 100) / 100;
