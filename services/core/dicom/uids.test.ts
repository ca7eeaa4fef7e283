import { LUCIDA_IMPLEMENTATION_CLASS_UID, TS, isEncapsulated, isValidUid, newUid } from './uids.js';

describe('isValidUid (PS3.5 §9.1)', () => {
  it.each([
    '1.2.840.10008.1.2.1',
    '0',
    '1.0.2',
    '2.25.303004654702369044960113925763211080699',
    '1.' + '2'.repeat(62), // exactly 64 characters
  ])('accepts %s', (uid) => {
    expect(isValidUid(uid)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['65 characters', '1.' + '2'.repeat(63)],
    ['leading zero in a component', '1.02.3'],
    ['leading zero in the first component', '01.2'],
    ['empty component', '1..2'],
    ['trailing dot', '1.2.'],
    ['leading dot', '.1.2'],
    ['letters', '1.2.a'],
    ['space', '1.2 .3'],
    ['trailing NUL padding', '1.2\0'],
    ['a sign', '-1.2'],
  ])('rejects %s', (_label, uid) => {
    expect(isValidUid(uid)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(isValidUid(undefined)).toBe(false);
    expect(isValidUid(12)).toBe(false);
  });
});

describe('newUid', () => {
  it('makes valid, unique 2.25 UIDs of at most 64 characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const uid = newUid();
      expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(uid.length).toBeLessThanOrEqual(64);
      expect(isValidUid(uid)).toBe(true);
      seen.add(uid);
    }
    expect(seen.size).toBe(2000);
  });

  it('the implementation class UID is a valid 2.25 UID', () => {
    expect(isValidUid(LUCIDA_IMPLEMENTATION_CLASS_UID)).toBe(true);
    expect(LUCIDA_IMPLEMENTATION_CLASS_UID.startsWith('2.25.')).toBe(true);
  });
});

describe('transfer syntaxes', () => {
  it('has the PS3.6 UIDs', () => {
    expect(TS).toMatchObject({
      ImplicitVRLittleEndian: '1.2.840.10008.1.2',
      ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
      DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
      ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
      JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
      JPEGExtended: '1.2.840.10008.1.2.4.51',
      JPEGLossless: '1.2.840.10008.1.2.4.57',
      JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
      JPEGLSLossless: '1.2.840.10008.1.2.4.80',
      JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
      JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
      JPEG2000: '1.2.840.10008.1.2.4.91',
      RLELossless: '1.2.840.10008.1.2.5',
      HTJ2KLossless: '1.2.840.10008.1.2.4.201',
      HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
      HTJ2K: '1.2.840.10008.1.2.4.203',
    });
    for (const uid of Object.values(TS)) expect(isValidUid(uid)).toBe(true);
    expect(new Set(Object.values(TS)).size).toBe(Object.values(TS).length);
  });

  it('tells native from encapsulated syntaxes', () => {
    for (const ts of [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian, TS.DeflatedExplicitVRLittleEndian, TS.ExplicitVRBigEndian]) {
      expect(isEncapsulated(ts)).toBe(false);
    }
    for (const ts of [TS.JPEGBaseline8Bit, TS.JPEGLossless, TS.JPEG2000, TS.RLELossless, TS.HTJ2K, TS.EncapsulatedUncompressedExplicitVRLittleEndian, '1.2.3.4']) {
      expect(isEncapsulated(ts)).toBe(true);
    }
  });
});
