/**
 * Audit events as FHIR R4 AuditEvent resources in a searchset Bundle, for a Trust's FHIR audit
 * repository (GET /api/audit?format=fhir). The event kinds and codes are codes.ts's (DICOM DCM, as
 * FHIR R4 AuditEvent.type binds them); agents and entities follow IHE BALP's patterns:
 * - agent: the requestor (token subject, requestor true, its roles, the client's network address),
 *   the OAuth2 client when it is not the subject (type 110150 Application), and Lucida itself; the
 *   end user a system client acted for is the auditevent-OnBehalfOf extension of the requestor;
 * - source: observer "Lucida", type 4 (Application Server);
 * - entity: each patient (identifier system https://fhir.nhs.uk/Id/nhs-number for an NHS number,
 *   type 1 Person, role 1 Patient), each study (identifier system urn:dicom:uid, value urn:oid:<UID>,
 *   type 2 System Object, role 3 Report), and for searches the query (type 2, role 24 Query, base64).
 */
import { isValidNhsNumber } from '../capture/nhs-number.js';
import { AUDIT_SOURCE, CODES, classifyAuditEvent, outcomeIndicator, queryString, STUDY_ROOT_FIND, type AuditCode } from './codes.js';
import type { StoredAuditEvent } from './types.js';

export const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
export const IHE_EVENT_TYPE_SYSTEM = 'urn:ihe:event-type-code';
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const ON_BEHALF_OF = 'http://hl7.org/fhir/StructureDefinition/auditevent-OnBehalfOf';

export interface Coding { system: string; code: string; display?: string }

const coding = (c: AuditCode): Coding =>
  ({ system: c.scheme === 'DCM' ? DCM_SYSTEM : IHE_EVENT_TYPE_SYSTEM, code: c.code, display: c.meaning });

/** A patient's identifier: the NHS number system for a valid NHS number, the bare value otherwise. */
export function patientIdentifier(id: string): { system?: string; value: string } {
  return isValidNhsNumber(id) ? { system: NHS_NUMBER_SYSTEM, value: id } : { value: id };
}

export function toFhirAuditEvent(e: StoredAuditEvent): Record<string, unknown> {
  const kind = classifyAuditEvent(e);
  const agent: Record<string, unknown>[] = [];
  agent.push(omitEmpty({
    type: kind.requestorRole ? { coding: [coding(kind.requestorRole)] } : undefined,
    role: e.roles?.length ? e.roles.map((r) => ({ text: r })) : undefined,
    who: e.subject ? { identifier: { value: e.subject } } : undefined,
    requestor: true,
    network: e.ip ? { address: e.ip, type: '2' } : undefined,
    extension: e.onBehalfOf ? [{ url: ON_BEHALF_OF, valueReference: { identifier: { value: e.onBehalfOf } } }] : undefined,
  }));
  if (e.clientId && e.clientId !== e.subject) {
    agent.push({ type: { coding: [coding(CODES.application)] },
      who: { identifier: { value: e.clientId } }, requestor: false });
  }
  agent.push(omitEmpty({
    type: kind.archiveRole ? { coding: [coding(kind.archiveRole)] } : undefined,
    who: { display: AUDIT_SOURCE }, requestor: false,
  }));

  const entity: Record<string, unknown>[] = [];
  for (const id of e.patientIds) {
    entity.push({
      what: { identifier: patientIdentifier(id) },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  for (const uid of e.studyUIDs) {
    entity.push({
      what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${uid}` } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '3', display: 'Report' },
    });
  }
  if (kind.isQuery) {
    entity.push(omitEmpty({
      what: e.action === 'read' ? { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${STUDY_ROOT_FIND}` } } : undefined,
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      description: e.route,
      query: Buffer.from(queryString(e), 'utf8').toString('base64'),
    }));
  }

  return omitEmpty({
    resourceType: 'AuditEvent',
    id: e.id,
    type: coding(kind.eventId),
    subtype: kind.eventTypes.length ? kind.eventTypes.map(coding) : undefined,
    action: kind.action,
    recorded: e.at.toISOString(),
    outcome: outcomeIndicator(e),
    outcomeDesc: e.detail ?? (e.outcome === 'success' ? undefined : `${e.outcome} (HTTP ${e.status})`),
    agent,
    source: { observer: { display: AUDIT_SOURCE }, type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }] },
    entity: entity.length ? entity : undefined,
  });
}

/** A searchset Bundle of the events, in the order given (newest first from search). */
export function toFhirBundle(events: StoredAuditEvent[], opts: { truncated: boolean; nextUrl?: string }): Record<string, unknown> {
  return omitEmpty({
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    link: opts.truncated && opts.nextUrl ? [{ relation: 'next', url: opts.nextUrl }] : undefined,
    entry: events.map((e) => ({ resource: toFhirAuditEvent(e), search: { mode: 'match' } })),
  });
}

/** FHIR forbids empty elements: drop undefined members. */
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
