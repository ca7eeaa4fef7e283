/**
 * Parsing of annotation requests: a POST body becomes an AnnotationInput, checked against the image it
 * is drawn on, before anything is stored. Every refusal is a 400 BAD_REQUEST whose detail says what
 * is wrong (never echoing the label).
 */
import { LucidaError, type ErrorCode } from '../errors.js';
import { ANNOTATION_KINDS, type AnnotatedInstance, type AnnotationInput, type AnnotationKind, type Point } from './types.js';
import { distance } from './geometry.js';

/** Points each kind takes: [fewest, most]. */
const POINT_COUNTS: Readonly<Record<AnnotationKind, readonly [number, number]>> = {
  calibration: [2, 2],
  length: [2, 2],
  ellipse: [4, 4],
  angle: [3, 3],
  freehand: [3, 1000],
};
const MAX_LABEL_LENGTH = 64;
/** A calibration ruler longer than 10 m is a typing mistake, not a photograph. */
const MAX_CALIBRATION_MM = 10_000;
/** Shorter rulers give a scale too coarse to trust (and 0 would divide by zero). */
const MIN_CALIBRATION_PX = 1;

const bad = (detail: string) => new LucidaError('BAD_REQUEST', detail);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const MEMBERS = ['kind', 'points', 'label', 'lengthMm', 'frame'];
/** Control and format characters (a label is one line of display text). */
const CONTROL = /[\p{Cc}\p{Cf}]/u;

/**
 * The body of POST /api/instances/{sop}/annotations, structure only (the image's size is checked by
 * {@link checkAgainstImage} once the instance is found):
 * `{ kind, points: [[x, y], ...], label?, lengthMm? (calibration only, required there), frame? }`.
 */
export function parseAnnotationBody(body: unknown): AnnotationInput {
  if (!isObject(body)) throw bad('the body must be a JSON object');
  const extra = Object.keys(body).filter((k) => !MEMBERS.includes(k));
  if (extra.length) throw bad(`unknown member(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${MEMBERS.join(', ')}`);

  const { kind } = body;
  if (typeof kind !== 'string' || !(ANNOTATION_KINDS as readonly string[]).includes(kind)) {
    throw bad(`kind must be one of ${ANNOTATION_KINDS.join(', ')}`);
  }
  const k = kind as AnnotationKind;
  const points = parsePoints(body.points, k);
  const input: AnnotationInput = { kind: k, points, frame: parseFrame(body.frame) };

  if (k === 'calibration') {
    const mm = body.lengthMm;
    if (typeof mm !== 'number' || !Number.isFinite(mm) || mm <= 0 || mm > MAX_CALIBRATION_MM) {
      throw bad(`a calibration needs lengthMm, the ruler's length in millimetres: more than 0 and at most ${MAX_CALIBRATION_MM}`);
    }
    if (distance(points[0], points[1]) < MIN_CALIBRATION_PX) {
      throw bad(`the calibration's two points must be at least ${MIN_CALIBRATION_PX} pixel apart`);
    }
    input.lengthMm = mm;
  } else if (body.lengthMm !== undefined) {
    throw bad('lengthMm is only for a calibration');
  }
  if (k === 'angle' && (distance(points[0], points[1]) === 0 || distance(points[2], points[1]) === 0)) {
    throw bad('an angle\'s arms must have a length: the first and last points must differ from the vertex (the middle point)');
  }
  if (k === 'ellipse') checkEllipse(points);

  if (body.label !== undefined && body.label !== null) {
    const { label } = body;
    if (typeof label !== 'string') throw bad('label must be text');
    if ([...label].length > MAX_LABEL_LENGTH) throw bad(`label must be at most ${MAX_LABEL_LENGTH} characters`);
    if (CONTROL.test(label)) throw bad('label must be one line of text without control characters');
    if (label.trim() !== '') input.label = label.trim();
  }
  return input;
}

function parsePoints(value: unknown, kind: AnnotationKind): Point[] {
  const [min, max] = POINT_COUNTS[kind];
  const count = min === max ? `exactly ${min}` : `${min} to ${max}`;
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    throw bad(`points must be an array of ${count} [x, y] pairs for ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`);
  }
  return value.map((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((c) => typeof c === 'number' && Number.isFinite(c))) {
      throw bad(`points[${i}] must be [x, y]: two finite numbers (image column and row)`);
    }
    return [p[0], p[1]] as const;
  });
}

function parseFrame(value: unknown): number {
  if (value === undefined || value === null) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw bad('frame must be a whole number from 1');
  return value;
}

/**
 * The two axes of an ellipse must cross at their midpoints at right angles (within a pixel, and a
 * degree or so, of floating-point error in the viewer's coordinate conversions); otherwise π·a·b is
 * not the area of what was drawn.
 */
function checkEllipse(points: readonly Point[]): void {
  const [a, b, c, d] = points;
  const m1 = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  const m2 = [(c[0] + d[0]) / 2, (c[1] + d[1]) / 2];
  const l1 = distance(a, b);
  const l2 = distance(c, d);
  const tolerance = Math.max(1, 0.01 * Math.max(l1, l2));
  const centred = Math.hypot(m1[0] - m2[0], m1[1] - m2[1]) <= tolerance;
  const dot = (b[0] - a[0]) * (d[0] - c[0]) + (b[1] - a[1]) * (d[1] - c[1]);
  const perpendicular = l1 === 0 || l2 === 0 || Math.abs(dot) / (l1 * l2) <= 0.02;
  if (!centred || !perpendicular) {
    throw bad('an ellipse\'s points are the ends of its two axes (points 0 and 1 one axis, 2 and 3 the other), which cross at their midpoints at right angles');
  }
}

/**
 * Checks an annotation against the image it is drawn on: the frame exists and every point lies on the
 * image, [0, Columns] × [0, Rows] (pixel edges: (0, 0) is the top-left corner of the first pixel, as
 * in DICOM presentation state PIXEL units, PS3.3 C.10.5.1.2, and Cornerstone3D image coordinates).
 */
export function checkAgainstImage(input: AnnotationInput, image: Pick<AnnotatedInstance, 'rows' | 'columns' | 'numberOfFrames'>): void {
  checkFrame(input.frame, image);
  const { rows, columns } = image;
  const outside = input.points.findIndex(([x, y]) => x < 0 || y < 0 || x > columns || y > rows);
  if (outside >= 0) {
    throw bad(`points[${outside}] lies outside the image: x must be within 0..${columns} (columns) and y within 0..${rows} (rows)`);
  }
}

/**
 * Refuses a (1-based) frame number the image does not have, with `code`: BAD_REQUEST for a body's
 * frame, INVALID_QUERY for GET's `?frame=`.
 */
export function checkFrame(frame: number, image: Pick<AnnotatedInstance, 'numberOfFrames'>, code: ErrorCode = 'BAD_REQUEST'): void {
  if (frame > image.numberOfFrames) {
    throw new LucidaError(code, `frame ${frame} does not exist: the image has ${image.numberOfFrames} frame(s)`);
  }
}
