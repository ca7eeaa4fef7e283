import { angleDegrees, distance, ellipseArea, measure, mmPerPixel, polygonArea, round2 } from './geometry.js';
import type { Point } from './types.js';

describe('annotation geometry (image pixel coordinates, square pixels)', () => {
  it('measures a length along any direction', () => {
    expect(distance([0, 0], [3, 4])).toBe(5);
    expect(distance([10.5, 2], [10.5, 252])).toBe(250);
  });

  it('calibrates: 100 px over a 10 mm ruler is 0.1 mm per pixel, whatever the ruler\'s direction', () => {
    expect(mmPerPixel({ points: [[10, 10], [110, 10]], lengthMm: 10 })).toBeCloseTo(0.1, 12);
    expect(mmPerPixel({ points: [[0, 0], [60, 80]], lengthMm: 10 })).toBeCloseTo(0.1, 12);
  });

  it('reads a 250 px length as 25 mm at 0.1 mm/px, and as 250 px uncalibrated', () => {
    const ruler: Point[] = [[0, 100], [250, 100]];
    expect(measure('length', ruler, 0.1)).toEqual({ value: expect.closeTo(25, 10), unit: 'mm' });
    expect(measure('length', ruler, undefined)).toEqual({ value: 250, unit: 'px' });
  });

  it('gives an ellipse π·a·b from the ends of its axes, in either order of the pairs', () => {
    // Cornerstone3D's handle order: bottom, top, left, right. Axes 100 and 40 px: a = 50, b = 20.
    const pts: Point[] = [[200, 170], [200, 70], [180, 120], [220, 120]];
    expect(ellipseArea(pts)).toBeCloseTo(Math.PI * 50 * 20, 9);
    expect(ellipseArea([pts[1], pts[0], pts[3], pts[2]])).toBeCloseTo(Math.PI * 1000, 9);
    // mm² scale with the square of mm/px.
    expect(measure('ellipse', pts, 0.1)).toEqual({ value: expect.closeTo(Math.PI * 10, 9), unit: 'mm2' });
    expect(measure('ellipse', pts, undefined).unit).toBe('px2');
  });

  it('gives a rotated ellipse the same area', () => {
    const c = Math.SQRT1_2;
    const pts: Point[] = [[100 - 50 * c, 100 - 50 * c], [100 + 50 * c, 100 + 50 * c], [100 - 20 * c, 100 + 20 * c], [100 + 20 * c, 100 - 20 * c]];
    expect(ellipseArea(pts)).toBeCloseTo(Math.PI * 1000, 9);
  });

  it('computes a polygon\'s area with the shoelace formula, whichever way it is drawn', () => {
    const square: Point[] = [[10, 10], [110, 10], [110, 110], [10, 110]];
    expect(polygonArea(square)).toBe(10_000);
    expect(polygonArea([...square].reverse())).toBe(10_000);
    expect(polygonArea([[0, 0], [4, 0], [0, 3]])).toBe(6);
    // An L shape (concave): 3×1 + 1×2.
    expect(polygonArea([[0, 0], [3, 0], [3, 1], [1, 1], [1, 3], [0, 3]])).toBe(5);
    expect(measure('freehand', square, 0.1)).toEqual({ value: expect.closeTo(100, 9), unit: 'mm2' });
    expect(measure('freehand', square, undefined)).toEqual({ value: 10_000, unit: 'px2' });
  });

  it('measures the angle at the middle point, 0 to 180 degrees, unchanged by calibration', () => {
    expect(angleDegrees([[100, 0], [0, 0], [0, 100]])).toBeCloseTo(90, 12);
    expect(angleDegrees([[0, 100], [0, 0], [100, 0]])).toBeCloseTo(90, 12);
    expect(angleDegrees([[10, 0], [0, 0], [10, 10]])).toBeCloseTo(45, 12);
    expect(angleDegrees([[-10, 0], [0, 0], [10, 0]])).toBeCloseTo(180, 12);
    expect(angleDegrees([[10, 0], [0, 0], [20, 0]])).toBe(0);
    expect(angleDegrees([[10, 0], [0, 0], [-10, 10]])).toBeCloseTo(135, 12);
    expect(measure('angle', [[100, 0], [0, 0], [0, 100]], 0.1)).toEqual({ value: expect.closeTo(90, 12), unit: 'deg' });
  });

  it('rounds reported values to two decimals', () => {
    expect(round2(Math.PI * 1000)).toBe(3141.59);
    expect(round2(25.000000000000004)).toBe(25);
    expect(round2(0.125)).toBe(0.13);
  });
});
