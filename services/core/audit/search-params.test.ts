/** GET /api/audit parameters: every accepted form, and every mistake refused with INVALID_QUERY. */
import { isLucidaError } from '../errors.js';
import { AUDIT_MAX_LIMIT, parseAuditSearch } from './search-params.js';

const refused = (params: Record<string, unknown>): string => {
  try {
    parseAuditSearch(params);
  } catch (err) {
    if (isLucidaError(err) && err.code === 'INVALID_QUERY') return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
};

describe('parseAuditSearch', () => {
  it('defaults to the newest 100 as JSON', () => {
    expect(parseAuditSearch({})).toEqual({ query: { limit: 100, offset: 0 }, format: 'json' });
  });

  it('reads every filter', () => {
    expect(parseAuditSearch({
      patient: '943 476 5919', user: 'clin-1', action: 'read', outcome: 'denied', study: '1.2.826.0.1',
      from: '2026-11-24T09:00:00Z', to: '2026-11-24T10:00:00.5+01:00', limit: '1000', offset: '20', format: 'dicom',
    })).toEqual({
      query: {
        patientId: '9434765919', subject: 'clin-1', action: 'read', outcome: 'denied', studyUID: '1.2.826.0.1',
        from: new Date('2026-11-24T09:00:00Z'), to: new Date('2026-11-24T09:00:00.500Z'), limit: 1000, offset: 20,
      },
      format: 'dicom',
    });
  });

  it.each(['read', 'audit', 'authenticate', 'launch-exchange', 'session-refresh', 'session-end', 'audit-overflow'])(
    'accepts action=%s (every action events are recorded under)', (action) => {
      expect(parseAuditSearch({ action }).query.action).toBe(action);
    });

  it('keeps a local patient number as typed, and takes a date alone as the whole UTC day', () => {
    const { query } = parseAuditSearch({ patient: 'RX 1234', from: '2026-11-24', to: '2026-11-24' });
    expect(query).toMatchObject({ patientId: 'RX 1234', from: new Date('2026-11-24T00:00:00.000Z'), to: new Date('2026-11-24T23:59:59.999Z') });
  });

  it.each([
    [{ who: 'x' }, 'unknown parameter "who"'],
    [{ user: ['a', 'b'] }, 'user may be given once'],
    [{ patient: '' }, 'patient is empty'],
    [{ patient: 'x'.repeat(65) }, 'patient must be'],
    [{ action: 'READ' }, 'action must be one of'],
    [{ outcome: 'ok' }, 'outcome must be one of'],
    [{ study: '1.02.3' }, 'study must be a Study Instance UID'],
    [{ study: `1.${'2'.repeat(64)}` }, 'study must be a Study Instance UID'],
    [{ from: '2026-11-24T09:00:00' }, 'from must be an ISO 8601'],
    [{ from: 'yesterday' }, 'from must be an ISO 8601'],
    [{ to: '2026-02-30' }, 'to is not a calendar date'],
    [{ to: '2026-11-24T24:00:00Z' }, 'to has an invalid time'],
    [{ from: '2026-11-25', to: '2026-11-24' }, 'from is after to'],
    [{ limit: '0' }, 'limit must be'],
    [{ limit: String(AUDIT_MAX_LIMIT + 1) }, 'limit must be'],
    [{ limit: '1e3' }, 'limit must be'],
    [{ offset: '-1' }, 'offset must be'],
    [{ format: 'xml' }, 'format must be one of json, fhir, dicom'],
  ])('refuses %j', (params, message) => {
    expect(refused(params)).toContain(message);
  });
});
