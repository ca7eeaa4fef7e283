import type { DicomJson } from '../dicom/json.types.js';
import { metadataErrorsOf } from '../../../test/helpers/errors.js';
import { MAX_SEQUENCE_ITEMS, parsePhotoDicomJson } from './dicom-json.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
const pn = (alphabetic: string) => v('PN', { Alphabetic: alphabetic });
const code = (value: string, scheme = 'SCT', meaning = 'as the client calls it') =>
  ({ '00080100': v('SH', value), '00080102': v('SH', scheme), '00080104': v('LO', meaning) });
const consent = (flag: string, type?: string) =>
  v('SQ', { '00120085': v('CS', flag), ...(type ? { '00120084': v('CS', type) } : {}) });

/** A DICOM JSON VL Photographic Image as a STOW-RS client sends it, with PixelData as bulk data. */
function photo(changes: Record<string, unknown> = {}): DicomJson {
  const ds: Record<string, unknown> = {
    '00080016': v('UI', '1.2.840.10008.5.1.4.1.1.77.1.4'),
    '00080060': v('CS', 'XC'),
    '00100010': pn('Smith^Jane^Ann^Mrs'),
    '00100020': v('LO', '9434765919'),
    '00100021': v('LO', 'NHS'),
    '00100030': v('DA', '19800229'),
    '00100040': v('CS', 'F'),
    '00082218': v('SQ', code('70559009')),
    '00200062': v('CS', 'R'),
    '00120083': consent('NO'),
    '7FE00010': { vr: 'OB', BulkDataURI: 'cid:photo-1@example' },
    ...changes,
  };
  for (const [k, val] of Object.entries(ds)) if (val === undefined) delete ds[k];
  return ds as DicomJson;
}

const parse = (ds: DicomJson) => parsePhotoDicomJson(ds, { now: NOW });

/** The errors a data set is refused with ([] when it is accepted). */
const errorsOf = (ds: DicomJson) => metadataErrorsOf(() => parse(ds));

describe('parsePhotoDicomJson: mapping a client\'s data set', () => {
  it('maps patient, image and consent attributes to the normalised contexts, with the standard Code Meaning', () => {
    expect(parse(photo())).toEqual({
      context: {
        patient: {
          patientId: '9434765919', issuer: 'NHS', nhsNumber: '9434765919', otherIds: [],
          name: 'Smith^Jane^Ann^Mrs', birthDate: '19800229', sex: 'F',
        },
        study: {},
        consent: { level: 'record', recordedBy: '' },
      },
      image: {
        bodySite: { code: '70559009', scheme: 'SCT', meaning: 'Skin of anterior surface of forearm' },
        laterality: 'R', recognizableVisualFeatures: false,
      },
      ids: {},
      pixelDataBulkDataURI: 'cid:photo-1@example',
      otherBulkData: [],
      ignoredAttributes: ['00080060'],
    });
  });

  it('maps study, series, equipment and operator attributes, and the UIDs and numbers the client chose', () => {
    const parsed = parse(photo({
      '0020000D': v('UI', '1.2.3.4'), '0020000E': v('UI', '1.2.3.4.5'), '00080018': v('UI', '1.2.3.4.5.6'),
      '00200011': v('IS', 7), '00200013': v('IS', '3'),
      '00080050': v('SH', 'ACC1'), '00081030': v('LO', 'Dermatology photography'), '00080090': pn('X^Dr'),
      '0008103E': v('LO', 'Right forearm'), '00081070': v('PN', { Alphabetic: 'GRAPHER^P' }, { Alphabetic: 'ASSIST^A' }),
      '00080080': v('LO', 'Royal Example Hospital'), '00081040': v('LO', 'Medical Photography'), '00081010': v('SH', 'Studio 2'),
      '00204000': v('LT', 'Lesion, 6 mm.\nReview in 3 months.  '),
      '00540220': v('SQ', code('399033003')),
    }));
    expect(parsed.ids).toEqual({ studyInstanceUID: '1.2.3.4', seriesInstanceUID: '1.2.3.4.5', sopInstanceUID: '1.2.3.4.5.6', seriesNumber: 7, instanceNumber: 3 });
    expect(parsed.context).toMatchObject({
      study: { studyInstanceUID: '1.2.3.4', accessionNumber: 'ACC1', description: 'Dermatology photography', referringPhysicianName: 'X^Dr' },
      photographer: 'GRAPHER^P', institutionName: 'Royal Example Hospital', departmentName: 'Medical Photography', stationName: 'Studio 2',
      clinicalNote: 'Lesion, 6 mm.\nReview in 3 months.',
      consent: { level: 'record', recordedBy: 'GRAPHER^P' },
    });
    expect(parsed.image).toMatchObject({ seriesDescription: 'Right forearm', view: { code: '399033003', scheme: 'SCT', meaning: 'frontal' } });
  });

  it('recognises an NHS number by the NHS OID in IssuerOfPatientIDQualifiersSequence as well as by issuer NHS', () => {
    const parsed = parse(photo({
      '00100021': v('LO', 'NHS England'),
      '00100024': v('SQ', { '00400032': v('UT', '2.16.840.1.113883.2.1.4.1'), '00400033': v('CS', 'ISO') }),
    }));
    expect(parsed.context.patient).toMatchObject({ patientId: '9434765919', issuer: 'NHS', nhsNumber: '9434765919' });
  });

  it('makes an NHS number sent as an other ID the PatientID, and the local number an other ID, as the capture API does', () => {
    const parsed = parse(photo({
      '00100020': v('LO', 'RX1234'), '00100021': v('LO', 'RXH'),
      '00101002': v('SQ', { '00100020': v('LO', '943 476 5919'), '00100021': v('LO', 'NHS'), '00100022': v('CS', 'TEXT') }),
    }));
    expect(parsed.context.patient).toMatchObject({ patientId: '9434765919', issuer: 'NHS', otherIds: [{ id: 'RX1234', issuer: 'RXH' }] });
  });

  it('takes a local PatientID with its issuer when there is no NHS number', () => {
    const parsed = parse(photo({ '00100020': v('LO', 'RX1234'), '00100021': v('LO', 'RXH') }));
    expect(parsed.context.patient).toEqual({ patientId: 'RX1234', issuer: 'RXH', otherIds: [], name: 'Smith^Jane^Ann^Mrs', birthDate: '19800229', sex: 'F' });
  });

  it('leaves Type 2 demographics empty when they are sent empty or not at all', () => {
    const parsed = parse(photo({ '00100010': { vr: 'PN' }, '00100030': undefined, '00100040': v('CS', '') }));
    expect(parsed.context.patient).toMatchObject({ name: '', birthDate: '', sex: '' });
  });

  it.each([
    ['NO', undefined, 'record'],
    ['WITHDRAWN', undefined, 'record'],
    ['YES', 'NAMED_PROTOCOL', 'teaching'],
    ['YES', 'RESTRICTED_REUSE', 'teaching'],
    ['YES', 'PUBLIC_RELEASE', 'publication'],
  ])('maps ConsentForDistributionFlag %s with DistributionType %s to consent level %s', (flag, type, level) => {
    expect(parse(photo({ '00120083': consent(flag, type) })).context.consent.level).toBe(level);
  });

  it('takes the most restrictive consent when several items are sent', () => {
    const items = v('SQ', { '00120085': v('CS', 'YES'), '00120084': v('CS', 'PUBLIC_RELEASE') }, { '00120085': v('CS', 'YES'), '00120084': v('CS', 'RESTRICTED_REUSE') });
    expect(parse(photo({ '00120083': items })).context.consent.level).toBe('teaching');
  });

  it('takes laterality from Laterality, or from the anatomic region modifier, when ImageLaterality is absent', () => {
    expect(parse(photo({ '00200062': undefined, '00200060': v('CS', 'L') })).image.laterality).toBe('L');
    const withModifier = v('SQ', { ...code('70559009'), '00082220': v('SQ', code('51440002', 'SCT', 'Bilateral')) });
    expect(parse(photo({ '00200062': undefined, '00082218': withModifier })).image.laterality).toBe('B');
  });

  it('sets RecognizableVisualFeatures for facial sites, and keeps the client\'s YES', () => {
    expect(parse(photo({ '00082218': v('SQ', code('73897004')), '00200062': v('CS', 'U') })).image.recognizableVisualFeatures).toBe(true);
    expect(parse(photo({ '00280302': v('CS', 'YES') })).image.recognizableVisualFeatures).toBe(true);
    expect(parse(photo({ '00280302': v('CS', 'NO'), '00082218': v('SQ', code('73897004')) })).image.recognizableVisualFeatures).toBe(true);
  });

  it('accepts a data set without SOPClassUID, and reports other bulk data and attributes it does not carry', () => {
    const parsed = parse(photo({ '00080016': undefined, '00282000': { vr: 'OB', BulkDataURI: 'cid:icc' }, '00280010': v('US', 480) }));
    expect(parsed.otherBulkData).toEqual([{ tag: '00282000', uri: 'cid:icc' }]);
    expect(parsed.ignoredAttributes.sort()).toEqual(['00080060', '00280010', '00282000']);
  });
});

describe('parsePhotoDicomJson: refused data sets', () => {
  it('requires consent, as the capture API does', () => {
    expect(errorsOf(photo({ '00120083': undefined }))).toEqual([
      { path: '/00120083', message: 'consent is required (ConsentForClinicalTrialUseSequence)' },
    ]);
  });

  it('refuses consent values it cannot map', () => {
    expect(errorsOf(photo({ '00120083': consent('YES') }))).toEqual([
      { path: '/00120083/0/00120084', message: 'DistributionType must be NAMED_PROTOCOL, RESTRICTED_REUSE or PUBLIC_RELEASE' },
    ]);
    expect(errorsOf(photo({ '00120083': consent('MAYBE') })).map((e) => e.path)).toEqual(['/00120083/0/00120085']);
  });

  it('refuses an NHS number with a wrong check digit, wherever it is, without quoting it', () => {
    const errors = [
      ...errorsOf(photo({ '00100020': v('LO', '9434765918') })),
      ...errorsOf(photo({ '00100020': v('LO', 'RX1'), '00100021': v('LO', 'RXH'), '00101002': v('SQ', { '00100020': v('LO', '9434765918'), '00100021': v('LO', 'NHS') }) })),
    ];
    expect(errors).toEqual([
      { path: '/00100020', message: 'PatientID fails the NHS number check digit' },
      { path: '/00101002/0/00100020', message: 'PatientID fails the NHS number check digit' },
    ]);
    expect(JSON.stringify(errors)).not.toContain('9434765918');
  });

  it('refuses two different NHS numbers, a local ID without issuer, and no ID at all', () => {
    expect(errorsOf(photo({ '00101002': v('SQ', { '00100020': v('LO', '9449305552'), '00100021': v('LO', 'NHS') }) })))
      .toEqual([{ path: '/00101002', message: 'the data set has two different NHS numbers' }]);
    expect(errorsOf(photo({ '00100021': undefined }))).toEqual([{ path: '/00100020', message: 'a local PatientID needs IssuerOfPatientID' }]);
    expect(errorsOf(photo({ '00100020': undefined, '00100021': undefined }))).toEqual([{ path: '/00100020', message: 'PatientID is required' }]);
  });

  it('refuses another SOP class, and Pixel Data that is not a BulkDataURI', () => {
    expect(errorsOf(photo({ '00080016': v('UI', '1.2.840.10008.5.1.4.1.1.7'), '7FE00010': { vr: 'OB', InlineBinary: 'AAAA' } }))).toEqual([
      { path: '/00080016', message: 'SOPClassUID must be VL Photographic Image Storage' },
      { path: '/7FE00010', message: 'PixelData must be a BulkDataURI' },
    ]);
    expect(errorsOf(photo({ '7FE00010': undefined })).map((e) => e.path)).toEqual(['/7FE00010']);
  });

  it('refuses anatomic regions and views outside the supported value sets, naming code and scheme', () => {
    expect(errorsOf(photo({ '00082218': v('SQ', code('T-D8500', 'SRT')), '00540220': v('SQ', code('123', 'SCT')) }))).toEqual([
      { path: '/00082218/0/00080100', message: 'AnatomicRegionSequence: T-D8500 (SRT) is not a supported site' },
      { path: '/00540220/0/00080100', message: 'ViewCodeSequence: 123 (SCT) is not a supported view' },
    ]);
  });

  it('requires a laterality, and refuses one that contradicts the region modifier', () => {
    expect(errorsOf(photo({ '00200062': undefined }))).toEqual([{ path: '/00200062', message: 'ImageLaterality is required (R, L, B or U)' }]);
    expect(errorsOf(photo({ '00200062': v('CS', 'X') })).map((e) => e.path)).toEqual(['/00200062']);
    const left = v('SQ', { ...code('70559009'), '00082220': v('SQ', code('7771000', 'SCT', 'Left')) });
    expect(errorsOf(photo({ '00082218': left }))).toEqual([
      { path: '/00082218/0/00082220', message: 'laterality modifier contradicts ImageLaterality' },
    ]);
  });

  it('checks values against their value representation', () => {
    const errors = errorsOf(photo({
      '00100030': v('DA', '19810229'), '00100040': v('CS', 'X'), '00080050': v('SH', 'A'.repeat(17)),
      '0020000D': v('UI', '1.02'), '00200011': v('IS', 1.5), '00100010': pn('A^B^C^D^E^F'), '00081030': v('LO', 'a\\b'),
      '00204000': v('LT', 'tab\there'),
    }));
    expect(errors).toEqual([
      { path: '/00100010', message: 'PatientName has more than five ^-separated components' },
      { path: '/00100030', message: 'PatientBirthDate must be a date, YYYYMMDD' },
      { path: '/00100040', message: 'PatientSex must be M, F, O or empty' },
      { path: '/0020000D', message: 'StudyInstanceUID is not a valid UID' },
      { path: '/00200011', message: 'SeriesNumber must be an integer' },
      { path: '/00080050', message: 'AccessionNumber is longer than 16 characters' },
      { path: '/00081030', message: 'StudyDescription has a backslash or control characters' },
      { path: '/00204000', message: 'ImageComments has control characters' },
    ]);
  });

  it('refuses a birth date in the future', () => {
    expect(errorsOf(photo({ '00100030': v('DA', '20261201') }))).toEqual([{ path: '/00100030', message: 'PatientBirthDate is in the future' }]);
  });

  it('reports every problem at once, in messages short enough for an Error Comment (64 characters)', () => {
    const errors = errorsOf({ '00100020': v('LO', '9434765918'), '00100021': v('LO', 'NHS') } as DicomJson);
    expect(errors.map((e) => e.path)).toEqual(['/7FE00010', '/00100020', '/00120083', '/00200062']);
    for (const e of errors) expect(e.message.length).toBeLessThanOrEqual(64);
  });

  it('refuses malformed DICOM JSON without throwing anything but INVALID_METADATA', () => {
    const errors = errorsOf(photo({ '00100010': 'Smith', '00082218': v('SQ', 'not an item'), '00100040': { vr: 'CS', Value: 'F' } }));
    expect(errors.map((e) => e.path)).toEqual(['/00100010', '/00100040', '/00082218/0']);
  });

  // Found by the fuzz test: 50 000 items took seconds (one error per item, each checked against all before it).
  it('refuses a sequence of more than MAX_SEQUENCE_ITEMS items with one error, at once', () => {
    const many = (n: number, item: unknown) => ({ vr: 'SQ', Value: Array.from({ length: n }, () => item) });
    const started = Date.now();
    const errors = errorsOf(photo({
      '00082218': many(50_000, 'not an item'),
      '00101002': many(50_000, { '00100020': v('LO', 'X'), '00100021': v('LO', 'RXH') }),
    }));
    expect(Date.now() - started).toBeLessThan(500);
    expect(errors).toEqual(expect.arrayContaining([
      { path: '/00082218', message: `AnatomicRegionSequence has more than ${MAX_SEQUENCE_ITEMS} items` },
      { path: '/00101002', message: `OtherPatientIDsSequence has more than ${MAX_SEQUENCE_ITEMS} items` },
    ]));
    expect(errors.length).toBeLessThan(10);
    // The limit itself is allowed.
    expect(errorsOf(photo({ '00101002': many(MAX_SEQUENCE_ITEMS, { '00100020': v('LO', 'X'), '00100021': v('LO', 'RXH') }) }))).toEqual([]);
  });
});
