/**
 * The demo patients and their visits, as a pure, deterministic plan: who (obviously fake names,
 * "DEMO, Alice"; NHS numbers from the 999 test range with a valid modulus 11 check digit), when
 * (fixed dates in 2025, weekdays, studio hours 09:00–17:00, Europe/London offsets), what was
 * photographed (SNOMED CT body sites from CID 4029, laterality, CID 4062 views), the consent given,
 * and what each photograph shows (skin tone, lesion size). seed.ts turns each visit into one capture.
 *
 * The story the data tells (for the viewer's timeline and comparison):
 * - Patient 1, DEMO Alice: a naevus on the right forearm photographed at every visit over twelve
 *   months, growing from 5 to 10 mm (monitoring); an oblique view of it every third visit; a stable
 *   4 mm naevus on the back every other visit; the face at the first visit.
 * - Patient 2, DEMO Bob: a wound on the left lower leg at two visits, healing from 18 to 9 mm.
 * - Patient 3, DEMO Carol: one visit, face (frontal) and left cheek (left lateral view).
 * - Patients 4 and up (when asked for): one visit each, left forearm.
 */
import type { ConsentLevel } from '../capture/types.js';
import { isValidNhsNumber } from '../capture/nhs-number.js';
import type { DemoPhotoScene, Rgb } from './demo-photos.js';

/** A moment in Europe/London local time, in the forms the capture and DICOM use. */
export interface DemoDateTime {
  /** 'YYYY-MM-DD' and 'HH:MM:SS', local time. */
  date: string;
  time: string;
  /** UTC offset, '+00:00' (GMT) or '+01:00' (BST). */
  offset: string;
  /** EXIF DateTimeOriginal: 'YYYY:MM:DD HH:MM:SS'. */
  exif: string;
  /** RFC 3339 with offset. */
  iso: string;
  /** What the archive stores from EXIF: ContentDate (DA), ContentTime (TM), AcquisitionDateTime (DT with offset). */
  contentDate: string;
  contentTime: string;
  acquisitionDateTime: string;
}

export interface DemoCode { code: string; scheme: 'SCT'; display: string }

export interface DemoImagePlan {
  /** File name in the capture (unique within it). */
  fileName: string;
  site: DemoCode;
  laterality: 'R' | 'L' | 'B' | 'U';
  view?: DemoCode;
  seriesDescription: string;
  /** What the photograph shows (size and time are added when it is rendered). */
  scene: Omit<DemoPhotoScene, 'width' | 'height' | 'takenAt'>;
}

export interface DemoVisitPlan {
  /** 1-based, in date order. */
  visit: number;
  takenAt: DemoDateTime;
  consent: ConsentLevel;
  description: string;
  images: DemoImagePlan[];
}

export interface DemoPatientPlan {
  /** 1-based. */
  number: number;
  family: 'DEMO';
  given: string;
  /** DICOM PN as stored: 'DEMO^Alice'. */
  dicomName: string;
  /** Ten digits, no spaces (PatientID with IssuerOfPatientID NHS). */
  nhsNumber: string;
  hospitalNumber: { value: string; issuer: string };
  /** 'YYYY-MM-DD'. */
  birthDate: string;
  sex: 'M' | 'F';
  skin: Rgb;
  visits: DemoVisitPlan[];
}

export interface DemoPlanOptions {
  /** Visits (= studies) of patient 1, spread over twelve months. Default 6; 1 to 100. */
  studiesForFirstPatient?: number;
  /** How many patients. Default 3; 1 to 50. */
  patients?: number;
}

const DEFAULT_DEMO_PLAN = { studiesForFirstPatient: 6, patients: 3 } as const;
const DEMO_HOSPITAL_ISSUER = 'DEMO-TRUST';
/** Staff and place as the demo captures record them (no real person). */
const DEMO_STAFF = {
  photographer: 'PHOTOGRAPHER^Demo',
  consentTakenBy: 'Demo Photographer',
  referringClinician: 'DERMATOLOGIST^Demo',
  institution: 'Lucida Demo Hospital',
  department: 'Medical Photography',
  studio: 'DEMO STUDIO 1',
} as const;

const SCT = (code: string, display: string): DemoCode => ({ code, scheme: 'SCT', display });
/** CID 4029 Dermatology Anatomic Sites. */
const SITES = {
  forearm: SCT('70559009', 'Skin of anterior surface of forearm'),
  back: SCT('66643007', 'Skin of back'),
  face: SCT('73897004', 'Skin of face'),
  cheek: SCT('36141000', 'Skin of cheek'),
  lowerLeg: SCT('25763004', 'Skin of anterior surface of lower leg'),
} as const;
/** CID 4062 VL View. */
const VIEWS = {
  frontal: SCT('399033003', 'frontal'),
  oblique: SCT('399182000', 'oblique'),
  leftLateral: SCT('399173006', 'left lateral'),
} as const;

const PEOPLE: { given: string; sex: 'M' | 'F'; birthDate: string; skin: Rgb }[] = [
  { given: 'Alice', sex: 'F', birthDate: '1968-04-12', skin: [228, 184, 158] },
  { given: 'Bob', sex: 'M', birthDate: '1952-09-30', skin: [200, 148, 114] },
  { given: 'Carol', sex: 'F', birthDate: '1991-02-05', skin: [152, 104, 76] },
  { given: 'Dan', sex: 'M', birthDate: '1979-11-21', skin: [214, 166, 134] },
  { given: 'Erin', sex: 'F', birthDate: '2001-06-17', skin: [176, 124, 92] },
  { given: 'Frank', sex: 'M', birthDate: '1960-03-08', skin: [232, 190, 166] },
];

/**
 * The n-th demo NHS number (n ≥ 1): the first nine digits from 999 000 n00 upwards that some check
 * digit makes valid (for some, the modulus 11 check gives 10: none does), with that digit.
 * The 999 range is never issued to patients (NHS test numbers).
 */
export function demoNhsNumber(n: number): string {
  for (let k = 0; k < 100; k++) {
    const nine = String(999_000_000 + n * 100 + k);
    for (let d = 0; d <= 9; d++) {
      if (isValidNhsNumber(`${nine}${d}`)) return `${nine}${d}`;
    }
  }
  throw new RangeError(`no demo NHS number for ${n}`);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The last Sunday of a month (UTC date arithmetic on a calendar date). */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0));
  return last.getUTCDate() - last.getUTCDay();
}

/**
 * A local Europe/London time on a calendar day. British Summer Time runs from the last Sunday of
 * March to the last Sunday of October (at 01:00 UTC, before any studio opens).
 */
export function londonDateTime(day: Date, minutesAfterMidnight: number): DemoDateTime {
  const y = day.getUTCFullYear();
  const m = day.getUTCMonth() + 1;
  const d = day.getUTCDate();
  const bst = (m > 3 && m < 10) || (m === 3 && d >= lastSunday(y, 3)) || (m === 10 && d < lastSunday(y, 10));
  const offset = bst ? '+01:00' : '+00:00';
  const date = `${y}-${pad(m)}-${pad(d)}`;
  const time = `${pad(Math.floor(minutesAfterMidnight / 60))}:${pad(minutesAfterMidnight % 60)}:00`;
  return {
    date, time, offset,
    exif: `${date.replace(/-/g, ':')} ${time}`,
    iso: `${date}T${time}${offset}`,
    contentDate: date.replace(/-/g, ''),
    contentTime: time.replace(/:/g, ''),
    acquisitionDateTime: `${date.replace(/-/g, '')}${time.replace(/:/g, '')}${offset.replace(':', '')}`,
  };
}

/** A calendar day `days` after `start`, moved to the Monday after when it falls on a weekend. */
function weekday(start: string, days: number): Date {
  const day = new Date(`${start}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  const dow = day.getUTCDay();
  if (dow === 6) day.setUTCDate(day.getUTCDate() + 2);
  if (dow === 0) day.setUTCDate(day.getUTCDate() + 1);
  return day;
}

/** FNV-1a: a stable 32-bit seed from a name, so each photograph has its own texture. */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const CONSENT_CYCLE: readonly ConsentLevel[] = ['teaching', 'record', 'publication'];
/** Studio hours (DOMAIN.md): the first appointment at 09:30, the last at 16:30. */
const FIRST_SLOT = 9 * 60 + 30;
const SLOT_SPAN = 7 * 60;

function image(patient: number, visit: number, index: number, skin: Rgb, p: {
  site: DemoCode; laterality: DemoImagePlan['laterality']; view?: DemoCode; description: string;
  lesion: DemoPhotoScene['lesion']; light: DemoPhotoScene['light'];
}): DemoImagePlan {
  return {
    fileName: `demo-p${patient}-v${pad(visit)}-${index}.jpg`,
    site: p.site, laterality: p.laterality, ...(p.view ? { view: p.view } : {}), seriesDescription: p.description,
    scene: { skin, lesion: p.lesion, light: p.light, seed: seedOf(`lucida-demo/${patient}/${visit}/${index}`) },
  };
}

function firstPatientVisits(n: number, skin: Rgb): DemoVisitPlan[] {
  return Array.from({ length: n }, (_, i) => {
    const visit = i + 1;
    // Over twelve months, from Tuesday 7 January to Tuesday 30 December 2025.
    const day = weekday('2025-01-07', n === 1 ? 0 : Math.round((i * 357) / (n - 1)));
    const growth = n === 1 ? 0 : i / (n - 1);
    const lesion = { kind: 'naevus' as const, diameterMm: Math.round((5 + 5 * growth) * 10) / 10 };
    const images: DemoImagePlan[] = [];
    const add = (p: Parameters<typeof image>[4]) => images.push(image(1, visit, images.length + 1, skin, p));
    add({ site: SITES.forearm, laterality: 'R', view: VIEWS.frontal, description: 'Right forearm naevus, frontal', lesion, light: 'left' });
    if (i % 3 === 0) add({ site: SITES.forearm, laterality: 'R', view: VIEWS.oblique, description: 'Right forearm naevus, oblique', lesion, light: 'right' });
    if (i % 2 === 1) add({ site: SITES.back, laterality: 'U', description: 'Back naevus (stable)', lesion: { kind: 'naevus', diameterMm: 4 }, light: 'left' });
    if (i === 0) add({ site: SITES.face, laterality: 'U', view: VIEWS.frontal, description: 'Face, frontal', lesion: { kind: 'naevus', diameterMm: 3 }, light: 'right' });
    return {
      visit, takenAt: londonDateTime(day, FIRST_SLOT + ((i * 53) % SLOT_SPAN)), consent: CONSENT_CYCLE[i % 3],
      description: 'Dermatology: lesion monitoring', images,
    };
  });
}

function secondPatientVisits(skin: Rgb): DemoVisitPlan[] {
  const leg = (visit: number, diameterMm: number, view: DemoCode, index: number, light: 'left' | 'right') =>
    image(2, visit, index, skin, {
      site: SITES.lowerLeg, laterality: 'L', view, description: `Left lower leg wound, ${view.display}`, lesion: { kind: 'wound', diameterMm }, light,
    });
  return [
    { visit: 1, takenAt: londonDateTime(weekday('2025-04-08', 0), 11 * 60 + 10), consent: 'record', description: 'Wound clinic',
      images: [leg(1, 18, VIEWS.frontal, 1, 'left'), leg(1, 18, VIEWS.leftLateral, 2, 'right')] },
    { visit: 2, takenAt: londonDateTime(weekday('2025-06-10', 0), 14 * 60 + 40), consent: 'teaching', description: 'Wound clinic',
      images: [leg(2, 9, VIEWS.frontal, 1, 'left')] },
  ];
}

function thirdPatientVisits(skin: Rgb): DemoVisitPlan[] {
  const naevus = { kind: 'naevus' as const, diameterMm: 3 };
  return [{
    visit: 1, takenAt: londonDateTime(weekday('2025-09-23', 0), 15 * 60 + 15), consent: 'publication', description: 'Dermatology: facial lesion',
    images: [
      image(3, 1, 1, skin, { site: SITES.face, laterality: 'U', view: VIEWS.frontal, description: 'Face, frontal', lesion: naevus, light: 'left' }),
      image(3, 1, 2, skin, { site: SITES.cheek, laterality: 'L', view: VIEWS.leftLateral, description: 'Left cheek, left lateral', lesion: naevus, light: 'right' }),
    ],
  }];
}

function otherPatientVisits(n: number, skin: Rgb): DemoVisitPlan[] {
  return [{
    visit: 1, takenAt: londonDateTime(weekday('2025-10-07', 2 * (n - 4)), FIRST_SLOT + ((n * 37) % SLOT_SPAN)), consent: 'record',
    description: 'Dermatology', images: [image(n, 1, 1, skin, {
      site: SITES.forearm, laterality: 'L', view: VIEWS.frontal, description: 'Left forearm naevus, frontal',
      lesion: { kind: 'naevus', diameterMm: 6 }, light: 'left',
    })],
  }];
}

function checkCount(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${name} must be a whole number from 1 to ${max}, got ${v}`);
  return v;
}

/** The demo's patients and visits (pure: the same options always give the same plan). */
export function demoPlan(opts: DemoPlanOptions = {}): DemoPatientPlan[] {
  const studies = checkCount('studiesForFirstPatient', opts.studiesForFirstPatient ?? DEFAULT_DEMO_PLAN.studiesForFirstPatient, 100);
  const count = checkCount('patients', opts.patients ?? DEFAULT_DEMO_PLAN.patients, 50);
  return Array.from({ length: count }, (_, i) => {
    const number = i + 1;
    const person = PEOPLE[i] ?? { ...PEOPLE[i % PEOPLE.length], given: `Patient${number}` };
    const visits = number === 1 ? firstPatientVisits(studies, person.skin)
      : number === 2 ? secondPatientVisits(person.skin)
        : number === 3 ? thirdPatientVisits(person.skin)
          : otherPatientVisits(number, person.skin);
    return {
      number, family: 'DEMO', given: person.given, dicomName: `DEMO^${person.given}`, nhsNumber: demoNhsNumber(number),
      hospitalNumber: { value: `DEMO${pad(number, 4)}`, issuer: DEMO_HOSPITAL_ISSUER },
      birthDate: person.birthDate, sex: person.sex, skin: person.skin, visits,
    };
  });
}

/**
 * The capture API's metadata document (schemas/capture.schema.json) for one visit: one group, and so
 * one series, per photograph. Consent is recorded as given five minutes before the first photograph.
 */
export function demoCaptureMetadata(patient: DemoPatientPlan, visit: DemoVisitPlan): Record<string, unknown> {
  const consentAt = new Date(new Date(visit.takenAt.iso).getTime() - 5 * 60_000);
  return {
    patient: {
      nhsNumber: patient.nhsNumber, hospitalNumber: patient.hospitalNumber,
      name: { family: patient.family, given: [patient.given] }, birthDate: patient.birthDate, sex: patient.sex,
    },
    study: { description: visit.description, referringClinician: DEMO_STAFF.referringClinician },
    consent: { level: visit.consent, recordedBy: DEMO_STAFF.consentTakenBy, recordedAt: consentAt.toISOString() },
    photographer: DEMO_STAFF.photographer,
    site: { institution: DEMO_STAFF.institution, department: DEMO_STAFF.department, studio: DEMO_STAFF.studio },
    clinicalNote: `Synthetic demonstration photograph, not a real patient (visit ${visit.visit}).`,
    groups: visit.images.map((img) => ({
      bodySite: { code: img.site.code, scheme: img.site.scheme, display: img.site.display },
      laterality: img.laterality,
      ...(img.view ? { view: { code: img.view.code, scheme: img.view.scheme, display: img.view.display } } : {}),
      seriesDescription: img.seriesDescription,
      files: [img.fileName],
    })),
  };
}
