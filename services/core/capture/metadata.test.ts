import { readFileSync } from 'node:fs';
import { metadataErrorsOf } from '../../../test/helpers/errors.js';
import { hasPatient, MAX_LISTED_SCHEMA_ERRORS, parseCaptureMetadata } from './metadata.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const parse = (json: unknown, files: string[] = ['IMG_0001.JPG']) => parseCaptureMetadata(json, files, { now: NOW });

/** The errors a document is refused with ([] when it is accepted). */
const errorsOf = (json: unknown, files: string[] = ['IMG_0001.JPG']) => metadataErrorsOf(() => parse(json, files));

/** The smallest acceptable document: a hospital number, consent, one group taking every file. */
const minimal = () => ({
  patient: { hospitalNumber: { value: 'RX1234', issuer: 'RXH' } },
  consent: { level: 'record' },
  groups: [{ laterality: 'U' }],
});

const full = () => ({
  patient: {
    nhsNumber: '943 476 5919', hospitalNumber: { value: 'RX1234', issuer: 'RXH' },
    name: { family: 'Smith', given: ['Jane', 'Ann'], prefix: 'Mrs' }, birthDate: '1980-02-29', sex: 'F',
  },
  study: { accessionNumber: 'ACC1', description: 'Dermatology photography', referringClinician: 'Dr X' },
  consent: { level: 'teaching', recordedBy: 'A Nurse', recordedAt: '2026-11-24T10:00:00Z' },
  photographer: 'GRAPHER^P',
  site: { institution: 'Royal Example Hospital', department: 'Medical Photography', studio: 'Studio 2' },
  clinicalNote: 'Lesion on the right forearm, 6 mm.\nReview in 3 months.',
  groups: [
    { bodySite: { code: '70559009', scheme: 'SCT', display: 'Forearm (front)' }, laterality: 'R', view: { code: '399033003' },
      seriesDescription: 'Right forearm', files: ['IMG_0001.JPG', 'IMG_0002.JPG'] },
    { bodySite: { code: '73897004' }, laterality: 'U', files: ['IMG_0003.JPG'] },
  ],
});
const FULL_FILES = ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003.JPG'];

describe('parseCaptureMetadata: accepted documents', () => {
  it('normalises a complete capture: NHS number as PatientID, hospital number as other ID, DICOM name and date, standard code meanings', () => {
    expect(parse(full(), FULL_FILES)).toEqual({
      context: {
        patient: {
          patientId: '9434765919', issuer: 'NHS', nhsNumber: '9434765919', otherIds: [{ id: 'RX1234', issuer: 'RXH' }],
          name: 'Smith^Jane^Ann^Mrs', birthDate: '19800229', sex: 'F',
        },
        study: { accessionNumber: 'ACC1', description: 'Dermatology photography', referringPhysicianName: 'Dr X' },
        consent: { level: 'teaching', recordedBy: 'A Nurse', recordedAt: new Date('2026-11-24T10:00:00Z') },
        photographer: 'GRAPHER^P',
        institutionName: 'Royal Example Hospital', departmentName: 'Medical Photography', stationName: 'Studio 2',
        clinicalNote: 'Lesion on the right forearm, 6 mm.\nReview in 3 months.',
      },
      groups: [
        {
          image: {
            bodySite: { code: '70559009', scheme: 'SCT', meaning: 'Skin of anterior surface of forearm' },
            laterality: 'R', view: { code: '399033003', scheme: 'SCT', meaning: 'frontal' },
            seriesDescription: 'Right forearm', recognizableVisualFeatures: false,
          },
          files: ['IMG_0001.JPG', 'IMG_0002.JPG'],
        },
        {
          image: { bodySite: { code: '73897004', scheme: 'SCT', meaning: 'Skin of face' }, laterality: 'U', recognizableVisualFeatures: true },
          files: ['IMG_0003.JPG'],
        },
      ],
    });
  });

  it('accepts a minimal capture: local number as PatientID, unknown demographics empty, the single group taking every file', () => {
    const parsed = parse(minimal(), ['a.jpg', 'b.png']);
    expect(parsed.context).toEqual({
      patient: { patientId: 'RX1234', issuer: 'RXH', otherIds: [], name: '', birthDate: '', sex: '' },
      study: {},
      consent: { level: 'record', recordedBy: '' },
    });
    expect(parsed.groups).toEqual([{ image: { laterality: 'U', recognizableVisualFeatures: false }, files: ['a.jpg', 'b.png'] }]);
  });

  it('lets a capture that names an existing study leave the patient out, for the caller to take from the study', () => {
    for (const study of [{ studyInstanceUID: '1.2.826.0.1.3680043.2.1125.1' }, { accessionNumber: 'ACC1' }]) {
      const { context } = parse({ study, consent: { level: 'record' }, groups: [{ laterality: 'L' }] });
      expect(hasPatient(context)).toBe(false);
      expect(context.patient).toBeUndefined();
      expect(context.study).toEqual(study);
    }
  });

  it('keeps a patient given with an existing study, for the caller to check against the stored one', () => {
    const { context } = parse({ ...minimal(), study: { accessionNumber: 'ACC1' } });
    expect(hasPatient(context)).toBe(true);
    expect(context.patient?.patientId).toBe('RX1234');
  });

  it('writes sex U as empty PatientSex and puts further given names in the middle-name component', () => {
    const { context } = parse({ ...minimal(), patient: { ...minimal().patient, sex: 'U', name: { family: 'Ng', given: ['A', 'B', 'C'], suffix: 'Jr' } } });
    expect(context.patient?.sex).toBe('');
    expect(context.patient?.name).toBe('Ng^A^B C^^Jr');
  });

  it('accepts a birth date of today wherever the station is (UTC+14 is already tomorrow)', () => {
    expect(parse({ ...minimal(), patient: { ...minimal().patient, birthDate: '2026-11-25' } }).context.patient?.birthDate).toBe('20261125');
  });

  it('uses the standard Code Meaning, not the display text the station sent', () => {
    const doc = { ...minimal(), groups: [{ laterality: 'R', bodySite: { code: '70559009', display: 'my arm' }, view: { code: '399173006', display: 'Side' } }] };
    const { image } = parse(doc).groups[0];
    expect(image.bodySite?.meaning).toBe('Skin of anterior surface of forearm');
    expect(image.view?.meaning).toBe('left lateral');
  });

  it('accepts the FMA and DCM sites of CID 4029 with their scheme', () => {
    const doc = { ...minimal(), groups: [{ laterality: 'U', bodySite: { code: '59532', scheme: 'FMA' } }] };
    expect(parse(doc).groups[0].image.bodySite).toEqual({ code: '59532', scheme: 'FMA', meaning: 'Skin of dorsum of nose' });
  });

  it('sets RecognizableVisualFeatures for facial sites and views whatever was sent, and keeps it when the station sets it', () => {
    const group = (g: object) => parse({ ...minimal(), groups: [{ laterality: 'U', ...g }] }).groups[0].image.recognizableVisualFeatures;
    expect(group({ bodySite: { code: '113179006' }, recognizableVisualFeatures: false })).toBe(true); // Skin of nose
    expect(group({ bodySite: { code: '69536005' }, view: { code: '399255003' } })).toBe(true); // Head, submentovertical
    expect(group({ bodySite: { code: '66643007' }, recognizableVisualFeatures: true })).toBe(true); // a tattoo on the back
    expect(group({ bodySite: { code: '66643007' } })).toBe(false);
  });

  it('takes a plain-text staff name as it is and tidies a DICOM PN one', () => {
    const { context } = parse({ ...minimal(), photographer: ' GRAPHER ^ P ^', study: { referringClinician: 'Dr X' }, patient: minimal().patient });
    expect(context.photographer).toBe('GRAPHER^P');
    expect(context.study.referringPhysicianName).toBe('Dr X');
  });
});

describe('parseCaptureMetadata: refused documents', () => {
  it('requires consent', () => {
    const { consent: _consent, ...doc } = minimal();
    expect(errorsOf(doc)).toEqual([{ path: '/consent', message: 'consent is required' }]);
    expect(() => parse(doc)).toThrow('consent is required');
  });

  it('refuses an NHS number whose check digit is wrong, without quoting it', () => {
    const doc = { ...minimal(), patient: { nhsNumber: '943 476 5918' } };
    expect(errorsOf(doc)).toEqual([{ path: '/patient/nhsNumber', message: 'patient.nhsNumber fails the NHS number check digit' }]);
  });

  it('refuses an NHS number that is not ten digits', () => {
    expect(errorsOf({ ...minimal(), patient: { nhsNumber: '943 476 591' } })).toEqual([
      { path: '/patient/nhsNumber', message: 'patient.nhsNumber must be 10 digits' },
    ]);
  });

  it('needs an NHS number or a hospital number for the patient', () => {
    expect(errorsOf({ ...minimal(), patient: { name: { family: 'Smith' } } })).toEqual([
      { path: '/patient', message: 'patient needs nhsNumber or hospitalNumber' },
    ]);
  });

  it('needs the patient unless the study names an existing one', () => {
    const { patient: _p, ...doc } = minimal();
    expect(errorsOf(doc)).toEqual([{ path: '/patient', message: expect.stringMatching(/^patient is required unless study names an existing study/) }]);
    expect(errorsOf({ ...doc, study: { description: 'Photos' } })).toHaveLength(1);
  });

  it('refuses NHS as the issuer of a hospital number', () => {
    const doc = { ...minimal(), patient: { hospitalNumber: { value: '9434765919', issuer: 'nhs' } } };
    expect(errorsOf(doc).map((e) => e.path)).toEqual(['/patient/hospitalNumber/issuer']);
  });

  it('catches typos: unknown properties are refused wherever they are', () => {
    const doc = { ...minimal(), photograper: 'P', patient: { ...minimal().patient, brithDate: '1980-01-01' }, groups: [{ laterality: 'U', file: ['a'] }] };
    expect(errorsOf(doc)).toEqual([
      { path: '/photograper', message: 'photograper is not a known property' },
      { path: '/patient/brithDate', message: 'patient.brithDate is not a known property' },
      { path: '/groups/0/file', message: 'groups[0].file is not a known property' },
    ]);
  });

  it('refuses PN delimiters and control characters inside name components, and names over 64 characters', () => {
    const named = (name: object) => errorsOf({ ...minimal(), patient: { ...minimal().patient, name } });
    expect(named({ family: 'Smith^Jones' })).toEqual([
      { path: '/patient/name/family', message: 'patient.name.family contains ^, =, a backslash or control characters' },
    ]);
    expect(named({ family: 'Smith', given: ['Jane=Ann'] }).map((e) => e.path)).toEqual(['/patient/name/given/0']);
    expect(named({ family: 'Smith\\Jones' })).toHaveLength(1);
    expect(named({ family: 'Smith\u0007' })).toHaveLength(1);
    expect(named({ family: 'A'.repeat(40), given: ['B'.repeat(30)] })).toEqual([
      { path: '/patient/name', message: 'patient.name is longer than 64 characters as a DICOM name' },
    ]);
    expect(named({ given: ['Jane'] })).toEqual([{ path: '/patient/name/family', message: 'patient.name.family is required' }]);
  });

  it('refuses birth dates that are not real dates or are in the future', () => {
    const born = (birthDate: string) => errorsOf({ ...minimal(), patient: { ...minimal().patient, birthDate } });
    expect(born('1981-02-29')).toEqual([{ path: '/patient/birthDate', message: 'patient.birthDate must be a date, YYYY-MM-DD' }]);
    expect(born('19800229')).toHaveLength(1);
    expect(born('2026-11-27')).toEqual([{ path: '/patient/birthDate', message: 'patient.birthDate is in the future' }]);
  });

  it('refuses a consent time in the future (beyond a few minutes of clock difference)', () => {
    const at = (recordedAt: string) => errorsOf({ ...minimal(), consent: { level: 'record', recordedAt } });
    expect(at('2026-11-24T12:04:00Z')).toEqual([]);
    expect(at('2026-11-24T13:00:00Z')).toEqual([{ path: '/consent/recordedAt', message: 'consent.recordedAt is in the future' }]);
    expect(at('2026-11-24 10:00')).toEqual([{ path: '/consent/recordedAt', message: expect.stringMatching(/must be a date and time/) }]);
  });

  it('refuses an unknown consent level and an unknown laterality, naming the allowed values', () => {
    expect(errorsOf({ ...minimal(), consent: { level: 'research' }, groups: [{ laterality: 'left' }] })).toEqual([
      { path: '/consent/level', message: 'consent.level must be one of record, teaching, publication' },
      { path: '/groups/0/laterality', message: 'groups[0].laterality must be one of R, L, B, U' },
    ]);
  });

  it('requires laterality in every group', () => {
    expect(errorsOf({ ...minimal(), groups: [{ bodySite: { code: '70559009' } }] })).toEqual([
      { path: '/groups/0/laterality', message: 'groups[0].laterality is required' },
    ]);
  });

  it('refuses sites and views outside the supported value sets, naming the code and scheme', () => {
    const doc = { ...minimal(), groups: [{ laterality: 'U', bodySite: { code: '89545001' }, view: { code: '70559009' } }] };
    expect(errorsOf(doc)).toEqual([
      { path: '/groups/0/bodySite/code', message: 'groups[0].bodySite: 89545001 (SCT) is not a supported site' },
      { path: '/groups/0/view/code', message: 'groups[0].view: 70559009 (SCT) is not a supported view' },
    ]);
    expect(errorsOf({ ...minimal(), groups: [{ laterality: 'U', bodySite: { code: '1', scheme: 'LN' } }] }).map((e) => e.path))
      .toEqual(['/groups/0/bodySite/scheme']);
  });

  it('bounds strings by the DICOM value representation they are written into', () => {
    const doc = {
      ...minimal(),
      study: { accessionNumber: 'A'.repeat(17), description: 'D'.repeat(65), studyInstanceUID: '1.2.03' },
      site: { studio: 'S'.repeat(17), institution: 'Tab\there' },
      clinicalNote: 'n'.repeat(10241),
    };
    expect(errorsOf(doc)).toEqual(expect.arrayContaining([
      { path: '/study/accessionNumber', message: 'study.accessionNumber must be at most 16 characters' },
      { path: '/study/description', message: 'study.description must be at most 64 characters' },
      { path: '/study/studyInstanceUID', message: 'study.studyInstanceUID is not a valid DICOM UID' },
      { path: '/site/studio', message: 'site.studio must be at most 16 characters' },
      { path: '/site/institution', message: 'site.institution contains a backslash or control characters' },
      { path: '/clinicalNote', message: 'clinicalNote must be at most 10240 characters' },
    ]));
  });

  it('keeps line breaks in the clinical note but refuses tabs and other control characters (LT)', () => {
    expect(parse({ ...minimal(), clinicalNote: 'Line one\r\nLine two  ' }).context.clinicalNote).toBe('Line one\r\nLine two');
    expect(errorsOf({ ...minimal(), clinicalNote: 'a\tb' })).toEqual([{ path: '/clinicalNote', message: 'clinicalNote contains control characters' }]);
  });

  it('refuses a staff name with more than the five PN components', () => {
    expect(errorsOf({ ...minimal(), photographer: 'A^B^C^D^E^F' })).toEqual([
      { path: '/photographer', message: 'photographer has more than five ^-separated components' },
    ]);
  });

  it('says so when the metadata is not a JSON object', () => {
    expect(errorsOf([])).toEqual(expect.arrayContaining([{ path: '', message: 'metadata must be a JSON object' }]));
  });
});

describe('parseCaptureMetadata: files and groups', () => {
  const groups = (...files: (string[] | undefined)[]) => ({ ...minimal(), groups: files.map((f) => ({ laterality: 'U', ...(f ? { files: f } : {}) })) });

  it('puts each uploaded file in the group that lists it', () => {
    expect(parse(groups(['b.jpg'], ['a.jpg', 'c.jpg']), ['a.jpg', 'b.jpg', 'c.jpg']).groups.map((g) => g.files)).toEqual([['b.jpg'], ['a.jpg', 'c.jpg']]);
  });

  it('refuses a listed file that was not uploaded, and an uploaded file no group lists', () => {
    expect(errorsOf(groups(['a.jpg', 'x.jpg']), ['a.jpg', 'b.jpg'])).toEqual([
      { path: '/groups/0/files/1', message: 'file x.jpg was not uploaded' },
      { path: '/groups', message: 'file b.jpg is not in any group' },
    ]);
  });

  it('refuses a file listed in two groups', () => {
    expect(errorsOf(groups(['a.jpg'], ['a.jpg']), ['a.jpg'])).toEqual([
      { path: '/groups/1/files/0', message: 'file a.jpg is already in groups[0]' },
    ]);
  });

  it('refuses a file listed twice in one group', () => {
    expect(errorsOf(groups(['a.jpg', 'a.jpg']), ['a.jpg'])).toEqual([
      { path: '/groups/0/files', message: 'groups[0].files lists the same file twice' },
    ]);
  });

  it('needs files in every group when there are several', () => {
    expect(errorsOf(groups(['a.jpg'], undefined), ['a.jpg'])).toEqual([
      { path: '/groups/1/files', message: 'groups[1].files is required when there are several groups' },
    ]);
  });

  it('refuses two uploads with the same name, and a capture with no files', () => {
    expect(errorsOf(minimal(), ['a.jpg', 'a.jpg'])).toEqual([{ path: '', message: 'file a.jpg was uploaded more than once' }]);
    expect(errorsOf(minimal(), [])).toEqual([{ path: '', message: 'no image files were uploaded' }]);
    expect(errorsOf({ ...minimal(), groups: [] })).toEqual([{ path: '/groups', message: 'groups must have at least 1 item(s)' }]);
  });
});

describe('parseCaptureMetadata: error reporting', () => {
  it('reports every problem at once, schema and rules together', () => {
    const doc = {
      patient: { nhsNumber: '9434765918', name: { family: 'Smith^' }, birthDate: '2030-01-01' },
      consent: { level: 'record', recordedBy: 'x'.repeat(65) },
      groups: [{ laterality: 'Q', bodySite: { code: '123' }, files: ['z.jpg'] }],
    };
    expect(errorsOf(doc, ['a.jpg']).map((e) => e.path).sort()).toEqual([
      '/consent/recordedBy', '/groups', '/groups/0/bodySite/code', '/groups/0/files/0', '/groups/0/laterality',
      '/patient/birthDate', '/patient/name/family', '/patient/nhsNumber',
    ]);
  });

  it('never quotes the patient\'s name, NHS number or date of birth in a message', () => {
    const doc = {
      patient: { nhsNumber: '943 476 5918', name: { family: 'Featherstonehaugh\u0001', given: ['Ottoline'] }, birthDate: '2031-02-03' },
      consent: { level: 'record' },
      groups: [{ laterality: 'U' }],
    };
    const text = JSON.stringify(errorsOf(doc));
    expect(text).toMatch(/patient\.nhsNumber/);
    for (const secret of ['9434765918', '943 476 5918', 'Featherstonehaugh', 'Ottoline', '2031', '20310203']) expect(text).not.toContain(secret);
  });

  it('gives the only problem as the error detail, or the count when there are several', () => {
    expect(() => parse({ ...minimal(), consent: undefined })).toThrow('consent is required');
    expect(() => parse({})).toThrow(/^3 problems; see errors$/);
  });

  // Found by the fuzz test: a given name that is not a string failed with a TypeError (500).
  it('refuses names of the wrong type as schema errors, not by failing', () => {
    const doc = { ...full(), patient: { ...full().patient, name: { family: 'Smith', given: [7, { a: 1 }, 'Ann'], prefix: 5, suffix: [] } } };
    expect(errorsOf(doc, FULL_FILES).map((e) => e.path)).toEqual(['/patient/name/given/0', '/patient/name/given/1', '/patient/name/prefix', '/patient/name/suffix']);
  });

  // Found by the fuzz test: one error per element of a huge array, each checked against all before it, held
  // the event loop for minutes (100 groups of 2000 file names: over two minutes).
  it.each([
    ['300 000 numbers as given names', (d: any) => { d.patient.name.given = Array(300_000).fill(0); }],
    ['150 000 groups', (d: any) => { d.groups = Array(150_000).fill({}); }],
    ['100 000 file names in a group', (d: any) => { d.groups[0].files = Array.from({ length: 100_000 }, (_, i) => `f${i}.jpg`); }],
    ['100 groups of 2000 file names', (d: any) => { d.groups = Array.from({ length: 100 }, () => ({ laterality: 'R', files: Array.from({ length: 2000 }, (_, i) => `f${i}.jpg`) })); }],
  ])('refuses %s with a bounded list of errors, quickly', (_name, spoil) => {
    const doc = full();
    spoil(doc);
    const started = Date.now();
    const errors = errorsOf(doc, FULL_FILES);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThanOrEqual(MAX_LISTED_SCHEMA_ERRORS + 1 + 100);
  });
});

describe('schemas/capture.schema.json', () => {
  const schema = JSON.parse(readFileSync(new URL('../../../schemas/capture.schema.json', import.meta.url), 'utf8'));

  it('documents every property for capture-station developers', () => {
    const undocumented: string[] = [];
    const walk = (node: any, at: string) => {
      if (!node || typeof node !== 'object') return;
      for (const [name, prop] of Object.entries<any>(node.properties ?? {})) {
        if (!prop.description) undocumented.push(`${at}/${name}`);
        walk(prop, `${at}/${name}`);
      }
      walk(node.items, `${at}/*`);
      for (const [name, def] of Object.entries<any>(node.$defs ?? {})) walk(def, `#/$defs/${name}`);
    };
    walk(schema, '');
    expect(undocumented).toEqual([]);
  });

  it('rejects unknown properties in every object', () => {
    const open: string[] = [];
    const walk = (node: any, at: string) => {
      if (!node || typeof node !== 'object') return;
      if (node.type === 'object' && node.additionalProperties !== false) open.push(at || '/');
      for (const [name, prop] of Object.entries<any>(node.properties ?? {})) walk(prop, `${at}/${name}`);
      walk(node.items, `${at}/*`);
      for (const [name, def] of Object.entries<any>(node.$defs ?? {})) walk(def, `#/$defs/${name}`);
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });
});
