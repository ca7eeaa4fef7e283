/**
 * The two export formats: which PS3.15 event each Lucida event is (codes.ts), a DICOM Audit Message
 * exactly as written (PS3.15 A.5), every value XML-escaped, and the FHIR R4 AuditEvent's codes,
 * agents and entities.
 */
import { ACTIONS } from '../auth/policy.js';
import { classifyAuditEvent, outcomeIndicator, queryString } from './codes.js';
import { AUDIT_ACTIONS } from './search-params.js';
import { patientCx, toDicomAuditMessage, toDicomAuditMessages, xmlEscape } from './dicom-audit.js';
import { DCM_SYSTEM, NHS_NUMBER_SYSTEM, toFhirAuditEvent, toFhirBundle } from './fhir.js';
import type { StoredAuditEvent } from './types.js';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const base: StoredAuditEvent = {
  id: '7', at: new Date('2026-11-24T09:30:00.123Z'), action: 'read', outcome: 'success', status: 200,
  subject: 'clin-1', roles: ['clinician'], ip: '10.0.0.7', userAgent: 'Viewer/1.0', requestId: 'req-42', method: 'GET',
  route: '/dicomweb/studies', patientIds: ['9434765919'], studyUIDs: [STUDY], seriesUIDs: [], sopInstanceUIDs: [],
  query: { PatientID: '9434765919' }, prevHash: 'a'.repeat(64), hash: 'b'.repeat(64),
};
const ev = (over: Partial<StoredAuditEvent>): StoredAuditEvent => ({ ...base, ...over });

describe('classifyAuditEvent (codes.ts table)', () => {
  const cases: [string, Partial<StoredAuditEvent>, string, string, string[]][] = [
    ['QIDO-RS search', {}, '110112', 'E', []],
    ['QIDO-RS search in a study', { route: '/dicomweb/studies/:study/series/:series/instances' }, '110112', 'E', []],
    ['WADO-RS metadata', { route: '/dicomweb/studies/:study/metadata', query: undefined }, '110103', 'R', []],
    ['WADO-RS instance', { route: '/dicomweb/studies/:study/series/:series/instances/:instance' }, '110103', 'R', []],
    ['WADO-URI', { route: '/wado' }, '110103', 'R', []],
    ['STOW-RS', { action: 'store', method: 'POST', route: '/dicomweb/studies' }, '110104', 'C', []],
    ['capture', { action: 'capture', method: 'POST', route: '/api/captures' }, '110104', 'C', []],
    ['capture status', { action: 'capture', route: '/api/captures/:id' }, '110103', 'R', []],
    ['viewer launch', { action: 'launch', method: 'POST' }, '110110', 'R', []],
    ['annotation saved', { action: 'annotate', method: 'POST', status: 201, route: '/api/instances/:sop/annotations' }, '110110', 'C', []],
    ['annotation removed', { action: 'annotate', method: 'DELETE', status: 204, route: '/api/instances/:sop/annotations/:id' }, '110110', 'D', []],
    ['annotations read', { action: 'read', route: '/api/instances/:sop/annotations' }, '110103', 'R', []],
    ['patient timeline', { action: 'read', route: '/api/timeline' }, '110103', 'R', []],
    ['launch exchange', { action: 'launch-exchange', method: 'POST' }, '110114', 'E', ['110122']],
    ['launch exchange with a bad code (401)', { action: 'launch-exchange', method: 'POST', outcome: 'denied', status: 401 }, '110114', 'E', ['110122']],
    ['session refresh', { action: 'session-refresh', method: 'POST', route: '/api/session/refresh' }, '110114', 'E', ['110122']],
    ['session end', { action: 'session-end', method: 'DELETE', status: 204, route: '/api/session' }, '110114', 'E', ['110123']],
    ['session end without a valid cookie (401)', { action: 'session-end', method: 'DELETE', outcome: 'denied', status: 401 }, '110114', 'E', ['110123']],
    ['address locked out after failed authentications (429)', { action: 'authenticate', outcome: 'denied', status: 429, subject: undefined,
      detail: 'TOO_MANY_REQUESTS' }, '110113', 'E', ['110132']],
    ['a locked-out session refresh (429)', { action: 'authenticate', method: 'POST', outcome: 'denied', status: 429, route: '/api/session/refresh' },
      '110113', 'E', ['110132']],
    ['refused token (401)', { action: 'authenticate', outcome: 'denied', status: 401, subject: undefined }, '110114', 'E', ['110122']],
    ['refused role (403)', { outcome: 'denied', status: 403 }, '110113', 'E', ['110132']],
    ['another patient (404)', { outcome: 'denied', status: 404, route: '/dicomweb/studies/:study' }, '110113', 'E', ['110132']],
    ['audit search', { action: 'audit', route: '/api/audit' }, '110101', 'R', ['ITI-81']],
    ['lost audit events', { action: 'audit-overflow', method: 'NONE', status: 0, outcome: 'failure' }, '110113', 'E', ['110133']],
    ['a future delete', { action: 'delete', method: 'DELETE' }, '110103', 'D', []],
  ];
  it.each(cases)('%s', (_name, over, eventId, action, types) => {
    const kind = classifyAuditEvent(ev(over));
    expect([kind.eventId.code, kind.action, kind.eventTypes.map((t) => t.code)]).toEqual([eventId, action, types]);
  });

  it('classifies every action that is not a data action deliberately, never as images accessed or deleted by its HTTP method', () => {
    const others = AUDIT_ACTIONS.filter((a) => !(ACTIONS as readonly string[]).includes(a));
    expect(others).toEqual(expect.arrayContaining(['authenticate', 'launch-exchange', 'session-refresh', 'session-end', 'audit-overflow']));
    for (const action of others) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const kind = classifyAuditEvent(ev({ action, method, route: '/api/x', query: undefined }));
        expect([action, method, kind.eventId.code]).not.toEqual([action, method, '110103']);
        expect(kind.eventTypes).not.toHaveLength(0);
      }
    }
  });

  it('maps outcomes to EventOutcomeIndicator: 0 success, 4 refused / not found / client error, 8 server error', () => {
    expect(['success', 'denied', 'not-found'].map((outcome) => outcomeIndicator(ev({ outcome: outcome as never })))).toEqual(['0', '4', '4']);
    expect(outcomeIndicator(ev({ outcome: 'failure', status: 400 }))).toBe('4');
    expect(outcomeIndicator(ev({ outcome: 'failure', status: 503 }))).toBe('8');
  });

  it('gives the query string as sent, repeated keys repeated', () => {
    expect(queryString(ev({ query: { PatientID: '9434765919', includefield: ['00100010', '00100030'] } })))
      .toBe('PatientID=9434765919&includefield=00100010&includefield=00100030');
  });
});

describe('DICOM Audit Message (PS3.15 A.5)', () => {
  it('writes a QIDO search as a Query message: participants, audit source, patient in CX form, study, base64 query', () => {
    expect(toDicomAuditMessage(base)).toBe([
      '<AuditMessage>',
      '<EventIdentification EventActionCode="E" EventDateTime="2026-11-24T09:30:00.123Z" EventOutcomeIndicator="0">',
      '<EventID csd-code="110112" codeSystemName="DCM" originalText="Query"/></EventIdentification>',
      '<ActiveParticipant UserID="clin-1" UserIsRequestor="true" NetworkAccessPointID="10.0.0.7" NetworkAccessPointTypeCode="2">',
      '<RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/>',
      '<RoleIDCode csd-code="clinician" codeSystemName="Lucida" originalText="clinician"/></ActiveParticipant>',
      '<ActiveParticipant UserID="Lucida" UserIsRequestor="false">',
      '<RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/></ActiveParticipant>',
      '<AuditSourceIdentification AuditSourceID="Lucida">',
      '<AuditSourceTypeCode csd-code="4" codeSystemName="DCM" originalText="Application Server process tier in a multi-tier system"/>',
      '</AuditSourceIdentification>',
      '<ParticipantObjectIdentification ParticipantObjectID="9434765919^^^&amp;2.16.840.1.113883.2.1.4.1&amp;ISO" ',
      'ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1">',
      '<ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/></ParticipantObjectIdentification>',
      `<ParticipantObjectIdentification ParticipantObjectID="${STUDY}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">`,
      '<ParticipantObjectIDTypeCode csd-code="110180" codeSystemName="DCM" originalText="Study Instance UID"/></ParticipantObjectIdentification>',
      '<ParticipantObjectIdentification ParticipantObjectID="1.2.840.10008.5.1.4.1.2.2.1" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">',
      '<ParticipantObjectIDTypeCode csd-code="110181" codeSystemName="DCM" originalText="SOP Class UID"/>',
      `<ParticipantObjectQuery>${Buffer.from('PatientID=9434765919').toString('base64')}</ParticipantObjectQuery>`,
      '</ParticipantObjectIdentification>',
      '</AuditMessage>',
    ].join(''));
  });

  it('names the end user, the OAuth2 client and the refusal of a system call', () => {
    const xml = toDicomAuditMessage(ev({
      subject: 'epr-system', clientId: 'epr-client', onBehalfOf: 'dr.jones', roles: ['epr'], outcome: 'denied', status: 404,
      route: '/dicomweb/studies/:study/metadata', patientIds: [], query: undefined, detail: 'out of patient context',
    }));
    expect(xml).toContain('<EventIdentification EventActionCode="E" EventDateTime="2026-11-24T09:30:00.123Z" EventOutcomeIndicator="4">'
      + '<EventID csd-code="110113" codeSystemName="DCM" originalText="Security Alert"/>'
      + '<EventTypeCode csd-code="110132" codeSystemName="DCM" originalText="Use of Restricted Function"/>'
      + '<EventOutcomeDescription>out of patient context</EventOutcomeDescription></EventIdentification>');
    expect(xml).toContain('<ActiveParticipant UserID="dr.jones" UserIsRequestor="true"/>');
    expect(xml).toContain('<ActiveParticipant UserID="epr-client" UserIsRequestor="false"><RoleIDCode csd-code="110150" codeSystemName="DCM" originalText="Application"/>');
    expect(xml).not.toContain('ParticipantObjectQuery');
  });

  it('writes an audit search as Audit Log Used with the audit log and the query', () => {
    const xml = toDicomAuditMessage(ev({ action: 'audit', route: '/api/audit', roles: ['admin'], query: { patient: '9434765919' } }));
    expect(xml).toContain('<EventID csd-code="110101" codeSystemName="DCM" originalText="Audit Log Used"/>'
      + '<EventTypeCode csd-code="ITI-81" codeSystemName="IHE Transactions" originalText="Retrieve ATNA Audit Event"/>');
    expect(xml).toContain('<ParticipantObjectIdentification ParticipantObjectID="/api/audit" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="13">'
      + '<ParticipantObjectIDTypeCode csd-code="12" codeSystemName="RFC-3881" originalText="URI"/>'
      + `<ParticipantObjectQuery>${Buffer.from('patient=9434765919').toString('base64')}</ParticipantObjectQuery>`);
  });

  it('escapes every value: markup, quotes, line breaks, and characters XML cannot hold', () => {
    expect(xmlEscape(`<a href="x">&'\n\u0001\uD800`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#10;\uFFFD\uFFFD');
    const xml = toDicomAuditMessage(ev({
      subject: '"/><Evil>', onBehalfOf: 'a&b', roles: ['<r>'], ip: '::1"', detail: ']]><x>', patientIds: ['RX<1>&2'], query: undefined,
      route: '/dicomweb/studies/:study/metadata',
    }));
    expect(xml).not.toMatch(/<Evil|<x>|<r>|<1>/);
    expect(xml).toContain('UserID="&quot;/&gt;&lt;Evil&gt;"');
    expect(xml).toContain('<EventOutcomeDescription>]]&gt;&lt;x&gt;</EventOutcomeDescription>');
    // A local number is not an NHS number: no assigning authority, HL7 delimiters escaped.
    expect(patientCx('RX^1&2')).toBe('RX\\S\\1\\T\\2');
    expect(xml).toContain('ParticipantObjectID="RX&lt;1&gt;\\T\\2"');
  });

  it('wraps several messages in one document that says when the search was cut short', () => {
    const doc = toDicomAuditMessages([base, ev({ id: '8' })], { truncated: true });
    expect(doc.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<AuditMessages truncated="true">\n<AuditMessage>')).toBe(true);
    expect(doc.match(/<AuditMessage>/g)).toHaveLength(2);
    expect(doc.endsWith('</AuditMessage>\n</AuditMessages>\n')).toBe(true);
  });
});

describe('FHIR R4 AuditEvent', () => {
  it('codes a QIDO search: type 110112, action E, patient by NHS number, study by urn:dicom:uid, the query in base64', () => {
    const r = toFhirAuditEvent(base) as any;
    expect(r).toMatchObject({
      resourceType: 'AuditEvent', id: '7', type: { system: DCM_SYSTEM, code: '110112', display: 'Query' }, action: 'E',
      recorded: '2026-11-24T09:30:00.123Z', outcome: '0',
      source: { observer: { display: 'Lucida' }, type: [{ code: '4' }] },
    });
    expect(r.subtype).toBeUndefined();
    expect(r.agent[0]).toEqual({
      type: { coding: [{ system: DCM_SYSTEM, code: '110153', display: 'Source Role ID' }] }, role: [{ text: 'clinician' }],
      who: { identifier: { value: 'clin-1' } }, requestor: true, network: { address: '10.0.0.7', type: '2' },
    });
    expect(r.agent[1]).toMatchObject({ who: { display: 'Lucida' }, requestor: false });
    expect(r.entity).toEqual([
      expect.objectContaining({ what: { identifier: { system: NHS_NUMBER_SYSTEM, value: '9434765919' } }, role: expect.objectContaining({ code: '1' }), type: expect.objectContaining({ code: '1' }) }),
      expect.objectContaining({ what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${STUDY}` } }, role: expect.objectContaining({ code: '3' }), type: expect.objectContaining({ code: '2' }) }),
      expect.objectContaining({ role: expect.objectContaining({ code: '24' }), query: Buffer.from('PatientID=9434765919').toString('base64') }),
    ]);
  });

  it('codes a 401 as User Authentication / Login with no one identified, and a system call on behalf of a user', () => {
    const refused = toFhirAuditEvent(ev({ action: 'authenticate', outcome: 'denied', status: 401, subject: undefined, roles: [], patientIds: [],
      studyUIDs: [], query: undefined, route: '/dicomweb/*' })) as any;
    expect([refused.type.code, refused.subtype[0].code, refused.action, refused.outcome]).toEqual(['110114', '110122', 'E', '4']);
    expect(refused.agent[0]).toEqual({ requestor: true, network: { address: '10.0.0.7', type: '2' } });
    expect(refused.entity).toBeUndefined();
    const onBehalf = toFhirAuditEvent(ev({ subject: 'epr-system', clientId: 'epr-client', onBehalfOf: 'dr.jones' })) as any;
    expect(onBehalf.agent[0].extension).toEqual([{ url: 'http://hl7.org/fhir/StructureDefinition/auditevent-OnBehalfOf', valueReference: { identifier: { value: 'dr.jones' } } }]);
    expect(onBehalf.agent[1]).toEqual({ type: { coding: [{ system: DCM_SYSTEM, code: '110150', display: 'Application' }] }, who: { identifier: { value: 'epr-client' } }, requestor: false });
  });

  it('codes a session end as User Authentication / Logout, and a lockout (429) as a Security Alert', () => {
    const logout = toFhirAuditEvent(ev({ action: 'session-end', method: 'DELETE', status: 204, route: '/api/session', patientIds: [],
      studyUIDs: [], query: undefined })) as any;
    expect([logout.type.code, logout.subtype, logout.action, logout.outcome])
      .toEqual(['110114', [{ system: DCM_SYSTEM, code: '110123', display: 'Logout' }], 'E', '0']);
    const lockout = toFhirAuditEvent(ev({ action: 'authenticate', outcome: 'denied', status: 429, subject: undefined, roles: [], patientIds: [],
      studyUIDs: [], query: undefined, route: '/dicomweb/*', detail: 'TOO_MANY_REQUESTS' })) as any;
    expect([lockout.type.code, lockout.subtype[0].code, lockout.action, lockout.outcome]).toEqual(['110113', '110132', 'E', '4']);
    expect(toDicomAuditMessage(ev({ action: 'authenticate', outcome: 'denied', status: 429, subject: undefined, patientIds: [], studyUIDs: [],
      query: undefined, route: '/dicomweb/*', detail: 'TOO_MANY_REQUESTS' })))
      .toContain('<EventID csd-code="110113" codeSystemName="DCM" originalText="Security Alert"/>'
        + '<EventTypeCode csd-code="110132" codeSystemName="DCM" originalText="Use of Restricted Function"/>'
        + '<EventOutcomeDescription>TOO_MANY_REQUESTS</EventOutcomeDescription>');
  });

  it('identifies a patient that is not an NHS number by value alone', () => {
    const r = toFhirAuditEvent(ev({ patientIds: ['RX1234'], query: undefined, route: '/wado' })) as any;
    expect(r.entity[0].what).toEqual({ identifier: { value: 'RX1234' } });
  });

  it('bundles the events as a searchset, with a next link when cut short', () => {
    const b = toFhirBundle([base], { truncated: true, nextUrl: '/api/audit?offset=100' }) as any;
    expect(b).toMatchObject({ resourceType: 'Bundle', type: 'searchset', link: [{ relation: 'next', url: '/api/audit?offset=100' }] });
    expect(b.entry).toEqual([{ resource: toFhirAuditEvent(base), search: { mode: 'match' } }]);
    expect((toFhirBundle([], { truncated: false }) as any).link).toBeUndefined();
  });
});
