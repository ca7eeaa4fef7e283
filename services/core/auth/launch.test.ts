import { createHash } from 'node:crypto';
import {
  canonicalIssuer, hashSecret, isWellFormedSecret, MAX_LAUNCH_STUDIES, newSecret, parseCxPatientId, parseExchangeBody,
  parseIidQuery, parseLaunchBody, sessionClaims, sessionPrincipal, viewerLaunchUrl,
} from './launch.js';
import type { LaunchRecord } from './launch-port.js';
import { expectLucidaError } from '../../../test/helpers/errors.js';

const STUDY = '1.2.826.0.1.3680043.8.498.12345';
const user = { id: 'jsmith', name: 'Dr Jane Smith' };

describe('launch secrets', () => {
  it('are 32 random bytes as base64url, stored as their SHA-256', () => {
    const a = newSecret();
    const b = newSecret();
    expect(a.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.value, 'base64url')).toHaveLength(32);
    expect(a.hash).toBe(createHash('sha256').update(a.value).digest('hex'));
    expect(hashSecret(a.value)).toBe(a.hash);
    expect(a.value).not.toBe(b.value);
  });

  it('only a 43-character base64url string can be one', () => {
    expect(isWellFormedSecret(newSecret().value)).toBe(true);
    for (const v of ['', 'short', `${newSecret().value}=`, `${newSecret().value.slice(0, 42)}+`, 42, undefined, null]) {
      expect(isWellFormedSecret(v)).toBe(false);
    }
  });
});

describe('parseLaunchBody', () => {
  it('takes an NHS number, normalised and checked', () => {
    expect(parseLaunchBody({ patient: { id: '943 476 5919', issuer: 'NHS' }, user })).toEqual({
      patient: { id: '9434765919', issuer: 'NHS' }, user,
    });
  });

  it('names the NHS number issuer NHS however it is sent (any case, its OID)', () => {
    for (const issuer of ['nhs', 'NHS', '2.16.840.1.113883.2.1.4.1']) {
      expect(parseLaunchBody({ patient: { id: '9434765919', issuer }, user }).patient).toEqual({ id: '9434765919', issuer: 'NHS' });
    }
    expect(canonicalIssuer('RXX')).toBe('RXX');
  });

  it('takes a hospital number with its issuer as given', () => {
    expect(parseLaunchBody({ patient: { id: 'H123456', issuer: 'RXX' }, user }).patient).toEqual({ id: 'H123456', issuer: 'RXX' });
  });

  it('takes a study UID alone, or with its patient, and a reason', () => {
    expect(parseLaunchBody({ studyUID: STUDY, user: { id: 'jsmith' }, reason: 'clinic review' })).toEqual({
      studyUID: STUDY, user: { id: 'jsmith' }, reason: 'clinic review',
    });
    expect(parseLaunchBody({ studyUID: STUDY, patient: { id: '9434765919', issuer: 'NHS' }, user }).studyUID).toBe(STUDY);
  });

  it.each<[string, unknown, string, RegExp]>([
    ['not an object', [], 'BAD_REQUEST', /JSON object/],
    ['no patient or study', { user }, 'BAD_REQUEST', /patient.*study/],
    ['an NHS number with a wrong check digit', { patient: { id: '9434765918', issuer: 'NHS' }, user }, 'BAD_REQUEST', /NHS number/],
    ['an NHS number of one repeated digit', { patient: { id: '4444444444', issuer: 'NHS' }, user }, 'BAD_REQUEST', /NHS number/],
    ['a patient without issuer', { patient: { id: 'H1' }, user }, 'BAD_REQUEST', /issuer is required/],
    ['an empty issuer', { patient: { id: 'H1', issuer: '' }, user }, 'BAD_REQUEST', /issuer is required/],
    ['a PatientID with a backslash', { patient: { id: 'A\\B', issuer: 'RXX' }, user }, 'BAD_REQUEST', /patient.id/],
    ['a PatientID over 64 characters', { patient: { id: 'A'.repeat(65), issuer: 'RXX' }, user }, 'BAD_REQUEST', /patient.id/],
    ['a numeric PatientID', { patient: { id: 9434765919, issuer: 'NHS' }, user }, 'BAD_REQUEST', /patient.id/],
    ['an unknown patient member', { patient: { id: 'H1', issuer: 'RXX', name: 'X' }, user }, 'BAD_REQUEST', /unknown member.*"name"/],
    ['an invalid study UID', { studyUID: '1.2.03', user }, 'INVALID_UID', /studyUID/],
    ['a study UID that is not text', { studyUID: 12, user }, 'INVALID_UID', /studyUID/],
    ['no user', { studyUID: STUDY }, 'BAD_REQUEST', /user is required/],
    ['a user without id', { studyUID: STUDY, user: { name: 'X' } }, 'BAD_REQUEST', /user.id/],
    ['a user id with a newline', { studyUID: STUDY, user: { id: 'js\nmith' } }, 'BAD_REQUEST', /user.id/],
    ['a user id over 128 characters', { studyUID: STUDY, user: { id: 'a'.repeat(129) } }, 'BAD_REQUEST', /user.id/],
    ['a user name with a control character', { studyUID: STUDY, user: { id: 'js', name: 'Jane\u0007' } }, 'BAD_REQUEST', /user.name/],
    ['a reason over 256 characters', { studyUID: STUDY, user, reason: 'x'.repeat(257) }, 'BAD_REQUEST', /reason/],
    ['an unknown top-level member', { studyUID: STUDY, user, scope: 'all' }, 'BAD_REQUEST', /unknown member.*"scope"/],
  ])('refuses %s', (_what, body, code, message) => {
    expectLucidaError(code, () => parseLaunchBody(body), message);
  });
});

describe('parseExchangeBody', () => {
  it('takes { code } and nothing else', () => {
    expect(parseExchangeBody({ code: 'abc' })).toEqual({ code: 'abc' });
    expectLucidaError('BAD_REQUEST', () => parseExchangeBody({}), /code is required/);
    expectLucidaError('BAD_REQUEST', () => parseExchangeBody({ code: 1 }), /code is required/);
    expectLucidaError('BAD_REQUEST', () => parseExchangeBody({ code: 'abc', patient: 'x' }), /unknown member/);
    expectLucidaError('BAD_REQUEST', () => parseExchangeBody('abc'), /JSON object/);
  });
});

describe('parseCxPatientId (HL7 CX as IHE IID sends it)', () => {
  it.each([
    ['9434765919^^^NHS', { id: '9434765919', issuer: 'NHS' }],
    ['9434765919^^^&2.16.840.1.113883.2.1.4.1&ISO', { id: '9434765919', issuer: 'NHS' }],
    ['9434765919^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH', { id: '9434765919', issuer: 'NHS' }],
    ['H123^^^RXX', { id: 'H123', issuer: 'RXX' }],
    ['H123^^^RXX&1.2.3.4&ISO', { id: 'H123', issuer: 'RXX' }],
    ['H123^^^&1.2.3.4&ISO', { id: 'H123', issuer: '1.2.3.4' }],
  ])('%s → %j', (cx, patient) => {
    expect(parseCxPatientId(cx)).toEqual(patient);
  });

  it('needs the assigning authority, and a valid NHS number when it is the NHS', () => {
    expectLucidaError('BAD_REQUEST', () => parseCxPatientId('H123'), /assigning authority/);
    expectLucidaError('BAD_REQUEST', () => parseCxPatientId('H123^^^'), /assigning authority/);
    expectLucidaError('BAD_REQUEST', () => parseCxPatientId('1234567890^^^NHS'), /NHS number/);
    expectLucidaError('BAD_REQUEST', () => parseCxPatientId('^^^RXX'), /patientID/);
  });
});

describe('parseIidQuery (IHE RAD-106)', () => {
  it('PATIENT takes patientID', () => {
    expect(parseIidQuery({ requestType: 'PATIENT', patientID: '9434765919^^^NHS' })).toEqual({
      requestType: 'PATIENT', patient: { id: '9434765919', issuer: 'NHS' },
    });
  });

  it('STUDY takes a comma-separated studyUID list (duplicates once), or accession numbers, and an optional patientID', () => {
    expect(parseIidQuery({ requestType: 'STUDY', studyUID: `${STUDY},1.2.3,${STUDY}` })).toEqual({
      requestType: 'STUDY', studyUIDs: [STUDY, '1.2.3'],
    });
    expect(parseIidQuery({ requestType: 'STUDY', accessionNumber: 'A1,A2', patientID: 'H1^^^RXX' })).toEqual({
      requestType: 'STUDY', accessionNumbers: ['A1', 'A2'], patient: { id: 'H1', issuer: 'RXX' },
    });
  });

  it('accepts the display parameters of the profile when well formed', () => {
    expect(parseIidQuery({
      requestType: 'PATIENT', patientID: 'H1^^^RXX', viewerType: 'IHE_BIR', diagnosticQuality: 'true', keyImagesOnly: 'false',
      mostRecentResults: '3', lowerDateTime: '2026-01-01T00:00:00', upperDateTime: '2026-02-01', modalitiesInStudy: 'XC', unknownVendorParam: 'x',
    }).requestType).toBe('PATIENT');
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['no requestType', { patientID: 'H1^^^RXX' }, 'INVALID_QUERY', /requestType is required/],
    ['an unknown requestType', { requestType: 'SERIES', patientID: 'H1^^^RXX' }, 'INVALID_QUERY', /PATIENT or STUDY/],
    ['a lower-case requestType', { requestType: 'patient', patientID: 'H1^^^RXX' }, 'INVALID_QUERY', /PATIENT or STUDY/],
    ['PATIENT without patientID', { requestType: 'PATIENT' }, 'INVALID_QUERY', /needs patientID/],
    ['a patientID without authority', { requestType: 'PATIENT', patientID: 'H1' }, 'INVALID_QUERY', /assigning authority/],
    ['STUDY without study', { requestType: 'STUDY' }, 'INVALID_QUERY', /studyUID or accessionNumber/],
    ['STUDY with both lists', { requestType: 'STUDY', studyUID: STUDY, accessionNumber: 'A1' }, 'INVALID_QUERY', /not both/],
    ['an invalid study UID', { requestType: 'STUDY', studyUID: `${STUDY},1.02` }, 'INVALID_UID', /studyUID/],
    ['an empty list item', { requestType: 'STUDY', studyUID: `${STUDY},` }, 'INVALID_QUERY', /empty item/],
    ['too many studies', { requestType: 'STUDY', studyUID: Array.from({ length: MAX_LAUNCH_STUDIES + 1 }, (_, i) => `1.2.${i + 1}`).join(',') }, 'INVALID_QUERY', /more than/],
    ['a repeated parameter', { requestType: ['STUDY', 'STUDY'], studyUID: STUDY }, 'INVALID_QUERY', /more than once/],
    ['diagnosticQuality not a boolean', { requestType: 'STUDY', studyUID: STUDY, diagnosticQuality: 'yes' }, 'INVALID_QUERY', /diagnosticQuality/],
    ['keyImagesOnly not a boolean', { requestType: 'STUDY', studyUID: STUDY, keyImagesOnly: '1' }, 'INVALID_QUERY', /keyImagesOnly/],
    ['a bad viewerType', { requestType: 'STUDY', studyUID: STUDY, viewerType: '<script>' }, 'INVALID_QUERY', /viewerType/],
    ['a bad mostRecentResults', { requestType: 'PATIENT', patientID: 'H1^^^RXX', mostRecentResults: '0' }, 'INVALID_QUERY', /mostRecentResults/],
    ['a bad lowerDateTime', { requestType: 'PATIENT', patientID: 'H1^^^RXX', lowerDateTime: 'yesterday' }, 'INVALID_QUERY', /lowerDateTime/],
  ])('refuses %s', (_what, query, code, message) => {
    expectLucidaError(code, () => parseIidQuery(query), message);
  });
});

describe('session claims', () => {
  const launch: LaunchRecord = {
    id: '5b0f7c7e-8a43-4c83-9d0e-1f2a3b4c5d6e', via: 'epr', patient: { id: '9434765919', issuer: 'NHS' }, studyUIDs: [STUDY],
    user, clientId: 'epr-client', launchedBy: 'epr-system', createdAt: new Date(), sessionExpiresAt: new Date(), now: new Date(),
  };

  it('make the end user the subject, the EPR the client, and carry the patient and launch', () => {
    const claims = sessionClaims(launch, 600);
    expect(claims).toEqual({
      subject: 'jsmith', patient: { id: '9434765919', issuer: 'NHS' }, clientId: 'epr-client', launchId: launch.id, ttlSeconds: 600,
    });
    expect(sessionPrincipal(claims)).toEqual({
      subject: 'jsmith', roles: ['clinician'], patient: { id: '9434765919', issuer: 'NHS' }, clientId: 'epr-client',
      kind: 'session', launchId: launch.id,
    });
  });

  it('put the launch code in the URL fragment', () => {
    expect(viewerLaunchUrl('https://photos.example.nhs.uk', 'abc')).toBe('https://photos.example.nhs.uk/viewer/#launch=abc');
  });
});
