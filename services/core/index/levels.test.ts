import { attributeLevel, splitByLevel } from './levels.js';

describe('information levels (PS3.3 modules)', () => {
  it.each([
    ['00100010', 'patient'], // PatientName
    ['00100021', 'patient'], // IssuerOfPatientID
    ['00101002', 'patient'], // OtherPatientIDsSequence
    ['00120062', 'patient'], // PatientIdentityRemoved
    ['00101010', 'study'], // PatientAge: Patient Study module
    ['00101030', 'study'], // PatientWeight
    ['00380500', 'study'], // PatientState
    ['0020000D', 'study'],
    ['00080050', 'study'],
    ['00080051', 'study'], // IssuerOfAccessionNumberSequence
    ['00080061', 'study'], // ModalitiesInStudy
    ['00080005', 'study'], // SpecificCharacterSet (shared)
    ['00080060', 'series'],
    ['00080070', 'series'], // Manufacturer: General Equipment
    ['00400275', 'series'], // RequestAttributesSequence
    ['00400244', 'series'],
    ['00080018', 'instance'],
    ['00200062', 'instance'], // ImageLaterality
    ['00091001', 'instance'], // private
  ])('%s is %s-level', (tag, level) => expect(attributeLevel(tag)).toBe(level));

  it('splits an instance into patient, study and series attributes, sharing the character set', () => {
    const a = (v: string) => ({ vr: 'LO', Value: [v] });
    const split = splitByLevel({
      '00080005': a('ISO_IR 192'), '00100020': a('P1'), '00101010': a('054Y'), '0020000D': a('1.2'),
      '00080060': a('XC'), '00080018': a('1.2.3'), '00080201': a('+0100'),
    });
    expect(split).toEqual({
      patient: { '00080005': a('ISO_IR 192'), '00080201': a('+0100'), '00100020': a('P1') },
      study: { '00080005': a('ISO_IR 192'), '00080201': a('+0100'), '00101010': a('054Y'), '0020000D': a('1.2') },
      series: { '00080005': a('ISO_IR 192'), '00080201': a('+0100'), '00080060': a('XC') },
    });
  });
});
