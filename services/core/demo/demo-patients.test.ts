/**
 * The demo plan: test-range NHS numbers that pass the check digit, visits in date order on weekdays
 * in studio hours, a lesion that grows, every consent level, and metadata the capture API accepts.
 */
import { parseCaptureMetadata } from '../capture/metadata.js';
import { formatNhsNumber, isValidNhsNumber } from '../capture/nhs-number.js';
import { demoCaptureMetadata, demoNhsNumber, demoPlan, londonDateTime } from './demo-patients.js';

describe('demo NHS numbers', () => {
  it('are valid, in the 999 test range, and distinct', () => {
    const numbers = Array.from({ length: 50 }, (_, i) => demoNhsNumber(i + 1));
    for (const n of numbers) {
      expect(isValidNhsNumber(n)).toBe(true);
      expect(n.startsWith('999')).toBe(true);
    }
    expect(new Set(numbers).size).toBe(50);
    expect(numbers.slice(0, 3)).toEqual(['9990001006', '9990002002', '9990003009']);
    expect(formatNhsNumber(numbers[0])).toBe('999 000 1006');
  });
});

describe('londonDateTime', () => {
  it('uses GMT in winter and BST in summer, in every form the archive stores', () => {
    expect(londonDateTime(new Date('2025-01-07T00:00:00Z'), 9 * 60 + 30)).toEqual({
      date: '2025-01-07', time: '09:30:00', offset: '+00:00', exif: '2025:01:07 09:30:00', iso: '2025-01-07T09:30:00+00:00',
      contentDate: '20250107', contentTime: '093000', acquisitionDateTime: '20250107093000+0000',
    });
    expect(londonDateTime(new Date('2025-03-31T00:00:00Z'), 600).offset).toBe('+01:00'); // after 30 March
    expect(londonDateTime(new Date('2025-03-28T00:00:00Z'), 600).offset).toBe('+00:00');
    expect(londonDateTime(new Date('2025-10-24T00:00:00Z'), 600).offset).toBe('+01:00'); // before 26 October
    expect(londonDateTime(new Date('2025-10-27T00:00:00Z'), 600).offset).toBe('+00:00');
  });
});

describe('demoPlan', () => {
  it('by default has three patients, the first with six visits over 2025', () => {
    const plan = demoPlan();
    expect(plan.map((p) => [p.dicomName, p.visits.length])).toEqual([['DEMO^Alice', 6], ['DEMO^Bob', 2], ['DEMO^Carol', 1]]);
    expect(plan[0].visits.map((v) => v.takenAt.date)).toEqual(['2025-01-07', '2025-03-19', '2025-05-30', '2025-08-11', '2025-10-20', '2025-12-30']);
  });

  it.each([1, 2, 6, 20, 100])('spreads %i visits of patient 1 over a year: ascending, weekdays, studio hours', (n) => {
    const [alice] = demoPlan({ studiesForFirstPatient: n, patients: 1 });
    const times = alice.visits.map((v) => new Date(v.takenAt.iso).getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(times).size).toBe(n);
    for (const v of alice.visits) {
      const day = new Date(`${v.takenAt.date}T12:00:00Z`).getUTCDay();
      expect(day).not.toBe(0);
      expect(day).not.toBe(6);
      expect(v.takenAt.time >= '09:00:00' && v.takenAt.time <= '17:00:00').toBe(true);
      expect(v.takenAt.date.startsWith('2025-')).toBe(true);
      // The monitored site at every visit.
      expect(v.images[0]).toMatchObject({ site: { code: '70559009' }, laterality: 'R', view: { code: '399033003' } });
    }
    const sizes = alice.visits.map((v) => v.images[0].scene.lesion.diameterMm);
    expect(sizes[0]).toBe(5);
    expect(sizes[sizes.length - 1]).toBe(n === 1 ? 5 : 10);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
  });

  it('varies body sites, views and consent levels across studies', () => {
    const plan = demoPlan();
    const images = plan.flatMap((p) => p.visits.flatMap((v) => v.images));
    expect(new Set(images.map((i) => i.site.code))).toEqual(new Set(['70559009', '66643007', '73897004', '36141000', '25763004']));
    expect(new Set(images.map((i) => i.view?.code))).toEqual(new Set(['399033003', '399182000', '399173006', undefined]));
    expect(new Set(plan.flatMap((p) => p.visits.map((v) => v.consent)))).toEqual(new Set(['record', 'teaching', 'publication']));
  });

  it('makes metadata the capture API accepts for every visit, with distinct texture seeds', () => {
    const plan = demoPlan({ studiesForFirstPatient: 20, patients: 8 });
    const seeds = new Set<number>();
    for (const p of plan) {
      for (const v of p.visits) {
        const names = v.images.map((i) => i.fileName);
        const parsed = parseCaptureMetadata(demoCaptureMetadata(p, v), names);
        expect(parsed.context.patient).toMatchObject({ patientId: p.nhsNumber, issuer: 'NHS', name: p.dicomName, sex: p.sex });
        expect(parsed.context.consent.level).toBe(v.consent);
        expect(parsed.groups.map((g) => g.files)).toEqual(names.map((n) => [n]));
        for (const i of v.images) seeds.add(i.scene.seed);
      }
    }
    expect(seeds.size).toBe(plan.flatMap((p) => p.visits.flatMap((v) => v.images)).length);
  });

  it('is the same plan every time, and refuses counts out of range', () => {
    expect(JSON.stringify(demoPlan({ patients: 5 }))).toBe(JSON.stringify(demoPlan({ patients: 5 })));
    expect(() => demoPlan({ studiesForFirstPatient: 0 })).toThrow(RangeError);
    expect(() => demoPlan({ patients: 51 })).toThrow(RangeError);
    expect(() => demoPlan({ patients: 1.5 })).toThrow(RangeError);
  });
});
