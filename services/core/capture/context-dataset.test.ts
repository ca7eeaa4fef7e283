import { dciodvfy } from '../../../test/fixtures/dciodvfy.js';
import { makeVlPhoto } from '../../../test/fixtures/dicom.js';
import { itWithTools } from '../../../test/fixtures/tools.js';
import type { DicomJson } from '../dicom/json.types.js';
import { parsePart10 } from '../dicom/index.js';
import { photoContextDataset } from './context-dataset.js';
import { parsePhotoDicomJson } from './dicom-json.js';
import { parseCaptureMetadata } from './metadata.js';
import type { CaptureContext, ImageContext, InstanceIds } from './types.js';

const NOW = new Date('2026-11-24T12:00:00Z');
const IDS: InstanceIds = {
  studyInstanceUID: '2.25.101', seriesInstanceUID: '2.25.102', sopInstanceUID: '2.25.103',
  seriesNumber: 2, instanceNumber: 1, studyDate: '20261124', studyTime: '101500', studyId: 'PH1A2B3C4D5E',
};

/** The context of a typical capture, through the capture API. */
function captured(metadata: object, file = 'a.jpg'): { capture: CaptureContext; image: ImageContext } {
  const parsed = parseCaptureMetadata(metadata, [file], { now: NOW });
  return { capture: parsed.context as CaptureContext, image: parsed.groups[0].image };
}

const FOREARM = {
  patient: {
    nhsNumber: '943 476 5919', hospitalNumber: { value: 'RX1234', issuer: 'RXH' },
    name: { family: 'Smith', given: ['Jane', 'Ann'], prefix: 'Mrs' }, birthDate: '1980-02-29', sex: 'F',
  },
  study: { accessionNumber: 'ACC1', description: 'Dermatology photography', referringClinician: 'X^Dr' },
  consent: { level: 'publication', recordedBy: 'A Nurse' },
  photographer: 'GRAPHER^P',
  site: { institution: 'Royal Example Hospital', department: 'Medical Photography', studio: 'Studio 2' },
  clinicalNote: 'Lesion, 6 mm.',
  groups: [{ bodySite: { code: '70559009' }, laterality: 'R', view: { code: '399033003' }, seriesDescription: 'Right forearm' }],
};

describe('photoContextDataset', () => {
  it('writes patient, study, series, instance and clinical attributes with dcmjs keywords', () => {
    const { capture, image } = captured(FOREARM);
    expect(photoContextDataset(capture, image, IDS)).toEqual({
      PatientName: 'Smith^Jane^Ann^Mrs',
      PatientID: '9434765919',
      IssuerOfPatientID: 'NHS',
      IssuerOfPatientIDQualifiersSequence: [{ UniversalEntityID: '2.16.840.1.113883.2.1.4.1', UniversalEntityIDType: 'ISO', IdentifierTypeCode: 'NH' }],
      OtherPatientIDsSequence: [{ PatientID: 'RX1234', IssuerOfPatientID: 'RXH', TypeOfPatientID: 'TEXT' }],
      PatientBirthDate: '19800229',
      PatientSex: 'F',
      StudyInstanceUID: '2.25.101',
      StudyDate: '20261124',
      StudyTime: '101500',
      StudyID: 'PH1A2B3C4D5E',
      AccessionNumber: 'ACC1',
      StudyDescription: 'Dermatology photography',
      ReferringPhysicianName: 'X^Dr',
      SeriesInstanceUID: '2.25.102',
      SeriesNumber: 2,
      SeriesDescription: 'Right forearm',
      SOPInstanceUID: '2.25.103',
      InstanceNumber: 1,
      AnatomicRegionSequence: [{
        CodeValue: '70559009', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Skin of anterior surface of forearm',
        AnatomicRegionModifierSequence: [{ CodeValue: '24028007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Right' }],
      }],
      ImageLaterality: 'R',
      ViewCodeSequence: [{ CodeValue: '399033003', CodingSchemeDesignator: 'SCT', CodeMeaning: 'frontal' }],
      RecognizableVisualFeatures: 'NO',
      OperatorsName: 'GRAPHER^P',
      InstitutionName: 'Royal Example Hospital',
      InstitutionalDepartmentName: 'Medical Photography',
      StationName: 'Studio 2',
      ImageComments: 'Lesion, 6 mm.',
      AcquisitionContextSequence: [],
    });
  });

  it('never writes consent into the instance (the database holds it, and it changes)', () => {
    const { capture, image } = captured(FOREARM);
    const ds = photoContextDataset(capture, image, IDS);
    expect(Object.keys(ds).filter((k) => /Consent|Distribution|ClinicalTrial/.test(k))).toEqual([]);
  });

  it('keeps Type 2 attributes present and empty when unknown, and leaves optional ones out', () => {
    const { capture, image } = captured({ patient: { hospitalNumber: { value: 'RX1', issuer: 'RXH' } }, consent: { level: 'record' }, groups: [{ laterality: 'U' }] });
    expect(photoContextDataset(capture, image, IDS)).toEqual({
      PatientName: '', PatientID: 'RX1', IssuerOfPatientID: 'RXH', PatientBirthDate: '', PatientSex: '',
      StudyInstanceUID: '2.25.101', StudyDate: '20261124', StudyTime: '101500', StudyID: 'PH1A2B3C4D5E',
      AccessionNumber: '', ReferringPhysicianName: '',
      SeriesInstanceUID: '2.25.102', SeriesNumber: 2, SOPInstanceUID: '2.25.103', InstanceNumber: 1,
      ImageLaterality: 'U', RecognizableVisualFeatures: 'NO', AcquisitionContextSequence: [],
    });
  });

  it('adds no laterality modifier for U, and marks facial photographs YES', () => {
    const { capture, image } = captured({ ...FOREARM, groups: [{ bodySite: { code: '73897004' }, laterality: 'U' }] });
    const ds = photoContextDataset(capture, image, IDS);
    expect(ds.AnatomicRegionSequence).toEqual([{ CodeValue: '73897004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Skin of face' }]);
    expect(ds.RecognizableVisualFeatures).toBe('YES');
  });

  it('refuses ids assigned for another study than the one the capture names (a bug in the caller)', () => {
    const { capture, image } = captured({ ...FOREARM, study: { studyInstanceUID: '2.25.999' } });
    expect(() => photoContextDataset(capture, image, IDS)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(photoContextDataset(capture, image, { ...IDS, studyInstanceUID: '2.25.999' }).StudyInstanceUID).toBe('2.25.999');
  });

  it('refuses a value longer than its VR allows, e.g. demographics built by the caller', () => {
    const { capture, image } = captured(FOREARM);
    const bad = { ...capture, patient: { ...capture.patient, name: 'X'.repeat(65) } };
    expect(() => photoContextDataset(bad, image, IDS)).toThrow('PatientName is longer than its value representation allows');
  });
});

describe('the two ways in yield equivalent instances', () => {
  const v = (vr: string, ...Value: unknown[]) => ({ vr, Value });
  const code = (value: string, scheme = 'SCT', meaning = 'client text') =>
    ({ '00080100': v('SH', value), '00080102': v('SH', scheme), '00080104': v('LO', meaning) });

  /** Capture API metadata and the DICOM JSON a STOW-RS client would send for the same photograph. */
  const CASES: [string, object, DicomJson][] = [
    ['NHS and hospital numbers, forearm, right, frontal', FOREARM, {
      '00080016': v('UI', '1.2.840.10008.5.1.4.1.1.77.1.4'),
      '00100010': v('PN', { Alphabetic: 'Smith^Jane^Ann^Mrs' }),
      '00100020': v('LO', '9434765919'), '00100021': v('LO', 'NHS'),
      '00100024': v('SQ', { '00400032': v('UT', '2.16.840.1.113883.2.1.4.1'), '00400033': v('CS', 'ISO'), '00400035': v('CS', 'NH') }),
      '00101002': v('SQ', { '00100020': v('LO', 'RX1234'), '00100021': v('LO', 'RXH'), '00100022': v('CS', 'TEXT') }),
      '00100030': v('DA', '19800229'), '00100040': v('CS', 'F'),
      '00080050': v('SH', 'ACC1'), '00081030': v('LO', 'Dermatology photography'), '00080090': v('PN', { Alphabetic: 'X^Dr' }),
      '0008103E': v('LO', 'Right forearm'),
      '00082218': v('SQ', { ...code('70559009'), '00082220': v('SQ', code('24028007', 'SCT', 'Right')) }),
      '00200062': v('CS', 'R'),
      '00540220': v('SQ', code('399033003')),
      '00081070': v('PN', { Alphabetic: 'GRAPHER^P' }),
      '00080080': v('LO', 'Royal Example Hospital'), '00081040': v('LO', 'Medical Photography'), '00081010': v('SH', 'Studio 2'),
      '00204000': v('LT', 'Lesion, 6 mm.'),
      '00120083': v('SQ', { '00120085': v('CS', 'YES'), '00120084': v('CS', 'PUBLIC_RELEASE') }),
      '7FE00010': { vr: 'OB', BulkDataURI: 'cid:1' },
    }],
    ['hospital number only, face, unpaired', {
      patient: { hospitalNumber: { value: 'RX99', issuer: 'RXH' }, sex: 'U' },
      consent: { level: 'record' },
      groups: [{ bodySite: { code: '73897004' }, laterality: 'U' }],
    }, {
      '00100020': v('LO', 'RX99'), '00100021': v('LO', 'RXH'), '00100040': v('CS', ''), '00100010': { vr: 'PN' },
      '00082218': v('SQ', code('73897004')), '00200062': v('CS', 'U'), '00280302': v('CS', 'NO'),
      '00120083': v('SQ', { '00120085': v('CS', 'NO') }),
      '7FE00010': { vr: 'OB', BulkDataURI: 'cid:1' },
    }],
    ['NHS number as an other ID, FMA site, both sides, tattoo', {
      patient: { nhsNumber: '9449305552', hospitalNumber: { value: 'RX7', issuer: 'RXH' }, birthDate: '2001-12-31', sex: 'O' },
      study: { studyInstanceUID: '2.25.101' },
      consent: { level: 'teaching' },
      groups: [{ bodySite: { code: '49943', scheme: 'FMA' }, laterality: 'B', recognizableVisualFeatures: true }],
    }, {
      '0020000D': v('UI', '2.25.101'),
      '00100020': v('LO', 'RX7'), '00100021': v('LO', 'RXH'),
      '00101002': v('SQ', { '00100020': v('LO', '9449305552'), '00100024': v('SQ', { '00400032': v('UT', '2.16.840.1.113883.2.1.4.1') }) }),
      '00100030': v('DA', '20011231'), '00100040': v('CS', 'O'),
      '00082218': v('SQ', code('49943', 'FMA')), '00200060': v('CS', 'R'), '00200062': v('CS', 'B'), '00280302': v('CS', 'YES'),
      '00120083': v('SQ', { '00120085': v('CS', 'YES'), '00120084': v('CS', 'NAMED_PROTOCOL') }),
      '7FE00010': { vr: 'OB', BulkDataURI: 'cid:1' },
    }],
  ];

  it.each(CASES)('%s: capture API metadata and STOW-RS DICOM JSON give deep-equal datasets', (_name, metadata, dicomJson) => {
    const api = captured(metadata);
    const stow = parsePhotoDicomJson(dicomJson, { now: NOW });
    expect(stow.context.consent.level).toBe(api.capture.consent.level);
    expect(photoContextDataset(stow.context, stow.image, IDS)).toEqual(photoContextDataset(api.capture, api.image, IDS));
  });
});

describe('the dataset in a VL Photographic Image', () => {
  itWithTools(['dciodvfy'], 'passes dciodvfy without errors or warnings, laterality modifier and NHS qualifiers included', async () => {
    const { capture, image } = captured({ ...FOREARM, groups: [{ bodySite: { code: '70559009' }, laterality: 'R' }] });
    const bytes = await makeVlPhoto({ extra: { ...photoContextDataset(capture, image, IDS), SpecificCharacterSet: 'ISO_IR 192' } });
    expect(dciodvfy(bytes).lines).toEqual(['VLPhotographicImage']);
    const m = parsePart10(bytes).metadata;
    expect(m['00082218'].Value?.[0]).toMatchObject({ '00082220': { vr: 'SQ' } });
  }, 30_000);

  itWithTools(['dciodvfy'], 'passes dciodvfy without errors with a View Code Sequence (older dciodvfy only warns that it predates it in the VL Image Module)', async () => {
    const { capture, image } = captured(FOREARM);
    const report = dciodvfy(await makeVlPhoto({ extra: photoContextDataset(capture, image, IDS) }));
    expect(report.lines[0]).toBe('VLPhotographicImage');
    expect(report.errors).toEqual([]);
  }, 30_000);
});
