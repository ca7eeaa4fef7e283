/**
 * Audit events as DICOM Audit Messages (PS3.15 A.5, the Audit Trail Message Format Profile) for a
 * Trust's ATNA audit repository (GET /api/audit?format=dicom). One <AuditMessage> per event, in a
 * root <AuditMessages> element (A.5 defines single messages; a search answers with several).
 *
 * - EventIdentification: EventActionCode, EventDateTime, EventOutcomeIndicator; EventID and
 *   EventTypeCode from codes.ts; EventOutcomeDescription when there is a detail.
 * - ActiveParticipant: the requestor (UserID the token subject, or "unauthenticated"; its roles as
 *   RoleIDCode; NetworkAccessPointID the client address, type 2 = IP address), the end user a system
 *   client acted for (also a requestor), the OAuth2 client (110150 Application), and Lucida.
 * - AuditSourceIdentification: AuditSourceID "Lucida", type 4 (application server process).
 * - ParticipantObjectIdentification: each patient (type 1, role 1, ID type code 2 "Patient Number",
 *   the ID in HL7 CX form, with the NHS number's assigning authority OID for an NHS number), each
 *   study (type 2, role 3, ID type code 110180 Study Instance UID), and for a search the query
 *   (ParticipantObjectQuery, base64): QIDO-RS as the Study Root FIND SOP Class (A.5.3.10, 110181),
 *   the audit search as the audit log itself (A.5.3.1: type 2, role 13 Security Resource).
 * Everything is XML-escaped; characters XML 1.0 cannot carry are replaced.
 */
import { isValidNhsNumber, NHS_NUMBER_ISSUER_OID } from '../capture/nhs-number.js';
import { AUDIT_SOURCE, CODES, classifyAuditEvent, outcomeIndicator, queryString, STUDY_ROOT_FIND, type AuditCode } from './codes.js';
import type { StoredAuditEvent } from './types.js';

// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text for an XML attribute value or element content. */
export function xmlEscape(s: string): string {
  return s.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"'\t\n\r]/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
  })[c]!);
}

type Attrs = Record<string, string | undefined>;

function element(name: string, attrs: Attrs, children: string[] = []): string {
  const a = Object.entries(attrs).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}="${xmlEscape(v!)}"`).join('');
  return children.length ? `<${name}${a}>${children.join('')}</${name}>` : `<${name}${a}/>`;
}

const coded = (name: string, c: AuditCode): string =>
  element(name, { 'csd-code': c.code, codeSystemName: c.scheme, originalText: c.meaning });

/** PatientID in HL7 v2 CX form (A.5.2: ParticipantObjectID of a patient), with the NHS number's issuer. */
export function patientCx(id: string): string {
  const escaped = id.replace(/[\\^&~|]/g, (c) => ({ '\\': '\\E\\', '^': '\\S\\', '&': '\\T\\', '~': '\\R\\', '|': '\\F\\' })[c]!);
  return isValidNhsNumber(id) ? `${escaped}^^^&${NHS_NUMBER_ISSUER_OID}&ISO` : escaped;
}

export function toDicomAuditMessage(e: StoredAuditEvent): string {
  const kind = classifyAuditEvent(e);
  const parts: string[] = [];

  parts.push(element('EventIdentification', {
    EventActionCode: kind.action, EventDateTime: e.at.toISOString(), EventOutcomeIndicator: outcomeIndicator(e),
  }, [
    coded('EventID', kind.eventId),
    ...kind.eventTypes.map((t) => coded('EventTypeCode', t)),
    ...(e.detail ? [`<EventOutcomeDescription>${xmlEscape(e.detail)}</EventOutcomeDescription>`] : []),
  ]));

  const roleCodes = [
    ...(kind.requestorRole ? [coded('RoleIDCode', kind.requestorRole)] : []),
    ...(e.roles ?? []).map((r) => element('RoleIDCode', { 'csd-code': r, codeSystemName: 'Lucida', originalText: r })),
  ];
  parts.push(element('ActiveParticipant', {
    UserID: e.subject ?? 'unauthenticated', UserIsRequestor: 'true',
    NetworkAccessPointID: e.ip, NetworkAccessPointTypeCode: e.ip ? '2' : undefined,
  }, roleCodes));
  if (e.onBehalfOf) parts.push(element('ActiveParticipant', { UserID: e.onBehalfOf, UserIsRequestor: 'true' }));
  if (e.clientId && e.clientId !== e.subject) {
    parts.push(element('ActiveParticipant', { UserID: e.clientId, UserIsRequestor: 'false' }, [coded('RoleIDCode', CODES.application)]));
  }
  parts.push(element('ActiveParticipant', { UserID: AUDIT_SOURCE, UserIsRequestor: 'false' },
    kind.archiveRole ? [coded('RoleIDCode', kind.archiveRole)] : []));

  parts.push(element('AuditSourceIdentification', { AuditSourceID: AUDIT_SOURCE }, [
    element('AuditSourceTypeCode', { 'csd-code': '4', codeSystemName: 'DCM', originalText: 'Application Server process tier in a multi-tier system' }),
  ]));

  for (const id of e.patientIds) {
    parts.push(element('ParticipantObjectIdentification', {
      ParticipantObjectID: patientCx(id), ParticipantObjectTypeCode: '1', ParticipantObjectTypeCodeRole: '1',
    }, [element('ParticipantObjectIDTypeCode', { 'csd-code': '2', codeSystemName: 'RFC-3881', originalText: 'Patient Number' })]));
  }
  for (const uid of e.studyUIDs) {
    parts.push(element('ParticipantObjectIdentification', {
      ParticipantObjectID: uid, ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '3',
    }, [coded('ParticipantObjectIDTypeCode', CODES.studyInstanceUid)]));
  }
  if (kind.isQuery) {
    const query = `<ParticipantObjectQuery>${Buffer.from(queryString(e), 'utf8').toString('base64')}</ParticipantObjectQuery>`;
    parts.push(e.action === 'audit'
      ? element('ParticipantObjectIdentification', {
        ParticipantObjectID: e.route ?? '/api/audit', ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '13',
      }, [element('ParticipantObjectIDTypeCode', { 'csd-code': '12', codeSystemName: 'RFC-3881', originalText: 'URI' }), query])
      : element('ParticipantObjectIdentification', {
        ParticipantObjectID: STUDY_ROOT_FIND, ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '3',
      }, [coded('ParticipantObjectIDTypeCode', CODES.sopClassUid), query]));
  }
  return element('AuditMessage', {}, parts);
}

export function toDicomAuditMessages(events: StoredAuditEvent[], opts: { truncated: boolean }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AuditMessages truncated="${opts.truncated}">\n${
    events.map((e) => `${toDicomAuditMessage(e)}\n`).join('')}</AuditMessages>\n`;
}
