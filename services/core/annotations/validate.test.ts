import { expectLucidaError } from '../../../test/helpers/errors.js';
import { checkAgainstImage, checkFrame, parseAnnotationBody } from './validate.js';

const image = { columns: 640, rows: 480, numberOfFrames: 1 };
const refused = (body: unknown, reason: RegExp) => expectLucidaError('BAD_REQUEST', () => parseAnnotationBody(body), reason);

describe('parseAnnotationBody', () => {
  it('accepts each kind with its number of points, frame 1 by default', () => {
    expect(parseAnnotationBody({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 10 }))
      .toEqual({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 10, frame: 1 });
    expect(parseAnnotationBody({ kind: 'length', points: [[0, 0], [0.5, 250.25]], label: ' Lesion ' }))
      .toEqual({ kind: 'length', points: [[0, 0], [0.5, 250.25]], label: 'Lesion', frame: 1 });
    expect(parseAnnotationBody({ kind: 'ellipse', points: [[50, 90], [50, 10], [30, 50], [70, 50]], frame: 1 }).points).toHaveLength(4);
    expect(parseAnnotationBody({ kind: 'angle', points: [[10, 0], [0, 0], [0, 10]] }).kind).toBe('angle');
    expect(parseAnnotationBody({ kind: 'freehand', points: [[0, 0], [10, 0], [0, 10]], label: null }).label).toBeUndefined();
    const outline = Array.from({ length: 1000 }, (_, i) => [100 + 50 * Math.cos(i / 159), 100 + 50 * Math.sin(i / 159)]);
    expect(parseAnnotationBody({ kind: 'freehand', points: outline }).points).toHaveLength(1000);
  });

  it('refuses what is not an annotation', () => {
    refused([], /JSON object/);
    refused({ kind: 'arrow', points: [[0, 0], [1, 1]] }, /kind must be one of calibration, length, ellipse, freehand, angle/);
    refused({ kind: 'length', points: [[0, 0], [1, 1]], colour: 'red' }, /unknown member\(s\) "colour"/);
  });

  it('refuses the wrong number of points for each kind', () => {
    refused({ kind: 'calibration', points: [[0, 0]], lengthMm: 10 }, /exactly 2 \[x, y\] pairs for a calibration/);
    refused({ kind: 'length', points: [[0, 0], [1, 1], [2, 2]] }, /exactly 2 .* for a length/);
    refused({ kind: 'ellipse', points: [[0, 0], [1, 1], [2, 2]] }, /exactly 4 .* for an ellipse/);
    refused({ kind: 'angle', points: [[0, 0], [1, 1]] }, /exactly 3 .* for an angle/);
    refused({ kind: 'freehand', points: [[0, 0], [1, 1]] }, /3 to 1000 .* for a freehand/);
    refused({ kind: 'freehand', points: Array.from({ length: 1001 }, (_, i) => [i % 100, 1]) }, /3 to 1000/);
    refused({ kind: 'length', points: 'nope' }, /points must be an array/);
  });

  it('refuses points that are not two finite numbers', () => {
    refused({ kind: 'length', points: [[0, 0], [1]] }, /points\[1\] must be \[x, y\]/);
    refused({ kind: 'length', points: [[0, '1'], [1, 1]] }, /points\[0\] must be \[x, y\]/);
    refused({ kind: 'length', points: [[0, 0], [1, 1, 1]] }, /points\[1\]/);
    refused({ kind: 'length', points: [[0, 0], [Infinity, 1]] }, /finite/);
  });

  it('needs a sensible ruler for a calibration, and lengthMm nowhere else', () => {
    refused({ kind: 'calibration', points: [[0, 0], [100, 0]] }, /needs lengthMm/);
    refused({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 0 }, /more than 0 and at most 10000/);
    refused({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: -5 }, /more than 0/);
    refused({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: 10_001 }, /at most 10000/);
    refused({ kind: 'calibration', points: [[0, 0], [100, 0]], lengthMm: '10' }, /needs lengthMm/);
    refused({ kind: 'calibration', points: [[5, 5], [5.5, 5.5]], lengthMm: 1 }, /at least 1 pixel apart/);
    expect(parseAnnotationBody({ kind: 'calibration', points: [[5, 5], [6, 5]], lengthMm: 10_000 }).lengthMm).toBe(10_000);
    refused({ kind: 'length', points: [[0, 0], [100, 0]], lengthMm: 10 }, /lengthMm is only for a calibration/);
  });

  it('refuses an angle without arms and an ellipse whose axes do not cross at their midpoints at right angles', () => {
    refused({ kind: 'angle', points: [[0, 0], [0, 0], [10, 10]] }, /arms must have a length/);
    refused({ kind: 'ellipse', points: [[50, 90], [50, 10], [30, 20], [70, 20]] }, /cross at their midpoints at right angles/);
    refused({ kind: 'ellipse', points: [[0, 0], [100, 0], [0, 0], [100, 100]] }, /right angles/);
    // Floating-point error from the viewer's coordinate conversions is tolerated.
    expect(parseAnnotationBody({ kind: 'ellipse', points: [[50.0004, 90], [50, 10.0003], [30, 50.2], [70, 50]] }).kind).toBe('ellipse');
  });

  it('limits labels to one line of 64 characters', () => {
    refused({ kind: 'length', points: [[0, 0], [1, 1]], label: 'x'.repeat(65) }, /at most 64 characters/);
    refused({ kind: 'length', points: [[0, 0], [1, 1]], label: 'a\nb' }, /control characters/);
    refused({ kind: 'length', points: [[0, 0], [1, 1]], label: 7 }, /label must be text/);
    expect(parseAnnotationBody({ kind: 'length', points: [[0, 0], [1, 1]], label: 'é'.repeat(64) }).label).toHaveLength(64);
  });

  it('refuses a frame that is not a whole number from 1', () => {
    refused({ kind: 'length', points: [[0, 0], [1, 1]], frame: 0 }, /frame must be a whole number from 1/);
    refused({ kind: 'length', points: [[0, 0], [1, 1]], frame: 1.5 }, /frame/);
    refused({ kind: 'length', points: [[0, 0], [1, 1]], frame: '1' }, /frame/);
  });
});

describe('checkAgainstImage', () => {
  const input = (points: [number, number][], frame = 1) => ({ kind: 'freehand' as const, points, frame });

  it('accepts points anywhere on the image, its edges included: [0, columns] × [0, rows]', () => {
    expect(() => checkAgainstImage(input([[0, 0], [640, 0], [640, 480], [0.5, 479.5]]), image)).not.toThrow();
  });

  it('refuses a point off the image, naming it and the image\'s size', () => {
    expectLucidaError('BAD_REQUEST', () => checkAgainstImage(input([[0, 0], [640.01, 10], [5, 5]]), image),
      /points\[1\] lies outside the image: x must be within 0..640 \(columns\) and y within 0..480 \(rows\)/);
    expectLucidaError('BAD_REQUEST', () => checkAgainstImage(input([[0, -0.1], [1, 1], [5, 5]]), image), /points\[0\]/);
    expectLucidaError('BAD_REQUEST', () => checkAgainstImage(input([[0, 0], [1, 481], [5, 5]]), image), /points\[1\]/);
  });

  it('refuses a frame the image does not have', () => {
    expectLucidaError('BAD_REQUEST', () => checkAgainstImage(input([[0, 0], [1, 1], [2, 0]], 2), image), /frame 2 does not exist: the image has 1 frame/);
    // GET's ?frame= is refused by the same check, as a bad query.
    expectLucidaError('INVALID_QUERY', () => checkFrame(2, image, 'INVALID_QUERY'), /frame 2 does not exist: the image has 1 frame/);
    expect(() => checkFrame(1, image, 'INVALID_QUERY')).not.toThrow();
  });
});
