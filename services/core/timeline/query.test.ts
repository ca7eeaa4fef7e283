import { expectLucidaError } from '../../../test/helpers/errors.js';
import { outsideContext, parseTimelineQuery } from './query.js';

const q = (s: string) => new URLSearchParams(s);
const A = { id: '9434765919', issuer: 'NHS' };

describe('parseTimelineQuery', () => {
  it('defaults to the token\'s patient', () => {
    expect(parseTimelineQuery(q(''), A)).toEqual({ patientId: '9434765919', issuer: 'NHS' });
    expect(parseTimelineQuery(q(''), { id: 'H123' })).toEqual({ patientId: 'H123' });
  });

  it('needs a patient from a token without a patient context', () => {
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q(''), undefined), /patient \(PatientID\) is required/);
  });

  it('takes the patient asked for, with or without an issuer', () => {
    expect(parseTimelineQuery(q('patient=H123'), undefined)).toEqual({ patientId: 'H123' });
    expect(parseTimelineQuery(q('patient=H123&issuer=RXH'), A)).toEqual({ patientId: 'H123', issuer: 'RXH' });
    expect(parseTimelineQuery(q('patient=H123&issuer='), undefined)).toEqual({ patientId: 'H123', issuer: '' });
    // An NHS number as people write it, the issuer by name or OID.
    expect(parseTimelineQuery(q('patient=943+476+5919&issuer=nhs'), undefined)).toEqual({ patientId: '9434765919', issuer: 'NHS' });
    expect(parseTimelineQuery(q('patient=9434765919&issuer=2.16.840.1.113883.2.1.4.1'), undefined)).toEqual({ patientId: '9434765919', issuer: 'NHS' });
  });

  it('refuses malformed, repeated and unknown parameters', () => {
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('patient=a%5Cb'), undefined), /PatientID: 1 to 64 characters/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q(`patient=${'1'.repeat(65)}`), undefined), /1 to 64/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('patient='), undefined), /PatientID/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('patient=a&patient=b'), undefined), /patient is given more than once/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('issuer=NHS'), A), /issuer is only used with patient/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('patientID=1'), A), /unknown parameter\(s\) patientID/);
    expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q('patient=H1&issuer=a%5Cb'), undefined), /issuer .*1 to 64 characters/);
  });

  it('refuses an NHS number whose check digit is wrong, however the issuer names the NHS', () => {
    for (const issuer of ['NHS', 'nhs', '2.16.840.1.113883.2.1.4.1']) {
      expectLucidaError('INVALID_QUERY', () => parseTimelineQuery(q(`patient=9434765918&issuer=${issuer}`), undefined), /patient is not a valid NHS number/);
    }
    // Without an issuer, or with the empty one, the PatientID is not taken for an NHS number.
    expect(parseTimelineQuery(q('patient=9434765918'), undefined)).toEqual({ patientId: '9434765918' });
    expect(parseTimelineQuery(q('patient=9434765918&issuer='), undefined)).toEqual({ patientId: '9434765918', issuer: '' });
  });
});

describe('outsideContext', () => {
  it('is true only when a patient-context token names another patient', () => {
    expect(outsideContext({ patientId: '9449305552' }, A)).toBe(true);
    expect(outsideContext({ patientId: '9434765919', issuer: 'RXH' }, A)).toBe(true);
    expect(outsideContext({ patientId: '9434765919' }, A)).toBe(false);
    expect(outsideContext({ patientId: '9434765919', issuer: 'NHS' }, A)).toBe(false);
    expect(outsideContext({ patientId: '9449305552' }, undefined)).toBe(false);
  });
});
