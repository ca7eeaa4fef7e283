import { annotationsJson, measurementJson } from './present.js';
import type { AnnotatedInstance, Annotation, AnnotationKind, Point } from './types.js';

const instance: AnnotatedInstance = {
  patientId: '9434765919', issuer: 'NHS', studyInstanceUID: '1.2.3', seriesInstanceUID: '1.2.3.4', sopInstanceUID: '1.2.3.4.5',
  rows: 480, columns: 640, numberOfFrames: 1,
};
let n = 0;
const annotation = (kind: AnnotationKind, points: Point[], lengthMm: number | null = null): Annotation => ({
  id: `00000000-0000-4000-8000-00000000000${++n}`, sopInstanceUID: instance.sopInstanceUID, frame: 1, kind, points, lengthMm,
  label: null, createdBy: 'dr-who', createdAt: new Date(Date.UTC(2026, 10, 24, 9, n)),
});

describe('annotation responses', () => {
  it('computes every measurement from its points and the current calibration, rounded to two decimals', () => {
    const calibration = annotation('calibration', [[10, 10], [110, 10]], 10);
    const length = annotation('length', [[0, 100], [250, 100]]);
    const ellipse = annotation('ellipse', [[200, 170], [200, 70], [180, 120], [220, 120]]);
    const angle = annotation('angle', [[100, 0], [0, 0], [0, 100]]);
    const json = annotationsJson(instance, 1, [length, calibration, ellipse, angle]);
    expect(json).toMatchObject({
      sopInstanceUID: '1.2.3.4.5', frame: 1, columns: 640, rows: 480,
      calibration: { id: calibration.id, points: [[10, 10], [110, 10]], lengthMm: 10, mmPerPixel: 0.1, createdBy: 'dr-who', createdAt: calibration.createdAt.toISOString() },
    });
    expect(json.measurements.map((m) => [m.kind, m.value, m.unit])).toEqual([['length', 25, 'mm'], ['ellipse', 31.42, 'mm2'], ['angle', 90, 'deg']]);
  });

  it('reports pixels when the frame is not calibrated', () => {
    const json = annotationsJson(instance, 1, [annotation('length', [[0, 0], [30, 40]]), annotation('freehand', [[0, 0], [10, 0], [10, 10], [0, 10]])]);
    expect(json.calibration).toBeNull();
    expect(json.measurements.map((m) => [m.value, m.unit])).toEqual([[50, 'px'], [100, 'px2']]);
  });

  it('keeps the scale of a calibration over a long ruler to six decimals', () => {
    const json = annotationsJson(instance, 1, [annotation('calibration', [[0, 0], [600, 0]], 7)]);
    expect(json.calibration!.mmPerPixel).toBe(0.011667);
    expect(measurementJson(annotation('length', [[0, 0], [300, 0]]), annotation('calibration', [[0, 0], [600, 0]], 7)).value).toBe(3.5);
  });
});
